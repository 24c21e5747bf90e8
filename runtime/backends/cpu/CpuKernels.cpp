#include "backends/cpu/CpuKernels.h"

#include "backends/cpu/FloatDotAvx512.h"
#include "backends/cpu/KVConvert.h"
#include "backends/cpu/ParamChecks.h"
#include "backends/cpu/QuantLinear.h"

#include "engine/PagedKVCache.h"
#include "support/Error.h"
#include "support/ThreadPool.h"

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <optional>

namespace llmrt::cpu {
namespace reg = llm::registry;
using llm::fail;

// ---------------------------------------------------------------------------------------------
// KernelParams

KernelParams KernelParams::fromPlan(const fb::KernelCall &call) {
  KernelParams p;
  if (!call.params())
    return p;
  for (const fb::Param *param : *call.params()) {
    std::string_view name = param->name()->string_view();
    switch (param->kind()) {
    case fb::ParamKind::Int:
      p.setInt(name, param->int_value());
      break;
    case fb::ParamKind::Float:
      p.setFloat(name, param->float_value());
      break;
    case fb::ParamKind::String:
      p.setString(name, param->string_value() ? param->string_value()->str() : std::string());
      break;
    case fb::ParamKind::FloatArray: {
      std::vector<float> a;
      if (param->float_array())
        a.assign(param->float_array()->begin(), param->float_array()->end());
      p.setFloatArray(name, std::move(a));
      break;
    }
    }
  }
  return p;
}

KernelParams::Value &KernelParams::slot(std::string_view name, reg::ParamType type) {
  for (Value &v : values_)
    if (v.name == name) {
      v.type = type;
      return v;
    }
  Value &v = values_.emplace_back();
  v.name = std::string(name);
  v.type = type;
  return v;
}

KernelParams &KernelParams::setInt(std::string_view name, int64_t v) {
  slot(name, reg::ParamType::Int).i = v;
  return *this;
}
KernelParams &KernelParams::setFloat(std::string_view name, double v) {
  slot(name, reg::ParamType::Float).f = v;
  return *this;
}
KernelParams &KernelParams::setString(std::string_view name, std::string v) {
  slot(name, reg::ParamType::String).s = std::move(v);
  return *this;
}
KernelParams &KernelParams::setFloatArray(std::string_view name, std::vector<float> v) {
  slot(name, reg::ParamType::FloatArray).array = std::move(v);
  return *this;
}

const KernelParams::Value *KernelParams::find(std::string_view name) const {
  for (const Value &v : values_)
    if (v.name == name)
      return &v;
  return nullptr;
}

const KernelParams::Value &KernelParams::get(std::string_view name, reg::ParamType type) const {
  const Value *v = find(name);
  if (!v)
    fail("parameter '{}' is missing", name);
  if (v->type != type)
    fail("parameter '{}' is of kind {}, expected {}", name, reg::paramTypeName(v->type),
         reg::paramTypeName(type));
  return *v;
}

int64_t KernelParams::getInt(std::string_view name) const {
  return get(name, reg::ParamType::Int).i;
}
double KernelParams::getFloat(std::string_view name) const {
  return get(name, reg::ParamType::Float).f;
}
double KernelParams::getFloat(std::string_view name, double fallback) const {
  return has(name) ? getFloat(name) : fallback;
}
const std::string &KernelParams::getString(std::string_view name) const {
  return get(name, reg::ParamType::String).s;
}
std::span<const float> KernelParams::getFloatArray(std::string_view name) const {
  return get(name, reg::ParamType::FloatArray).array;
}

namespace {

// ---------------------------------------------------------------------------------------------
// Numeric building blocks. Each has one fixed evaluation order, which is what makes every kernel
// batch invariant.

// Lanes [0, r) set, for masked loads of a tail of r < 8 elements.
__m256i tailMask(int64_t r) {
  alignas(32) static const int32_t table[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                                0,  0,  0,  0,  0,  0,  0,  0};
  return _mm256_loadu_si256(reinterpret_cast<const __m256i *>(table + 8 - r));
}

// Sum of the 8 lanes in a fixed order: (l0+l4) + (l1+l5) + ... pairwise.
float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// The one dot-product schedule of the backend: per pair of rows, a single 8-lane FMA accumulator
// runs over k in blocks of 8 (the tail through a masked load), then hsum. A tile computes TR x TN
// such dots at once for register reuse; every dot gets the same bits whatever the tile shape.
template <int TR, int TN>
void dotTile(const float *const x[TR], const float *const w[TN], int64_t k, float out[TR][TN],
             int64_t wStep = 8) {
  __m256 acc[TR][TN];
  for (int i = 0; i < TR; ++i)
    for (int j = 0; j < TN; ++j)
      acc[i][j] = _mm256_setzero_ps();
  int64_t kk = 0, wo = 0; // wo: where W's chunk of columns [kk, kk + 8) starts (wStep apart)
  for (; kk + 8 <= k; kk += 8, wo += wStep) {
    __m256 wv[TN];
    for (int j = 0; j < TN; ++j)
      wv[j] = _mm256_loadu_ps(w[j] + wo);
    for (int i = 0; i < TR; ++i) {
      __m256 xv = _mm256_loadu_ps(x[i] + kk);
      for (int j = 0; j < TN; ++j)
        acc[i][j] = _mm256_fmadd_ps(xv, wv[j], acc[i][j]);
    }
  }
  if (kk < k) {
    __m256i m = tailMask(k - kk);
    __m256 wv[TN];
    for (int j = 0; j < TN; ++j)
      wv[j] = _mm256_maskload_ps(w[j] + wo, m);
    for (int i = 0; i < TR; ++i) {
      __m256 xv = _mm256_maskload_ps(x[i] + kk, m);
      for (int j = 0; j < TN; ++j)
        acc[i][j] = _mm256_fmadd_ps(xv, wv[j], acc[i][j]);
    }
  }
  for (int i = 0; i < TR; ++i)
    for (int j = 0; j < TN; ++j)
      out[i][j] = hsum(acc[i][j]);
}

float dot(const float *a, const float *b, int64_t k) {
  const float *x[1] = {a};
  const float *w[1] = {b};
  float out[1][1];
  dotTile<1, 1>(x, w, k, out);
  return out[0][0];
}

// Sum of squares with the dot schedule (so it is vectorized and has a fixed order).
float sumSquares(const float *x, int64_t n) { return dot(x, x, n); }

float sum(const float *x, int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    acc = _mm256_add_ps(acc, _mm256_loadu_ps(x + i));
  if (i < n)
    acc = _mm256_add_ps(acc, _mm256_maskload_ps(x + i, tailMask(n - i)));
  return hsum(acc);
}

using Act = Activation;

Act parseAct(const std::string &name) {
  if (name == "silu")
    return Act::Silu;
  if (name == "gelu")
    return Act::Gelu;
  if (name == "gelu_tanh")
    return Act::GeluTanh;
  fail("parameter 'act' is '{}', expected silu, gelu or gelu_tanh", name);
}

// GELU forms (SiLU is siluGlu's, vectorized).
template <Act A> float activate(float g) {
  static_assert(A != Act::Silu);
  if constexpr (A == Act::Gelu)
    return 0.5f * g * (1.0f + std::erf(g * static_cast<float>(M_SQRT1_2)));
  else
    return 0.5f * g * (1.0f + std::tanh(0.7978845608028654f * (g + 0.044715f * g * g * g)));
}

// Below this many multiply-adds (or elements) a kernel runs on the calling thread: waking the
// team costs more than the work, and on a loaded machine a descheduled team member stalls the
// barrier. The choice never changes results (no reduction spans threads).
constexpr int64_t kMinParallelWork = int64_t{1} << 15;
bool worthThreads(int64_t work) { return work >= kMinParallelWork; }

// body(i) for i in [0, n), on the thread pool when `parallel` (ThreadPool.h: each thread a
// contiguous share, claimed in pieces of at most maxChunk indices when it is positive).
template <class Body> void forEach(int64_t n, bool parallel, Body &&body, int64_t maxChunk = 0) {
  ThreadPool::global().parallelFor(
      n,
      [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i)
          body(i);
      },
      parallel, maxChunk);
}

// Scratch that only grows: one per thread, reused across calls and steps.
float *scratch(std::vector<float> &buf, size_t n) {
  if (buf.size() < n)
    buf.resize(std::max(n, buf.size() * 2));
  return buf.data();
}

const float *in(const KernelArgs &a, int i) { return static_cast<const float *>(a.inputs[i]); }
const int32_t *inI32(const KernelArgs &a, int i) {
  return static_cast<const int32_t *>(a.inputs[i]);
}
float *out(const KernelArgs &a) { return static_cast<float *>(a.output); }


KernelShapes rowwise(int numInputs, int64_t width) {
  KernelShapes s;
  s.inputWidths.assign(numInputs, width);
  s.inputDtypes.assign(numInputs, fb::DType::F32);
  s.inputRows.assign(numInputs, fb::Rows::Tokens);
  s.outputWidths = {width};
  return s;
}

// ---------------------------------------------------------------------------------------------
// embedding(ids) W[vocab, hidden] -> [T, hidden]

KernelShapes embeddingShapes(const KernelParams &p, int numWeights) {
  if (weightFormat(p))
    return quantEmbeddingShapes(p, numWeights);
  int64_t hidden = positiveInt(p, "hidden"), vocab = positiveInt(p, "vocab");
  KernelShapes s;
  s.inputWidths = {1};
  s.inputDtypes = {fb::DType::I32};
  s.inputRows = {fb::Rows::Tokens};
  s.outputWidths = {hidden};
  s.weights = {{vocab, hidden}};
  s.weightLayouts = {floatLayoutName(floatLayout(p, vocab, hidden))};
  return s;
}

void embeddingRun(const KernelArgs &a) {
  int64_t hidden = a.params.getInt("hidden"), vocab = a.params.getInt("vocab");
  const int32_t *ids = inI32(a, 0);
  for (int64_t t = 0; t < a.tokens; ++t)
    if (ids[t] < 0 || ids[t] >= vocab)
      fail("embedding: token id {} at row {} is outside the vocabulary [0, {})", ids[t], t, vocab);
  if (weightFormat(a.params))
    return quantEmbeddingRun(a);
  float *y = out(a);
  const bool rows8 = floatLayout(a.params, vocab, hidden) == FloatLayout::Rows8;
  forEach(a.tokens, worthThreads(a.tokens * hidden), [&](int64_t t) {
    if (rows8)
      llm::floattiles::rowFromRows8(a.weights[0], hidden, ids[t], y + t * hidden);
    else
      std::memcpy(y + t * hidden, a.weights[0] + ids[t] * hidden, hidden * sizeof(float));
  });
}

// ---------------------------------------------------------------------------------------------
// rms_norm(x) w: y = x / sqrt(mean(x^2) + eps) * w; layer_norm(x) w, b

KernelShapes normShapes(const KernelParams &p, int numWeights) {
  int64_t hidden = positiveInt(p, "hidden");
  p.getFloat("eps");
  KernelShapes s = rowwise(1, hidden);
  s.weights.assign(numWeights, {hidden});
  return s;
}

// As Hugging Face computes it in fp32: mean of squares, rsqrt, then x * r * w. y may alias x.
void rmsNormRow(const float *x, const float *w, int64_t n, float eps, float *y) {
  float r = 1.0f / std::sqrt(sumSquares(x, n) / static_cast<float>(n) + eps);
  for (int64_t i = 0; i < n; ++i)
    y[i] = (x[i] * r) * w[i];
}

void rmsNormRun(const KernelArgs &a) {
  int64_t n = a.params.getInt("hidden");
  float eps = static_cast<float>(a.params.getFloat("eps"));
  const float *w = a.weights[0];
  forEach(a.tokens, worthThreads(a.tokens * n),
          [&](int64_t t) { rmsNormRow(in(a, 0) + t * n, w, n, eps, out(a) + t * n); });
}

void layerNormRun(const KernelArgs &a) {
  int64_t n = a.params.getInt("hidden");
  float eps = static_cast<float>(a.params.getFloat("eps"));
  const float *w = a.weights[0], *b = a.weights[1];
  forEach(a.tokens, worthThreads(a.tokens * n), [&](int64_t t) {
    static thread_local std::vector<float> buf;
    float *d = scratch(buf, n);
    const float *x = in(a, 0) + t * n;
    float *y = out(a) + t * n;
    float mean = sum(x, n) / static_cast<float>(n);
    for (int64_t i = 0; i < n; ++i)
      d[i] = x[i] - mean;
    float r = 1.0f / std::sqrt(sumSquares(d, n) / static_cast<float>(n) + eps);
    for (int64_t i = 0; i < n; ++i)
      y[i] = (d[i] * r) * w[i] + b[i];
  });
}

// ---------------------------------------------------------------------------------------------
// linear(x) W[N, K] (+ b[N]) -> x W^T + b

// 3 x 4 accumulators + 4 W vectors fill the 16 ymm registers (x is an FMA memory operand).
constexpr int64_t kTileRows = 3;   // x rows per register tile
constexpr int64_t kTileCols = 4;   // W rows per register tile
// A single x row (decode) takes 8 W rows per tile: 8 accumulators, and each x vector loaded once
// for 8 rows (measured: F32 decode of the default model 8-12% faster than with 4).
constexpr int64_t kDecodeCols = 8;
// Defaults of the tunables block_cols (W rows per thread task, staying in L1/L2 across x rows)
// and block_rows (x rows per pass over a column block); the registry lists the other choices.
constexpr int64_t kBlockCols = 16;
constexpr int64_t kBlockRows = 24;

// A float weight matrix of k columns as the tiles read it: where row r starts, and the distance
// between its chunks of 8 columns (row_major: 8; rows8: plan/FloatTiles.h).
struct WeightRows {
  const float *w;
  int64_t k;
  FloatLayout layout;
  const float *row(int64_t r) const {
    return layout == FloatLayout::Rows8 ? w + llm::floattiles::rowStart(r, k) : w + r * k;
  }
  int64_t step() const {
    return layout == FloatLayout::Rows8 ? llm::floattiles::kChunkStride : llm::floattiles::kChunk;
  }
};

// Register tiles per float path: x rows and weight rows per tile, and weight rows per tile for a
// single x row (decode). AVX-512 (FloatDotAvx512.h) holds two weight rows per register.
struct TileSteps {
  int64_t rows, cols, decodeCols;
};
constexpr TileSteps kAvx2Tiles{kTileRows, kTileCols, kDecodeCols};
constexpr TileSteps kAvx512Tiles{avx512::kMaxTileRows, 8, avx512::kMaxTileCols};
constexpr TileSteps tileSteps(FloatIsa isa) {
  return isa == FloatIsa::Avx512 ? kAvx512Tiles : kAvx2Tiles;
}
// W rows per tile for a pass over x rows [t0, t1).
int64_t tileCols(TileSteps s, int64_t t0, int64_t t1) {
  return t1 - t0 == 1 ? s.decodeCols : s.cols;
}

// The AVX2 path's tile: tr <= kTileRows and tn <= kTileCols, or tr = 1 and tn <= kDecodeCols.
void avx2Tile(const float *const xr[], int64_t tr, const float *const wr[], int64_t tn, int64_t k,
              int64_t wStep, float *res, int64_t ldr) {
  if (tr == 1 && tn > kTileCols) {
    float one[1][kDecodeCols];
    dotTile<1, kDecodeCols>(xr, wr, k, one, wStep);
    std::copy(one[0], one[0] + kDecodeCols, res);
  } else if (tr == 1) {
    float one[1][kTileCols];
    dotTile<1, kTileCols>(xr, wr, k, one, wStep);
    std::copy(one[0], one[0] + kTileCols, res);
  } else {
    float tile[kTileRows][kTileCols];
    dotTile<kTileRows, kTileCols>(xr, wr, k, tile, wStep);
    for (int64_t i = 0; i < kTileRows; ++i)
      std::copy(tile[i], tile[i] + kTileCols, res + i * ldr);
  }
}

// One register tile of `isa`: x rows [t, t+tr) against W rows [wRow, wRow + tn), into output
// columns [n, n + tn) (bias[n + j] added), tr and tn within the path's TileSteps. Out-of-range
// rows and columns repeat the last valid one (computed, not stored), so the tile shape is fixed;
// every tile shape of every path gives each dot the same bits.
void matmulTile(const float *x, int64_t ldx, const int32_t *rowIdx, int64_t t, int64_t tr,
                const WeightRows &w, int64_t wRow, int64_t n, int64_t tn, const float *bias,
                float *o, int64_t ldo, FloatIsa isa) {
  constexpr int64_t R = avx512::kMaxTileRows, C = avx512::kMaxTileCols;
  static_assert(R >= kTileRows && C >= kDecodeCols);
  // The pointers the path's largest tiles read (its tiles read no more).
  const TileSteps steps = tileSteps(isa);
  const float *xr[R], *wr[C];
  for (int64_t i = 0; i < steps.rows; ++i) {
    int64_t row = t + std::min(i, tr - 1);
    xr[i] = x + (rowIdx ? rowIdx[row] : row) * ldx;
  }
  for (int64_t j = 0; j < steps.decodeCols; ++j)
    wr[j] = w.row(wRow + std::min(j, tn - 1));
  float res[R][C];
  if (isa == FloatIsa::Avx512)
    avx512::dotTile(xr, tr, wr, tn, w.k, w.step(), res[0], C);
  else
    avx2Tile(xr, tr, wr, tn, w.k, w.step(), res[0], C);
  for (int64_t i = 0; i < tr; ++i)
    for (int64_t j = 0; j < tn; ++j)
      o[(t + i) * ldo + n + j] = res[i][j] + (bias ? bias[n + j] : 0.0f);
}

// How a product of n weight rows is cut for `isa`: the path's tiles, the tunables raised to at
// least one tile, and the thread tasks (column blocks).
struct GemmCuts {
  TileSteps steps;
  int64_t blockCols, blockRows, numBlocks;
};
GemmCuts gemmCuts(FloatIsa isa, GemmBlocks blocks, int64_t n) {
  const TileSteps steps = tileSteps(isa);
  const int64_t cols = std::max<int64_t>(steps.cols, blocks.cols);
  return {steps, cols, std::max<int64_t>(steps.rows, blocks.rows), (n + cols - 1) / cols};
}

} // namespace

void matmulTransposedB(const float *x, int64_t ldx, const int32_t *rowIdx, int64_t rows,
                       const float *w, int64_t n, int64_t k, const float *bias, float *o,
                       GemmBlocks blocks, FloatLayout layout, FloatIsa isa) {
  const WeightRows wr{w, k, layout};
  const auto [steps, blockCols, blockRows, numBlocks] = gemmCuts(isa, blocks, n);
  // Threads split output features: each (row, feature) is one dot with the fixed schedule, so the
  // result does not depend on how rows or features are split (nor on the block sizes).
  forEach(numBlocks, worthThreads(rows * n * k), [&](int64_t b) {
    int64_t n0 = b * blockCols, n1 = std::min(n, n0 + blockCols);
    for (int64_t t0 = 0; t0 < rows; t0 += blockRows) {
      int64_t t1 = std::min(rows, t0 + blockRows), cols = tileCols(steps, t0, t1);
      for (int64_t j = n0; j < n1; j += cols)
        for (int64_t t = t0; t < t1; t += steps.rows)
          matmulTile(x, ldx, rowIdx, t, std::min(steps.rows, t1 - t), wr, j, j,
                     std::min(cols, n1 - j), bias, o, n, isa);
    }
  });
}

void matmulGlu(const float *x, int64_t rows, const float *w, int64_t n, int64_t k,
               const float *bias, Activation act, float *o, GemmBlocks blocks,
               FloatLayout layout, FloatIsa isa) {
  const WeightRows wr{w, k, layout};
  const auto [steps, blockCols, blockRows, numBlocks] = gemmCuts(isa, blocks, n);
  // The gate of feature j is row j of W, its up row n + j. Both tiles go to a per-thread buffer
  // laid out like the unfused [gate | up] row, so every dot has the bits of the unfused linear.
  const int64_t ld = 2 * blockCols;
  forEach(numBlocks, worthThreads(rows * 2 * n * k), [&](int64_t b) {
    static thread_local std::vector<float> buf;
    float *gu = scratch(buf, static_cast<size_t>(blockRows) * ld);
    int64_t n0 = b * blockCols, n1 = std::min(n, n0 + blockCols), width = n1 - n0;
    for (int64_t t0 = 0; t0 < rows; t0 += blockRows) {
      int64_t t1 = std::min(rows, t0 + blockRows), cols = tileCols(steps, t0, t1);
      for (int64_t j = 0; j < width; j += cols)
        for (int64_t t = t0; t < t1; t += steps.rows) {
          int64_t tr = std::min(steps.rows, t1 - t), tn = std::min(cols, width - j);
          // Output column j of the tile lands in gu (rows shifted by t0): gate rows n0 + j, up
          // rows n + n0 + j.
          matmulTile(x, k, nullptr, t, tr, wr, n0 + j, j, tn, bias ? bias + n0 : nullptr,
                     gu - t0 * ld, ld, isa);
          matmulTile(x, k, nullptr, t, tr, wr, n + n0 + j, j, tn,
                     bias ? bias + n + n0 : nullptr, gu - t0 * ld + blockCols, ld, isa);
        }
      for (int64_t t = t0; t < t1; ++t)
        applyGlu(act, gu + (t - t0) * ld, gu + (t - t0) * ld + blockCols, o + t * n + n0, width);
    }
  });
}

namespace {

GemmBlocks gemmBlocks(const KernelParams &p) {
  GemmBlocks b;
  if (p.has("block_cols"))
    b.cols = p.getInt("block_cols");
  if (p.has("block_rows"))
    b.rows = p.getInt("block_rows");
  if (b.cols <= 0 || b.cols > 4096 || b.rows <= 0 || b.rows > 4096)
    fail("tunables block_cols {} and block_rows {} must be in [1, 4096]", b.cols, b.rows);
  return b;
}

KernelShapes linearShapes(const KernelParams &p, int numWeights) {
  if (weightFormat(p))
    return quantLinearShapes(p, numWeights);
  int64_t k = positiveInt(p, "in_features"), n = positiveInt(p, "out_features");
  int64_t hasBias = linearBias(p, numWeights);
  gemmBlocks(p);
  int64_t rows = linearEpilogue(p) ? 2 * n : n; // a glu epilogue reads [Wg; Wu]
  // rows8 with a glu: each half is whole tiles.
  const FloatLayout layout = floatLayout(p, n, k);
  KernelShapes s = rowwise(1, k);
  s.outputWidths = {n};
  s.weights = {{rows, k}};
  s.weightLayouts = {floatLayoutName(layout)};
  if (hasBias) {
    s.weights.push_back({rows});
    s.weightLayouts.push_back(llm::floattiles::kRowMajorLayout);
  }
  return s;
}

void linearRun(const KernelArgs &a) {
  if (weightFormat(a.params))
    return quantLinearRun(a);
  int64_t k = a.params.getInt("in_features"), n = a.params.getInt("out_features");
  const float *bias = a.params.getInt("has_bias") ? a.weights[1] : nullptr;
  const FloatLayout layout = floatLayout(a.params, n, k);
  if (std::optional<Act> act = linearEpilogue(a.params))
    matmulGlu(in(a, 0), a.tokens, a.weights[0], n, k, bias, *act, out(a), gemmBlocks(a.params),
              layout);
  else
    matmulTransposedB(in(a, 0), k, nullptr, a.tokens, a.weights[0], n, k, bias, out(a),
                      gemmBlocks(a.params), layout);
}

// ---------------------------------------------------------------------------------------------
// logits(x, logit_rows) W[vocab, hidden] -> [R, vocab]

KernelShapes logitsShapes(const KernelParams &p, int numWeights) {
  if (weightFormat(p))
    return quantLogitsShapes(p, numWeights);
  int64_t hidden = positiveInt(p, "hidden"), vocab = positiveInt(p, "vocab");
  KernelShapes s;
  s.inputWidths = {hidden, 1};
  s.inputDtypes = {fb::DType::F32, fb::DType::I32};
  s.inputRows = {fb::Rows::Tokens, fb::Rows::LogitRows};
  s.outputWidths = {vocab};
  s.weights = {{vocab, hidden}};
  s.weightLayouts = {floatLayoutName(floatLayout(p, vocab, hidden))};
  return s;
}

void logitsRun(const KernelArgs &a) {
  int64_t hidden = a.params.getInt("hidden"), vocab = a.params.getInt("vocab");
  const int32_t *rows = inI32(a, 1);
  for (int64_t r = 0; r < a.logitRows; ++r)
    if (rows[r] < 0 || rows[r] >= a.tokens)
      fail("logits: logit row {} is {}, outside the step's {} tokens", r, rows[r], a.tokens);
  if (weightFormat(a.params))
    return quantLogitsRun(a);
  matmulTransposedB(in(a, 0), hidden, rows, a.logitRows, a.weights[0], vocab, hidden, nullptr,
                    out(a), gemmBlocks(a.params), floatLayout(a.params, vocab, hidden));
}

// ---------------------------------------------------------------------------------------------
// rope(x, positions): rotate-half over the first rotary_dim = 2 * len(inv_freq) dims of each head

KernelShapes ropeShapes(const KernelParams &p, int) {
  int64_t heads = positiveInt(p, "num_heads"), headDim = positiveInt(p, "head_dim");
  int64_t rotary = 2 * static_cast<int64_t>(p.getFloatArray("inv_freq").size());
  if (rotary == 0 || rotary > headDim)
    fail("parameter 'inv_freq' has {} entries, expected 1 to head_dim/2 = {}", rotary / 2,
         headDim / 2);
  p.getFloat("attention_factor", 1.0);
  KernelShapes s = rowwise(2, heads * headDim);
  s.inputWidths[1] = 1;
  s.inputDtypes[1] = fb::DType::I32;
  return s;
}

// cos (cs[0, half)) and sin (cs[half, 2 half)) of one position, as torch computes them: the
// angle is a float32 product, cos and sin in float32.
void ropeAngles(int32_t pos, std::span<const float> invFreq, float factor, float *cs) {
  int64_t half = static_cast<int64_t>(invFreq.size());
  for (int64_t i = 0; i < half; ++i) {
    float angle = static_cast<float>(pos) * invFreq[i];
    cs[i] = std::cos(angle) * factor;
    cs[half + i] = std::sin(angle) * factor;
  }
}

// Rotates `heads` heads of one row (rotate-half form); y may alias x.
void ropeRow(const float *x, float *y, int64_t heads, int64_t headDim, const float *cs,
             int64_t half) {
  for (int64_t h = 0; h < heads; ++h) {
    const float *xh = x + h * headDim;
    float *yh = y + h * headDim;
    for (int64_t i = 0; i < half; ++i) {
      float x0 = xh[i], x1 = xh[i + half], c = cs[i], s = cs[half + i];
      yh[i] = x0 * c - x1 * s;
      yh[i + half] = x1 * c + x0 * s;
    }
    if (y != x)
      std::memcpy(yh + 2 * half, xh + 2 * half, (headDim - 2 * half) * sizeof(float));
  }
}

void ropeRun(const KernelArgs &a) {
  int64_t heads = a.params.getInt("num_heads"), headDim = a.params.getInt("head_dim");
  std::span<const float> invFreq = a.params.getFloatArray("inv_freq");
  float factor = static_cast<float>(a.params.getFloat("attention_factor", 1.0));
  int64_t half = static_cast<int64_t>(invFreq.size()), width = heads * headDim;
  const int32_t *pos = inI32(a, 1);
  forEach(a.tokens, worthThreads(a.tokens * width), [&](int64_t t) {
    static thread_local std::vector<float> buf;
    float *cs = scratch(buf, 2 * half);
    ropeAngles(pos[t], invFreq, factor, cs);
    ropeRow(in(a, 0) + t * width, out(a) + t * width, heads, headDim, cs, half);
  });
}

// ---------------------------------------------------------------------------------------------
// attention(q, k, v): write k, v to the paged cache at the step's slots, then causal (optionally
// sliding-window) grouped-query attention of each token over its own sequence's blocks.

// Where q, k and v rows are: three inputs (attention) or one packed [q | k | v] row
// (attention_qkv).
struct QkvLayout {
  const float *q, *k, *v;
  int64_t stride; // elements between the rows of one token and the next
};

QkvLayout qkvLayout(const KernelArgs &a, bool packed, int64_t qWidth, int64_t kvWidth) {
  if (!packed)
    return {in(a, 0), in(a, 1), in(a, 2), -1};
  const float *x = in(a, 0);
  return {x, x + qWidth, x + qWidth + kvWidth, qWidth + 2 * kvWidth};
}

template <bool Packed> KernelShapes attentionShapes(const KernelParams &p, int) {
  int64_t layer = p.getInt("layer");
  if (layer < 0)
    fail("parameter 'layer' is {}, expected >= 0", layer);
  int64_t heads = positiveInt(p, "num_heads"), kvHeads = positiveInt(p, "num_kv_heads");
  int64_t headDim = positiveInt(p, "head_dim");
  if (heads % kvHeads != 0)
    fail("num_heads {} is not a multiple of num_kv_heads {}", heads, kvHeads);
  p.getFloat("scale");
  if (p.getInt("sliding_window") < 0)
    fail("parameter 'sliding_window' is {}, expected >= 0", p.getInt("sliding_window"));
  if (p.has("inv_freq")) {
    int64_t rotary = 2 * static_cast<int64_t>(p.getFloatArray("inv_freq").size());
    if (rotary == 0 || rotary > headDim)
      fail("parameter 'inv_freq' has {} entries, expected 1 to head_dim/2 = {}", rotary / 2,
           headDim / 2);
  }
  KernelShapes s;
  if (Packed) {
    s = rowwise(1, (heads + 2 * kvHeads) * headDim);
    s.outputWidths = {heads * headDim};
  } else {
    s = rowwise(3, heads * headDim);
    s.inputWidths[1] = s.inputWidths[2] = kvHeads * headDim;
  }
  s.kvLayer = static_cast<int>(layer);
  s.kvRowWidth = kvHeads * headDim;
  s.kvHeadDim = headDim;
  return s;
}

// The head rows of kv head 0 (PagedKVCache::headRow) of positions [lo, hi] of one sequence,
// through its block table (no division per position: decode attention walks every position of the
// context).
void gatherRows(const int32_t *table, int64_t blockSize, int64_t numKvHeads, int32_t lo, int32_t hi,
                int64_t *rows) {
  int64_t block = lo / blockSize, offset = lo % blockSize;
  for (int32_t j = lo; j <= hi; ++j) {
    rows[j - lo] = int64_t(table[block]) * numKvHeads * blockSize + offset;
    if (++offset == blockSize) {
      offset = 0;
      ++block;
    }
  }
}

// A position in an fp8 head row: its codes from here on, and the row's scale (KVConvert.h) as
// load8 applies it: times `factor` = 2^120 * scale, or, where that would overflow (scale >=
// 2^7), times 2^120 and then times `scale`.
struct Fp8Ptr {
  const uint8_t *codes;
  float scale, factor;
  bool twoSteps;
  static Fp8Ptr of(const uint8_t *codes, float scale) {
    const bool two = !(std::fabs(scale) < 0x1p7f);
    return {codes, scale, two ? 0x1p120f : scale * 0x1p120f, two};
  }
  Fp8Ptr operator+(int64_t d) const { return {codes + d, scale, factor, twoSteps}; }
  float operator[](int64_t d) const { return kvconvert::floatFromFp8(codes[d]) * scale; }
};

// Eight K / V elements as floats: f32 rows as they are, bf16 rows widened in registers (exact),
// fp8 codes decoded in registers (kvconvert::decodeHead's bits); the tail of a row (n < 8
// elements) with zeros after it, as a masked load gives.
inline __m256 load8(const float *p) { return _mm256_loadu_ps(p); }
inline __m256 load8(const uint16_t *p) {
  const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i *>(p)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}
inline __m256 load8Tail(const float *p, int64_t n) { return _mm256_maskload_ps(p, tailMask(n)); }
inline __m256 load8Tail(const uint16_t *p, int64_t n) {
  alignas(16) uint16_t tail[8] = {};
  std::memcpy(tail, p, n * sizeof(uint16_t));
  return load8(tail);
}
// fp8: a code sign-extended to 32 bits and shifted left by 20 has its sign in bit 31 (after
// clearing bits 27-30) and its magnitude bits where a float's low exponent and mantissa bits are,
// so as a float it is the code's value times 2^-120, exactly (subnormal codes included). Times
// 2^120 * scale it is value * scale rounded once, as the scalar decoder computes it (the same
// real product). Codes 0x7F / 0xFF (NaN) give a NaN, all bits set (the scalar decoder's NaN has
// other payload bits; attention's results are NaN either way).
// NOTE: subnormal codes (1-7 and 0x81-0x87: |x| under 2^-6 of the head's scale, about one element
// in 10^4 of real K / V rows) make a subnormal operand, which some CPUs multiply through a slow
// microcode assist; at that rate it does not show, and zero codes give +-0, not subnormals.
inline __m256 load8(Fp8Ptr p) {
  const __m256i w =
      _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i *>(p.codes)));
  const __m256i bits =
      _mm256_and_si256(_mm256_slli_epi32(w, 20), _mm256_set1_epi32(int(0x87F00000)));
  __m256 f = _mm256_mul_ps(_mm256_castsi256_ps(bits), _mm256_set1_ps(p.factor));
  if (p.twoSteps) [[unlikely]]
    f = _mm256_mul_ps(f, _mm256_set1_ps(p.scale));
  const __m256i nan = _mm256_cmpeq_epi32(_mm256_and_si256(w, _mm256_set1_epi32(0x7F)),
                                         _mm256_set1_epi32(0x7F));
  return _mm256_or_ps(f, _mm256_castsi256_ps(nan));
}
inline __m256 load8Tail(Fp8Ptr p, int64_t n) {
  alignas(8) uint8_t tail[8] = {};
  std::memcpy(tail, p.codes, n);
  p.codes = tail;
  return load8(p);
}
inline float toFloat(float x) { return x; }
inline float toFloat(uint16_t b) { return kvconvert::floatFromBf16(b); }

// Attention scores: the dots of NH query rows with NK <= 4 key rows (the last 8 columns masked;
// lanes of one accumulator per dot, as dotTile), reduced four dots at a time by horizontal adds
// into out[i] = {dot(q_i, k_0), ..., dot(q_i, k_{NK-1}), ...} (the lanes' fixed tree: pairs, then
// quads, then the two halves; lanes past NK repeat the last key's dot). Each dot's order is the
// same whatever NK, so a tile's shape never changes a score's bits. NH x NK accumulators, NK key
// vectors and a query vector must fit the 16 registers: 3 x 3, or 2 x 4 (3 x 4 spilled an
// accumulator to the stack, a store-to-load chain on every 8 columns).
template <int NH, int NK, class Ptr>
[[gnu::always_inline]] inline void scoreTile(const float *const q[NH], const Ptr k[NK],
                                             int64_t headDim, __m128 out[NH]) {
  static_assert(NK >= 1 && NK <= 4 && NH * NK + NK + 1 <= 16, "the tile must fit the registers");
  __m256 acc[NH][NK];
  for (int i = 0; i < NH; ++i)
    for (int c = 0; c < NK; ++c)
      acc[i][c] = _mm256_setzero_ps();
  auto step = [&](const __m256 kv[NK], auto loadQ) {
    for (int i = 0; i < NH; ++i) {
      const __m256 qv = loadQ(q[i]);
      for (int c = 0; c < NK; ++c)
        acc[i][c] = _mm256_fmadd_ps(qv, kv[c], acc[i][c]);
    }
  };
  int64_t d = 0;
  for (; d + 8 <= headDim; d += 8) {
    __m256 kv[NK];
    for (int c = 0; c < NK; ++c)
      kv[c] = load8(k[c] + d);
    step(kv, [&](const float *p) { return _mm256_loadu_ps(p + d); });
  }
  if (d < headDim) {
    __m256 kv[NK];
    for (int c = 0; c < NK; ++c)
      kv[c] = load8Tail(k[c] + d, headDim - d);
    step(kv, [&](const float *p) { return load8Tail(p + d, headDim - d); });
  }
  for (int i = 0; i < NH; ++i) {
    auto dot = [&](int c) { return acc[i][std::min(c, NK - 1)]; };
    __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(dot(0), dot(1)), _mm256_hadd_ps(dot(2), dot(3)));
    out[i] = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
  }
}

// e^x for x in [-87.33, 88]: x = n ln2 + r, e^r by its Taylor polynomial, times 2^n (a normal
// float for every such n).
inline __m256 expReduced(__m256 x) {
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.0f / 720);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  const __m256i scale =
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(scale));
}

// e^x for x <= 0 (softmax arguments), AVX2: x = n ln2 + r with |r| <= ln2 / 2, e^r by its Taylor
// polynomial of degree 6 (relative error below 2e-7), times 2^n; arguments below -87.3 give
// ~1.2e-38 instead of a subnormal (negligible next to the maximum's e^0 = 1).
inline __m256 expNonPositive(__m256 x) {
  x = _mm256_max_ps(x, _mm256_set1_ps(-87.33f));
  return expReduced(x);
}

// e^x with x clamped to [-87.33, 88] (SiLU's e^-g; siluGlu handles the gates beyond): the
// polynomial of expNonPositive.
inline __m256 expClamped(__m256 x) {
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.33f)), _mm256_set1_ps(88.0f));
  return expReduced(x);
}

// sc[j] = e^(sc[j] - m) with m = max_j sc[j], for j < n; returns l = sum_j sc[j] (eight lanes in
// order, then hsum's tree), and m in *maxOut.
float softmaxNumerators(float *sc, int32_t n, float *maxOut) {
  __m256 vm = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  int32_t j = 0;
  for (; j + 8 <= n; j += 8)
    vm = _mm256_max_ps(vm, _mm256_loadu_ps(sc + j));
  float m = -std::numeric_limits<float>::infinity();
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, vm);
  for (float v : lanes)
    m = std::max(m, v);
  for (; j < n; ++j)
    m = std::max(m, sc[j]);
  const __m256 mv = _mm256_set1_ps(m);
  __m256 total = _mm256_setzero_ps();
  for (j = 0; j + 8 <= n; j += 8) { // (masked stores are slow on some CPUs: the tail only)
    const __m256 e = expNonPositive(_mm256_sub_ps(_mm256_loadu_ps(sc + j), mv));
    _mm256_storeu_ps(sc + j, e);
    total = _mm256_add_ps(total, e);
  }
  if (j < n) {
    const __m256i mask = tailMask(n - j);
    const __m256 e = _mm256_and_ps(
        expNonPositive(_mm256_sub_ps(_mm256_maskload_ps(sc + j, mask), mv)),
        _mm256_castsi256_ps(mask));
    _mm256_maskstore_ps(sc + j, mask, e);
    total = _mm256_add_ps(total, e);
  }
  *maxOut = m;
  return hsum(total);
}

// Positions per attention partition (attentionRun): a fixed number, so a token's result depends on
// its positions only.
constexpr int32_t kAttnPartition = 256;

// NH query heads (at most kTileRows) of one token that share one kv head, over one partition of
// the positions it sees (their rows in `slots`, in position order; see attentionRun): per head,
// s_j = scale * q.k_j, m = max s_j, e_j = exp(s_j - m), l = sum e_j (in order) and o[d] = sum_j e_j
// v_j[d] (one FMA per term, j in order). With `partial`, out[i] receives o, then m and l (headDim
// + 2 floats) for the merge; else it receives o[d] / l, the attention output. The heads share
// every K and V row load; each head's result has the bits it has alone (every dot of a tile, and
// every accumulator, keeps its own fixed order). rows gives the kv head's K and V rows (FloatRows;
// Bf16Rows and Fp8Rows, which load8 turns into floats in registers); scores holds NH x n, acc NH x
// headDim.
template <int NH, class Rows>
void attendHeads(const Rows &rows, const int64_t *slots, int32_t n, const float *const q[NH],
                 int64_t headDim, float scale, float *scores, float *acc, float *const out[NH],
                 bool partial) {
  const __m128 scaleV = _mm_set1_ps(scale);
  // Positions between a row's prefetch and its use (16 kept too few misses in flight: cold bf16
  // calls 1.17x faster at 48, with the first rows requested at once).
  constexpr int32_t kAhead = 48;
  constexpr int32_t NK = Rows::scoreKeys(NH); // keys per score tile (what fits the registers)
  for (int32_t j = 0; j < std::min(kAhead, n); ++j) // the first rows, all requested at once
    rows.prefetch(rows.keyBytes(slots[j]));
  for (int32_t j = 0; j < n; j += NK) {
    typename Rows::Ptr w[NK];
    for (int32_t c = 0; c < NK; ++c)
      w[c] = rows.key(slots[std::min(j + c, n - 1)]);
    for (int32_t c = 0; c < NK && j + kAhead + c < n; ++c) // keys kAhead positions on: their
      rows.prefetch(rows.keyBytes(slots[j + kAhead + c]));   // rows are scattered in pages
    __m128 res[NH];
    scoreTile<NH, NK>(q, w, headDim, res);
    for (int i = 0; i < NH; ++i) {
      const __m128 s4 = _mm_mul_ps(res[i], scaleV);
      if (j + 4 <= n) { // (lanes past NK land where the next tile writes)
        _mm_storeu_ps(scores + i * n + j, s4);
      } else {
        alignas(16) float four[4];
        _mm_store_ps(four, s4);
        std::memcpy(scores + i * n + j, four, std::min<int32_t>(NK, n - j) * sizeof(float));
      }
    }
  }
  for (int32_t j = 0; j < std::min(kAhead, n); ++j) // the first value rows, during the softmax
    rows.prefetch(rows.valueBytes(slots[j]));
  float mx[NH], total[NH];
  for (int i = 0; i < NH; ++i) // scores become e_j
    total[i] = softmaxNumerators(scores + i * n, n, &mx[i]);
  // Columns go in strips of SV vectors whose accumulators stay in registers across the positions
  // (NH x SV vectors).
  constexpr int SV = Rows::kStripVectors;
  constexpr int64_t kStrip = 8 * SV;
  int64_t d0 = 0;
  for (; d0 + kStrip <= headDim; d0 += kStrip) {
    __m256 a[NH][SV];
    for (int i = 0; i < NH; ++i)
      for (int c = 0; c < SV; ++c)
        a[i][c] = _mm256_setzero_ps();
    for (int32_t j = 0; j < n; ++j) {
      const typename Rows::Ptr v = rows.value(slots[j]) + d0;
      if (d0 == 0 && j + kAhead < n) // the whole row kAhead positions on, in the first strip
        rows.prefetch(rows.valueBytes(slots[j + kAhead]));
      __m256 e[NH];
      for (int i = 0; i < NH; ++i)
        e[i] = _mm256_broadcast_ss(scores + i * n + j);
      for (int c = 0; c < SV; ++c) {
        const __m256 vc = load8(v + 8 * c);
        for (int i = 0; i < NH; ++i)
          a[i][c] = _mm256_fmadd_ps(e[i], vc, a[i][c]);
      }
    }
    for (int i = 0; i < NH; ++i)
      for (int c = 0; c < SV; ++c)
        _mm256_storeu_ps(out[i] + d0 + 8 * c,
                         partial ? a[i][c] : _mm256_div_ps(a[i][c], _mm256_set1_ps(total[i])));
  }
  if (d0 < headDim) { // the last columns (head_dim not a multiple of kStrip), the same operations
    std::fill(acc, acc + NH * headDim, 0.0f);
    for (int32_t j = 0; j < n; ++j) {
      const typename Rows::Ptr v = rows.value(slots[j]);
      for (int i = 0; i < NH; ++i)
        for (int64_t d = d0; d < headDim; ++d)
          acc[i * headDim + d] = std::fma(scores[i * n + j], toFloat(v[d]), acc[i * headDim + d]);
    }
    for (int i = 0; i < NH; ++i)
      for (int64_t d = d0; d < headDim; ++d)
        out[i][d] = partial ? acc[i * headDim + d] : acc[i * headDim + d] / total[i];
  }
  if (partial)
    for (int i = 0; i < NH; ++i) {
      out[i][headDim] = mx[i];
      out[i][headDim + 1] = total[i];
    }
}

// The attention output of one head from its partitions' partials (attendHeads: o, m, l each), in
// partition order: M = max m_p, w_p = exp(m_p - M), L = sum w_p l_p, y[d] = (sum_p w_p o_p[d]) / L
// (first term a product, then FMAs). One partition gives o / l, the bits of the unpartitioned path.
void mergePartitions(const float *parts, int64_t np, int64_t headDim, float *y) {
  const int64_t stride = headDim + 2;
  float M = parts[headDim];
  for (int64_t p = 1; p < np; ++p)
    M = std::max(M, parts[p * stride + headDim]);
  float w0 = std::exp(parts[headDim] - M), L = w0 * parts[headDim + 1];
  for (int64_t d = 0; d < headDim; ++d)
    y[d] = w0 * parts[d];
  for (int64_t p = 1; p < np; ++p) {
    const float *o = parts + p * stride;
    const float w = std::exp(o[headDim] - M);
    L = std::fma(w, o[headDim + 1], L);
    for (int64_t d = 0; d < headDim; ++d)
      y[d] = std::fma(w, o[d], y[d]);
  }
  for (int64_t d = 0; d < headDim; ++d)
    y[d] = y[d] / L;
}

// Prefetches the cache lines of one kv head's row (`bytes` of it) into L2 ahead of use: a
// sequence's blocks are scattered over the cache, where the hardware prefetchers lose the stream
// at each block boundary.
inline void prefetchRow(const std::byte *row, int64_t bytes) {
  for (int64_t b = 0; b < bytes; b += 64)
    _mm_prefetch(reinterpret_cast<const char *>(row) + b, _MM_HINT_T1);
}

// One kv head's float rows, read in place: row r at keys + r * stride (an f32 cache's head rows,
// indexed as PagedKVCache::headRow gives them; or staged rows of all kv heads).
struct FloatRows {
  using Ptr = const float *;
  // Score tiles (scoreTile) and value strips (attendHeads) sized to the 16 vector registers.
  static constexpr int scoreKeys(int nh) { return nh == 3 ? 3 : 4; }
  static constexpr int kStripVectors = 4;
  const float *keys, *values; // row 0 of the kv head
  int64_t stride, headDim;
  Ptr key(int64_t row) const { return keys + row * stride; }
  Ptr value(int64_t row) const { return values + row * stride; }
  const std::byte *keyBytes(int64_t row) const {
    return reinterpret_cast<const std::byte *>(key(row));
  }
  const std::byte *valueBytes(int64_t row) const {
    return reinterpret_cast<const std::byte *>(value(row));
  }
  void prefetch(const std::byte *row) const { prefetchRow(row, headDim * int64_t(sizeof(float))); }
};

// One kv head's rows of a bf16 cache, read in place: the kernels widen each element in registers
// (exactly: a bf16 is the high half of its float), so attention computes on the values the cache
// represents with the float32 path's operations and bits.
struct Bf16Rows {
  using Ptr = const uint16_t *;
  // Score tiles (scoreTile) and value strips (attendHeads) sized to the 16 vector registers.
  static constexpr int scoreKeys(int nh) { return nh == 3 ? 3 : 4; }
  static constexpr int kStripVectors = 4;
  const std::byte *keys, *values; // head row 0 of the kv head
  int64_t headDim;
  Ptr key(int64_t row) const { return at(keys, row); }
  Ptr value(int64_t row) const { return at(values, row); }
  const uint16_t *at(const std::byte *base, int64_t row) const {
    return reinterpret_cast<const uint16_t *>(base) + row * headDim;
  }
  const std::byte *keyBytes(int64_t row) const { return keys + row * headDim * 2; }
  const std::byte *valueBytes(int64_t row) const { return values + row * headDim * 2; }
  void prefetch(const std::byte *row) const { prefetchRow(row, headDim * 2); }
};

// One kv head's rows of an fp8 cache, read in place: load8 decodes the codes in registers to
// decodeHead's floats, so attention computes on exactly the values the cache represents with the
// float32 path's operations and bits. (Decoding each row into a buffer first took 3x as long.)
struct Fp8Rows {
  using Ptr = Fp8Ptr;
  // Decoding holds three more vectors (two constants and a key's factor): smaller score tiles.
  static constexpr int scoreKeys(int nh) { return nh == 3 ? 2 : nh == 2 ? 3 : 4; }
  static constexpr int kStripVectors = 4;
  const std::byte *keys, *values; // head row 0 of the kv head
  int64_t headBytes, headDim;
  Ptr key(int64_t row) const { return at(keyBytes(row)); }
  Ptr value(int64_t row) const { return at(valueBytes(row)); }
  Ptr at(const std::byte *row) const {
    float scale;
    std::memcpy(&scale, row + kvconvert::fp8ScaleOffset(headDim), sizeof scale);
    return Fp8Ptr::of(reinterpret_cast<const uint8_t *>(row), scale);
  }
  const std::byte *keyBytes(int64_t row) const { return keys + row * headBytes; }
  const std::byte *valueBytes(int64_t row) const { return values + row * headBytes; }
  void prefetch(const std::byte *row) const { prefetchRow(row, headBytes); }
};

template <class Rows>
void attendRun(const Rows &rows, int nh, const int64_t *slots, int32_t n, const float *const *q,
               int64_t headDim, float scale, float *scores, float *acc, float *const *out,
               bool partial) {
  if (nh == 3)
    attendHeads<3>(rows, slots, n, q, headDim, scale, scores, acc, out, partial);
  else if (nh == 2)
    attendHeads<2>(rows, slots, n, q, headDim, scale, scores, acc, out, partial);
  else
    attendHeads<1>(rows, slots, n, q, headDim, scale, scores, acc, out, partial);
}

// nh query heads sharing kv head kvh of `layer`, over the cache's head rows in its dtype (`rows`:
// the positions' rows of kv head 0, PagedKVCache::headRow).
void attendKvHead(const PagedKVCache &kv, int layer, int64_t kvh, int nh, const int64_t *rows,
                  int32_t n, const float *const *q, float scale, float *scores, float *acc,
                  float *const *out, bool partial) {
  const int64_t headDim = kv.headDim();
  // Head row 0 of kv head kvh: a position's head row r (gatherRows) is at + r * headBytes().
  const std::byte *keys = kv.keyHead(layer, 0, int(kvh));
  const std::byte *values = kv.valueHead(layer, 0, int(kvh));
  if (kv.dtype() == KVCacheDtype::F32) {
    FloatRows f{reinterpret_cast<const float *>(keys), reinterpret_cast<const float *>(values),
                headDim, headDim};
    return attendRun(f, nh, rows, n, q, headDim, scale, scores, acc, out, partial);
  }
  if (kv.dtype() == KVCacheDtype::BF16) {
    Bf16Rows r{keys, values, headDim};
    return attendRun(r, nh, rows, n, q, headDim, scale, scores, acc, out, partial);
  }
  Fp8Rows r{keys, values, kv.headBytes(), headDim};
  attendRun(r, nh, rows, n, q, headDim, scale, scores, acc, out, partial);
}

// fp8: the rows of the sequences that compute several tokens in this step (prefill chunks),
// decoded once into floats. Every query token of such a sequence reads all of its rows, so
// decoding per query would repeat the work T times; decode-only sequences (one token) read the
// cache directly. The staged floats are the decoded rows' bits, so a token's result does not
// depend on whether its sequence was staged (batch invariance). bf16 rows are read in place by
// every query (Bf16Rows: widening in registers costs less than staging's f32 copy).
// NOTE: a sequence is staged only when its rows are at most kMaxRowsPerToken times its tokens,
// which bounds the staging memory by the step's token count.
struct DecodedStage {
  static constexpr int64_t kMaxRowsPerToken = 64;
  std::vector<float> keys, values; // staged rows of num_kv_heads * head_dim floats
  std::vector<int64_t> first;      // per sequence: its first staged row, -1 when not staged
  std::vector<int32_t> lo;         // per sequence: the position of that row

  // Row index of position `pos` of staged sequence s.
  int64_t row(int64_t s, int32_t pos) const { return first[s] + (pos - lo[s]); }
  bool staged(int64_t s) const { return !first.empty() && first[s] >= 0; }

  void build(const PagedKVCache &kv, int layer, const AttentionBatch &b, const int32_t *positions,
             int64_t window) {
    first.clear();
    if (kv.dtype() != KVCacheDtype::Fp8E4M3)
      return;
    first.assign(b.numSeqs, -1);
    lo.assign(b.numSeqs, 0);
    const int64_t width = kv.rowWidth(), bs = kv.blockSize();
    int64_t rows = 0;
    for (int64_t s = 0; s < b.numSeqs; ++s) {
      const int32_t t0 = b.queryStart[s], t1 = b.queryStart[s + 1];
      if (t1 - t0 < 2)
        continue;
      const int32_t minPos = *std::min_element(positions + t0, positions + t1);
      const int32_t maxPos = *std::max_element(positions + t0, positions + t1);
      const int32_t from =
          window > 0 ? static_cast<int32_t>(std::max<int64_t>(0, minPos - window + 1)) : 0;
      const int64_t count = maxPos - from + 1;
      if (count > kMaxRowsPerToken * (t1 - t0))
        continue;
      first[s] = rows;
      lo[s] = from;
      keys.resize((rows + count) * width);
      values.resize((rows + count) * width);
      const int32_t *table = b.blockTables + s * b.blockTableStride;
      for (int32_t pos = from; pos <= maxPos; ++pos, ++rows) {
        const int64_t slot = int64_t(table[pos / bs]) * bs + pos % bs;
        for (int64_t h = 0; h < kv.numKvHeads(); ++h) {
          float *k = keys.data() + rows * width + h * kv.headDim();
          float *v = values.data() + rows * width + h * kv.headDim();
          kvconvert::decodeHead(kv.dtype(), kv.keyHead(layer, slot, h), kv.headDim(), k);
          kvconvert::decodeHead(kv.dtype(), kv.valueHead(layer, slot, h), kv.headDim(), v);
        }
      }
    }
  }
};

// nh query heads sharing kv head kvh, over the staged rows (`rows`: indices into the stage).
void attendStaged(const DecodedStage &stage, const PagedKVCache &kv, int64_t kvh, int nh,
                  const int64_t *rows, int32_t n, const float *const *q, float scale,
                  float *scores, float *acc, float *const *out, bool partial) {
  const int64_t headDim = kv.headDim();
  FloatRows staged{stage.keys.data() + kvh * headDim, stage.values.data() + kvh * headDim,
                   kv.rowWidth(), headDim};
  attendRun(staged, nh, rows, n, q, headDim, scale, scores, acc, out, partial);
}

// Writes one token's K (already rotated when the call has a rope prologue) and V values of every
// kv head at `slot`, encoded in the cache's dtype.
void storeKV(PagedKVCache &kv, int layer, int64_t slot, const float *k, const float *v) {
  for (int h = 0; h < kv.numKvHeads(); ++h) {
    kvconvert::encodeHead(kv.dtype(), k + h * kv.headDim(), kv.keyHead(layer, slot, h),
                          kv.headDim());
    kvconvert::encodeHead(kv.dtype(), v + h * kv.headDim(), kv.valueHead(layer, slot, h),
                          kv.headDim());
  }
}

// The step's sequences as attention sees them. Without an AttentionBatch the call is one sequence
// in a one-block cache (a KVCache): slot = position, checked against the capacity.
struct SequenceView {
  AttentionBatch batch;
  int32_t queryStart[2] = {0, 0};
  int32_t table[1] = {0};
};

const AttentionBatch &sequences(const KernelArgs &a, SequenceView &view,
                                std::vector<int64_t> &slots) {
  const PagedKVCache &kv = *a.kvCache;
  if (a.batch) {
    for (int64_t t = 0; t < a.tokens; ++t)
      if (a.batch->slotMapping[t] < 0 || a.batch->slotMapping[t] >= kv.numSlots() ||
          a.positions[t] < 0)
        fail("attention: row {} has position {} and slot {}, expected a position >= 0 and a "
             "slot in the KV cache's [0, {})",
             t, a.positions[t], a.batch->slotMapping[t], kv.numSlots());
    return *a.batch;
  }
  if (kv.numBlocks() != 1)
    fail("attention: a paged KV cache of {} blocks needs the step's block tables",
         kv.numBlocks());
  slots.resize(a.tokens);
  for (int64_t t = 0; t < a.tokens; ++t) {
    if (a.positions[t] < 0 || a.positions[t] >= kv.blockSize())
      fail("attention: position {} at row {} is outside the KV cache's {} positions",
           a.positions[t], t, kv.blockSize());
    slots[t] = a.positions[t];
  }
  view.queryStart[1] = static_cast<int32_t>(a.tokens);
  view.batch = {1, view.queryStart, view.table, 1, slots.data()};
  return view.batch;
}

// Writes k, v at the step's slots (rotating k first when the call has a rope prologue), then
// causal (optionally sliding-window) grouped-query attention: each token over its own sequence's
// positions, read through the sequence's block table.
template <bool Packed> void attentionRun(const KernelArgs &a) {
  const KernelParams &p = a.params;
  int layer = static_cast<int>(p.getInt("layer"));
  int64_t heads = p.getInt("num_heads"), kvHeads = p.getInt("num_kv_heads");
  int64_t headDim = p.getInt("head_dim"), window = p.getInt("sliding_window");
  float scale = static_cast<float>(p.getFloat("scale"));
  bool rope = p.has("inv_freq");
  std::span<const float> invFreq = rope ? p.getFloatArray("inv_freq") : std::span<const float>();
  float factor = static_cast<float>(p.getFloat("attention_factor", 1.0));
  int64_t half = static_cast<int64_t>(invFreq.size());
  PagedKVCache &kv = *a.kvCache;
  int64_t kvWidth = kvHeads * headDim, qWidth = heads * headDim, group = heads / kvHeads;
  QkvLayout in = qkvLayout(a, Packed, qWidth, kvWidth);
  int64_t qStride = Packed ? in.stride : qWidth, kvStride = Packed ? in.stride : kvWidth;
  static thread_local std::vector<int64_t> singleSlots;
  static thread_local std::vector<int32_t> seqOf;
  SequenceView view;
  const AttentionBatch &b = sequences(a, view, singleSlots);
  const int64_t bs = kv.blockSize();
  // Write first: query t may see keys of earlier tokens of this same step. The token's rotary
  // angles serve its key and its query heads alike: the queries are rotated here once (into the
  // calling thread's scratch, read by the team), not in each of their work items (a decode step
  // computed its angles, 32 sincos, in all 9 items).
  std::vector<float> cs(2 * half);
  std::vector<float> rotated(rope ? kvWidth : 0);
  static thread_local std::vector<float> qRotBuf;
  float *const qRot = rope ? scratch(qRotBuf, size_t(a.tokens) * qWidth) : nullptr;
  for (int64_t t = 0; t < a.tokens; ++t) { // rotate into floats, then encode in the cache's dtype
    const float *k = in.k + t * kvStride;
    if (rope) {
      ropeAngles(a.positions[t], invFreq, factor, cs.data());
      ropeRow(k, rotated.data(), kvHeads, headDim, cs.data(), half);
      ropeRow(in.q + t * qStride, qRot + t * qWidth, heads, headDim, cs.data(), half);
      k = rotated.data();
    }
    storeKV(kv, layer, b.slotMapping[t], k, in.v + t * kvStride);
  }
  // A token's visible positions [lo, hi] go in partitions of kAttnPartition, counted from lo; each
  // partition is a work item per run of heads, and a token with several is merged afterwards
  // (mergePartitions). The partitions depend on the token's positions only, so its result does
  // not depend on the batch or the threads; they split a long context among the threads (a
  // one-token decode step has as few items as kv heads otherwise) and read each K / V row once.
  seqOf.resize(a.tokens);
  static thread_local std::vector<int64_t> itemStart, partStart;
  itemStart.assign(a.tokens + 1, 0);
  partStart.assign(a.tokens + 1, 0);
  auto visible = [&](int64_t t) {
    int32_t hi = a.positions[t];
    int32_t lo = window > 0 ? static_cast<int32_t>(std::max<int64_t>(0, hi - window + 1)) : 0;
    return std::pair<int32_t, int32_t>{lo, hi};
  };
  auto partitions = [&](int64_t t) {
    auto [lo, hi] = visible(t);
    return (int64_t(hi) - lo + kAttnPartition) / kAttnPartition;
  };
  // Items are claimed one at a time (an item is a whole partition, so a claim is nothing next to
  // it): items are unequal (a decode step at 576 positions has 9, of 256, 256 and 64 positions),
  // and pieces of several left one thread 1.2x the other's work.
  // A run of up to kTileRows query heads shares each K / V row load. (Runs of one head, which
  // would give a short one-token step more items than kv heads, were 5% slower in decode: they
  // read each row three times.)
  static_assert(kTileRows == 3, "the dispatch below covers runs of 1 to 3 heads");
  int64_t work = 0;
  for (int64_t s = 0; s < b.numSeqs; ++s)
    for (int32_t t = b.queryStart[s]; t < b.queryStart[s + 1]; ++t) {
      seqOf[t] = static_cast<int32_t>(s);
      auto [lo, hi] = visible(t);
      work += hi - lo + 1;
    }
  const int64_t runHeads = kTileRows;
  const int64_t runsPerKv = (group + runHeads - 1) / runHeads, runs = kvHeads * runsPerKv;
  // Items of token t: [itemStart[t], itemStart[t + 1]), latest tokens first (they have the most
  // partitions, so the chunks claimed last are the cheapest); partial results of tokens with
  // several partitions at partStart[t] (heads x partitions x (headDim + 2) floats).
  int64_t merged = 0;
  for (int64_t k = 0; k < a.tokens; ++k) {
    const int64_t t = a.tokens - 1 - k, np = partitions(t);
    itemStart[k + 1] = itemStart[k] + runs * np;
    partStart[t + 1] = np > 1 ? heads * np * (headDim + 2) : 0;
    merged += np > 1;
  }
  for (int64_t t = 0; t < a.tokens; ++t)
    partStart[t + 1] += partStart[t];
  static thread_local std::vector<float> partBuf;
  float *parts = scratch(partBuf, std::max<int64_t>(1, partStart[a.tokens]));
  // NOTE: the calling thread's thread_local scratch, read by the team through these pointers.
  const int64_t *firstItem = itemStart.data(), *firstPart = partStart.data();
  const int32_t *tokenSeq = seqOf.data(); // the calling thread's scratch, read by the team
  static thread_local DecodedStage callerStage;
  const DecodedStage &stage = callerStage; // the calling thread's, read by the team
  callerStage.build(kv, layer, b, a.positions, window);
  forEach(itemStart[a.tokens], worthThreads(work * heads * headDim), [&](int64_t item) {
    static thread_local std::vector<float> scoreBuf, accBuf;
    static thread_local std::vector<int64_t> slotBuf;
    const int64_t k = std::upper_bound(firstItem, firstItem + a.tokens + 1, item) - firstItem - 1;
    const int64_t t = a.tokens - 1 - k, np = partitions(t);
    const int64_t r = (item - firstItem[k]) / np, p = (item - firstItem[k]) % np;
    const int64_t kvh = r / runsPerKv, h0 = kvh * group + (r % runsPerKv) * runHeads;
    const int nh = static_cast<int>(std::min<int64_t>(runHeads, kvh * group + group - h0));
    auto [lo, hi] = visible(t);
    const int32_t from = static_cast<int32_t>(lo + p * kAttnPartition);
    const int32_t n = static_cast<int32_t>(std::min<int64_t>(hi - from + 1, kAttnPartition));
    float *scores = scratch(scoreBuf, size_t(kTileRows) * n);
    float *acc = scratch(accBuf, kTileRows * headDim);
    if (slotBuf.size() < size_t(n))
      slotBuf.resize(std::max<size_t>(n, slotBuf.size() * 2));
    const bool staged = stage.staged(tokenSeq[t]);
    if (staged) // indices of the staged rows instead of slots
      std::iota(slotBuf.begin(), slotBuf.begin() + n, stage.row(tokenSeq[t], from));
    else
      gatherRows(b.blockTables + tokenSeq[t] * b.blockTableStride, bs, kvHeads, from,
                 from + n - 1, slotBuf.data());
    const float *q[kTileRows];
    float *o[kTileRows];
    for (int i = 0; i < nh; ++i) {
      q[i] = (rope ? qRot + t * qWidth : in.q + t * qStride) + (h0 + i) * headDim;
      o[i] = np > 1 ? parts + firstPart[t] + ((h0 + i) * np + p) * (headDim + 2)
                    : out(a) + t * qWidth + (h0 + i) * headDim;
    }
    if (staged)
      attendStaged(stage, kv, kvh, nh, slotBuf.data(), n, q, scale, scores, acc, o, np > 1);
    else
      attendKvHead(kv, layer, kvh, nh, slotBuf.data(), n, q, scale, scores, acc, o, np > 1);
  }, /*maxChunk=*/1);
  if (merged == 0)
    return;
  forEach(a.tokens * heads, worthThreads(merged * heads * headDim * 4), [&](int64_t item) {
    const int64_t t = item / heads, h = item % heads, np = partitions(t);
    if (np > 1)
      mergePartitions(parts + firstPart[t] + h * np * (headDim + 2), np, headDim,
                      out(a) + t * qWidth + h * headDim);
  });
}

// ---------------------------------------------------------------------------------------------
// gated_act(gate, up) = act(gate) * up; add; mul

template <Act A> void gluLoop(const float *g, const float *u, float *y, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    y[i] = activate<A>(g[i]) * u[i];
}

// silu(g) * u, eight lanes at a time: g / (1 + e^-g) with expClamped (relative error below 2e-7
// where std::exp is within an ulp: libm's scalar exp took 2% of a Q4_0 decode step and 6% of a
// prompt's time), then times u; a gate below -88 gives 0 (silu is then below 5e-37 in magnitude).
// Lanes are independent and a tail goes through the same code, masked, so an element's bits
// never depend on n or on where it sits.
void siluGlu(const float *g, const float *u, float *y, int64_t n) {
  const __m256 one = _mm256_set1_ps(1.0f), sign = _mm256_set1_ps(-0.0f);
  const __m256 floor = _mm256_set1_ps(-88.0f);
  auto silu = [&](__m256 gv, __m256 uv) {
    const __m256 e = expClamped(_mm256_xor_ps(gv, sign));
    const __m256 v = _mm256_mul_ps(_mm256_div_ps(gv, _mm256_add_ps(one, e)), uv);
    return _mm256_andnot_ps(_mm256_cmp_ps(gv, floor, _CMP_LT_OQ), v);
  };
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, silu(_mm256_loadu_ps(g + i), _mm256_loadu_ps(u + i)));
  if (i < n) {
    const __m256i m = tailMask(n - i);
    _mm256_maskstore_ps(y + i, m, silu(_mm256_maskload_ps(g + i, m), _mm256_maskload_ps(u + i, m)));
  }
}

} // namespace

FloatLayout floatLayout(const KernelParams &params, int64_t rows, int64_t cols) {
  if (!params.has("weight_layout"))
    return FloatLayout::RowMajor;
  const std::string &name = params.getString("weight_layout");
  if (name == llm::floattiles::kRowMajorLayout)
    return FloatLayout::RowMajor;
  if (name != llm::floattiles::kRows8Layout)
    fail("parameter 'weight_layout' is '{}', expected {} or {} for a float32 weight", name,
         llm::floattiles::kRowMajorLayout, llm::floattiles::kRows8Layout);
  if (!llm::floattiles::fitsRows8(rows, cols))
    fail("parameter 'weight_layout' is {}, but the weight (or each half of a glu weight) is {} x "
         "{}, not a multiple of {} x {}",
         name, rows, cols, llm::floattiles::kTileRows, llm::floattiles::kChunk);
  return FloatLayout::Rows8;
}

void applyGlu(Activation act, const float *g, const float *u, float *y, int64_t n) {
  switch (act) {
  case Act::Silu:
    return siluGlu(g, u, y, n);
  case Act::Gelu:
    return gluLoop<Act::Gelu>(g, u, y, n);
  case Act::GeluTanh:
    return gluLoop<Act::GeluTanh>(g, u, y, n);
  }
}

namespace {

KernelShapes gatedActShapes(const KernelParams &p, int) {
  parseAct(p.getString("act"));
  return rowwise(2, positiveInt(p, "width"));
}

// Rows of `width` elements, split over threads by row: a row's result never depends on T.
void gatedActRun(const KernelArgs &a) {
  int64_t width = a.params.getInt("width");
  Act act = parseAct(a.params.getString("act"));
  forEach(a.tokens, worthThreads(a.tokens * width), [&](int64_t t) {
    applyGlu(act, in(a, 0) + t * width, in(a, 1) + t * width, out(a) + t * width, width);
  });
}

// glu(x) over a packed [gate | up] row of 2 * width.
KernelShapes gluShapes(const KernelParams &p, int) {
  parseAct(p.getString("act"));
  int64_t width = positiveInt(p, "width");
  KernelShapes s = rowwise(1, 2 * width);
  s.outputWidths = {width};
  return s;
}

void gluRun(const KernelArgs &a) {
  int64_t width = a.params.getInt("width");
  Act act = parseAct(a.params.getString("act"));
  forEach(a.tokens, worthThreads(a.tokens * width), [&](int64_t t) {
    const float *x = in(a, 0) + t * 2 * width;
    applyGlu(act, x, x + width, out(a) + t * width, width);
  });
}

// add_rms_norm(a, b) w -> (s = a + b, rms_norm(s) * w). Row by row, s is complete before the
// normalized row is written, so either output may share memory with either input (plan-buffers
// places them in place).
KernelShapes addRmsNormShapes(const KernelParams &p, int) {
  int64_t hidden = positiveInt(p, "hidden");
  p.getFloat("eps");
  KernelShapes s = rowwise(2, hidden);
  s.outputWidths = {hidden, hidden};
  s.weights = {{hidden}};
  return s;
}

void addRmsNormRun(const KernelArgs &a) {
  int64_t n = a.params.getInt("hidden");
  float eps = static_cast<float>(a.params.getFloat("eps"));
  const float *w = a.weights[0];
  float *sumOut = static_cast<float *>(a.outputs[0]), *normOut = static_cast<float *>(a.outputs[1]);
  forEach(a.tokens, worthThreads(a.tokens * n), [&](int64_t t) {
    const float *x = in(a, 0) + t * n, *y = in(a, 1) + t * n;
    float *s = sumOut + t * n, *o = normOut + t * n;
    for (int64_t i = 0; i < n; ++i)
      s[i] = x[i] + y[i];
    rmsNormRow(s, w, n, eps, o);
  });
}

KernelShapes elementwiseShapes(const KernelParams &p, int) {
  return rowwise(2, positiveInt(p, "width"));
}

void addRun(const KernelArgs &a) {
  int64_t n = a.tokens * a.params.getInt("width");
  const float *x = in(a, 0), *y = in(a, 1);
  float *o = out(a);
  ThreadPool::global().parallelFor(
      n,
      [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i)
          o[i] = x[i] + y[i];
      },
      worthThreads(n));
}

void mulRun(const KernelArgs &a) {
  int64_t n = a.tokens * a.params.getInt("width");
  const float *x = in(a, 0), *y = in(a, 1);
  float *o = out(a);
  ThreadPool::global().parallelFor(
      n,
      [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i)
          o[i] = x[i] * y[i];
      },
      worthThreads(n));
}

const std::array kCpuKernels{
    CpuKernelFn{"embedding", embeddingRun, embeddingShapes},
    CpuKernelFn{"rms_norm", rmsNormRun, normShapes},
    CpuKernelFn{"layer_norm", layerNormRun, normShapes},
    CpuKernelFn{"linear", linearRun, linearShapes},
    CpuKernelFn{"rope", ropeRun, ropeShapes},
    CpuKernelFn{"attention", attentionRun<false>, attentionShapes<false>},
    CpuKernelFn{"attention_qkv", attentionRun<true>, attentionShapes<true>},
    CpuKernelFn{"gated_act", gatedActRun, gatedActShapes},
    CpuKernelFn{"glu", gluRun, gluShapes},
    CpuKernelFn{"add_rms_norm", addRmsNormRun, addRmsNormShapes},
    CpuKernelFn{"add", addRun, elementwiseShapes},
    CpuKernelFn{"mul", mulRun, elementwiseShapes},
    CpuKernelFn{"logits", logitsRun, logitsShapes},
};

} // namespace

const CpuKernelFn *findCpuKernel(std::string_view name) {
  for (const CpuKernelFn &k : kCpuKernels)
    if (k.name == name)
      return &k;
  return nullptr;
}

std::span<const CpuKernelFn> allCpuKernels() { return kCpuKernels; }

} // namespace llmrt::cpu
