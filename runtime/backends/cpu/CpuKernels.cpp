#include "backends/cpu/CpuKernels.h"

#include "engine/KVCache.h"
#include "support/Error.h"

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

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
void dotTile(const float *const x[TR], const float *const w[TN], int64_t k, float out[TR][TN]) {
  __m256 acc[TR][TN];
  for (int i = 0; i < TR; ++i)
    for (int j = 0; j < TN; ++j)
      acc[i][j] = _mm256_setzero_ps();
  int64_t kk = 0;
  for (; kk + 8 <= k; kk += 8) {
    __m256 wv[TN];
    for (int j = 0; j < TN; ++j)
      wv[j] = _mm256_loadu_ps(w[j] + kk);
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
      wv[j] = _mm256_maskload_ps(w[j] + kk, m);
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

// Below this many multiply-adds (or elements) a kernel runs on the calling thread: waking the
// team costs more than the work, and on a loaded machine a descheduled team member stalls the
// barrier. The choice never changes results (no reduction spans threads).
constexpr int64_t kMinParallelWork = int64_t{1} << 15;
bool worthThreads(int64_t work) { return work >= kMinParallelWork; }

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

// Parameter checks shared by the shapes() functions.
// Sizes are capped so that products of two of them, in bytes, cannot overflow int64.
constexpr int64_t kMaxSize = int64_t{1} << 24;

int64_t positiveInt(const KernelParams &p, std::string_view name) {
  int64_t v = p.getInt(name);
  if (v <= 0 || v > kMaxSize)
    fail("parameter '{}' is {}, expected a positive integer up to {}", name, v, kMaxSize);
  return v;
}

KernelShapes rowwise(int numInputs, int64_t width) {
  KernelShapes s;
  s.inputWidths.assign(numInputs, width);
  s.inputDtypes.assign(numInputs, fb::DType::F32);
  s.inputRows.assign(numInputs, fb::Rows::Tokens);
  s.outputWidth = width;
  return s;
}

// ---------------------------------------------------------------------------------------------
// embedding(ids) W[vocab, hidden] -> [T, hidden]

KernelShapes embeddingShapes(const KernelParams &p, int) {
  int64_t hidden = positiveInt(p, "hidden"), vocab = positiveInt(p, "vocab");
  KernelShapes s;
  s.inputWidths = {1};
  s.inputDtypes = {fb::DType::I32};
  s.inputRows = {fb::Rows::Tokens};
  s.outputWidth = hidden;
  s.weights = {{vocab, hidden}};
  return s;
}

void embeddingRun(const KernelArgs &a) {
  int64_t hidden = a.params.getInt("hidden"), vocab = a.params.getInt("vocab");
  const int32_t *ids = inI32(a, 0);
  for (int64_t t = 0; t < a.tokens; ++t)
    if (ids[t] < 0 || ids[t] >= vocab)
      fail("embedding: token id {} at row {} is outside the vocabulary [0, {})", ids[t], t, vocab);
  float *y = out(a);
#pragma omp parallel for if (worthThreads(a.tokens * hidden)) schedule(static)
  for (int64_t t = 0; t < a.tokens; ++t)
    std::memcpy(y + t * hidden, a.weights[0] + ids[t] * hidden, hidden * sizeof(float));
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

void rmsNormRun(const KernelArgs &a) {
  int64_t n = a.params.getInt("hidden");
  float eps = static_cast<float>(a.params.getFloat("eps"));
  const float *w = a.weights[0];
#pragma omp parallel for if (worthThreads(a.tokens * n)) schedule(static)
  for (int64_t t = 0; t < a.tokens; ++t) {
    const float *x = in(a, 0) + t * n;
    float *y = out(a) + t * n;
    // As Hugging Face computes it in fp32: mean of squares, rsqrt, then x * r * w.
    float r = 1.0f / std::sqrt(sumSquares(x, n) / static_cast<float>(n) + eps);
    for (int64_t i = 0; i < n; ++i)
      y[i] = (x[i] * r) * w[i];
  }
}

void layerNormRun(const KernelArgs &a) {
  int64_t n = a.params.getInt("hidden");
  float eps = static_cast<float>(a.params.getFloat("eps"));
  const float *w = a.weights[0], *b = a.weights[1];
#pragma omp parallel if (worthThreads(a.tokens * n))
  {
    static thread_local std::vector<float> buf;
    float *d = scratch(buf, n);
#pragma omp for schedule(static)
    for (int64_t t = 0; t < a.tokens; ++t) {
      const float *x = in(a, 0) + t * n;
      float *y = out(a) + t * n;
      float mean = sum(x, n) / static_cast<float>(n);
      for (int64_t i = 0; i < n; ++i)
        d[i] = x[i] - mean;
      float r = 1.0f / std::sqrt(sumSquares(d, n) / static_cast<float>(n) + eps);
      for (int64_t i = 0; i < n; ++i)
        y[i] = (d[i] * r) * w[i] + b[i];
    }
  }
}

// ---------------------------------------------------------------------------------------------
// linear(x) W[N, K] (+ b[N]) -> x W^T + b

// 3 x 4 accumulators + 4 W vectors fill the 16 ymm registers (x is an FMA memory operand).
constexpr int64_t kTileRows = 3;   // x rows per register tile
constexpr int64_t kTileCols = 4;   // W rows per register tile
constexpr int64_t kBlockCols = 16; // W rows per thread task (stay in L1/L2 across x rows)
constexpr int64_t kBlockRows = 24; // x rows per pass over a column block

// One register tile: rows [t, t+tr) x columns [n, n+tn), tr <= kTileRows, tn <= kTileCols.
// Out-of-range rows and columns repeat the last valid one (computed, not stored), so the tile
// shape is fixed; a single row takes a 1 x kTileCols tile (decode), with the same per-dot bits.
void matmulTile(const float *x, int64_t ldx, const int32_t *rowIdx, int64_t t, int64_t tr,
                const float *w, int64_t n, int64_t tn, int64_t k, const float *bias, float *o,
                int64_t ldo) {
  const float *xr[kTileRows], *wr[kTileCols];
  for (int64_t i = 0; i < kTileRows; ++i) {
    int64_t row = t + std::min(i, tr - 1);
    xr[i] = x + (rowIdx ? rowIdx[row] : row) * ldx;
  }
  for (int64_t j = 0; j < kTileCols; ++j)
    wr[j] = w + (n + std::min(j, tn - 1)) * k;
  float res[kTileRows][kTileCols];
  if (tr == 1)
    dotTile<1, kTileCols>(xr, wr, k, res); // fills res[0] only
  else
    dotTile<kTileRows, kTileCols>(xr, wr, k, res);
  for (int64_t i = 0; i < tr; ++i)
    for (int64_t j = 0; j < tn; ++j)
      o[(t + i) * ldo + n + j] = res[i][j] + (bias ? bias[n + j] : 0.0f);
}

} // namespace

void matmulTransposedB(const float *x, int64_t ldx, const int32_t *rowIdx, int64_t rows,
                       const float *w, int64_t n, int64_t k, const float *bias, float *o) {
  int64_t numBlocks = (n + kBlockCols - 1) / kBlockCols;
  // Threads split output features: each (row, feature) is one dot with the fixed schedule, so the
  // result does not depend on how rows or features are split.
#pragma omp parallel for if (worthThreads(rows * n * k)) schedule(static)
  for (int64_t b = 0; b < numBlocks; ++b) {
    int64_t n0 = b * kBlockCols, n1 = std::min(n, n0 + kBlockCols);
    for (int64_t t0 = 0; t0 < rows; t0 += kBlockRows) {
      int64_t t1 = std::min(rows, t0 + kBlockRows);
      for (int64_t j = n0; j < n1; j += kTileCols)
        for (int64_t t = t0; t < t1; t += kTileRows)
          matmulTile(x, ldx, rowIdx, t, std::min(kTileRows, t1 - t), w, j,
                     std::min(kTileCols, n1 - j), k, bias, o, n);
    }
  }
}

namespace {

KernelShapes linearShapes(const KernelParams &p, int numWeights) {
  int64_t k = positiveInt(p, "in_features"), n = positiveInt(p, "out_features");
  int64_t hasBias = p.getInt("has_bias");
  if (hasBias != 0 && hasBias != 1)
    fail("parameter 'has_bias' is {}, expected 0 or 1", hasBias);
  if (numWeights != 1 + hasBias)
    fail("has_bias is {} but the call passes {} weights, expected {}", hasBias, numWeights,
         1 + hasBias);
  KernelShapes s = rowwise(1, k);
  s.outputWidth = n;
  s.weights = {{n, k}};
  if (hasBias)
    s.weights.push_back({n});
  return s;
}

void linearRun(const KernelArgs &a) {
  int64_t k = a.params.getInt("in_features"), n = a.params.getInt("out_features");
  const float *bias = a.params.getInt("has_bias") ? a.weights[1] : nullptr;
  matmulTransposedB(in(a, 0), k, nullptr, a.tokens, a.weights[0], n, k, bias, out(a));
}

// ---------------------------------------------------------------------------------------------
// logits(x, logit_rows) W[vocab, hidden] -> [R, vocab]

KernelShapes logitsShapes(const KernelParams &p, int) {
  int64_t hidden = positiveInt(p, "hidden"), vocab = positiveInt(p, "vocab");
  KernelShapes s;
  s.inputWidths = {hidden, 1};
  s.inputDtypes = {fb::DType::F32, fb::DType::I32};
  s.inputRows = {fb::Rows::Tokens, fb::Rows::LogitRows};
  s.outputWidth = vocab;
  s.weights = {{vocab, hidden}};
  return s;
}

void logitsRun(const KernelArgs &a) {
  int64_t hidden = a.params.getInt("hidden"), vocab = a.params.getInt("vocab");
  const int32_t *rows = inI32(a, 1);
  for (int64_t r = 0; r < a.logitRows; ++r)
    if (rows[r] < 0 || rows[r] >= a.tokens)
      fail("logits: logit row {} is {}, outside the step's {} tokens", r, rows[r], a.tokens);
  matmulTransposedB(in(a, 0), hidden, rows, a.logitRows, a.weights[0], vocab, hidden, nullptr,
                    out(a));
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

void ropeRun(const KernelArgs &a) {
  int64_t heads = a.params.getInt("num_heads"), headDim = a.params.getInt("head_dim");
  std::span<const float> invFreq = a.params.getFloatArray("inv_freq");
  float factor = static_cast<float>(a.params.getFloat("attention_factor", 1.0));
  int64_t half = static_cast<int64_t>(invFreq.size()), width = heads * headDim;
  const int32_t *pos = inI32(a, 1);
#pragma omp parallel if (worthThreads(a.tokens * width))
  {
    static thread_local std::vector<float> buf;
    float *cs = scratch(buf, 2 * half);
#pragma omp for schedule(static)
    for (int64_t t = 0; t < a.tokens; ++t) {
      for (int64_t i = 0; i < half; ++i) {
        // As torch: the angle is a float32 product, cos/sin in float32.
        float angle = static_cast<float>(pos[t]) * invFreq[i];
        cs[i] = std::cos(angle) * factor;
        cs[half + i] = std::sin(angle) * factor;
      }
      const float *x = in(a, 0) + t * width;
      float *y = out(a) + t * width;
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
  }
}

// ---------------------------------------------------------------------------------------------
// attention(q, k, v): append k, v to the cache at the step's positions, then causal (optionally
// sliding-window) grouped-query attention over the cache.

KernelShapes attentionShapes(const KernelParams &p, int) {
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
  KernelShapes s = rowwise(3, heads * headDim);
  s.inputWidths[1] = s.inputWidths[2] = kvHeads * headDim;
  s.kvLayer = static_cast<int>(layer);
  s.kvRowWidth = kvHeads * headDim;
  s.kvHeadDim = headDim;
  return s;
}

// One query head of one token: softmax(scale * q.k_j) over the visible positions, times v_j.
void attendOne(const KVCache &kv, int layer, const float *q, int64_t kvOffset, int64_t headDim,
               int32_t lo, int32_t hi, float scale, float *scores, float *acc, float *y) {
  int32_t n = hi - lo + 1;
  for (int32_t j = 0; j < n; j += 4) {
    const float *x[1] = {q};
    const float *w[4];
    for (int32_t c = 0; c < 4; ++c)
      w[c] = kv.key(layer, lo + std::min(j + c, n - 1)) + kvOffset;
    float res[1][4];
    dotTile<1, 4>(x, w, headDim, res);
    for (int32_t c = 0; c < 4 && j + c < n; ++c)
      scores[j + c] = res[0][c] * scale;
  }
  float m = scores[0];
  for (int32_t j = 1; j < n; ++j)
    m = std::max(m, scores[j]);
  float total = 0.0f;
  for (int32_t j = 0; j < n; ++j) {
    scores[j] = std::exp(scores[j] - m);
    total += scores[j];
  }
  std::fill(acc, acc + headDim, 0.0f);
  for (int32_t j = 0; j < n; ++j) {
    float p = scores[j] / total;
    const float *v = kv.value(layer, lo + j) + kvOffset;
    for (int64_t d = 0; d < headDim; ++d)
      acc[d] += p * v[d];
  }
  std::memcpy(y, acc, headDim * sizeof(float));
}

void attentionRun(const KernelArgs &a) {
  const KernelParams &p = a.params;
  int layer = static_cast<int>(p.getInt("layer"));
  int64_t heads = p.getInt("num_heads"), kvHeads = p.getInt("num_kv_heads");
  int64_t headDim = p.getInt("head_dim"), window = p.getInt("sliding_window");
  float scale = static_cast<float>(p.getFloat("scale"));
  KVCache &kv = *a.kvCache;
  int64_t kvWidth = kvHeads * headDim, qWidth = heads * headDim, group = heads / kvHeads;
  for (int64_t t = 0; t < a.tokens; ++t)
    if (a.positions[t] < 0 || a.positions[t] >= kv.capacity())
      fail("attention: position {} at row {} is outside the KV cache's {} positions",
           a.positions[t], t, kv.capacity());
  // Append first: query t may see keys of earlier tokens of this same step.
  for (int64_t t = 0; t < a.tokens; ++t) {
    std::memcpy(kv.key(layer, a.positions[t]), in(a, 1) + t * kvWidth, kvWidth * sizeof(float));
    std::memcpy(kv.value(layer, a.positions[t]), in(a, 2) + t * kvWidth, kvWidth * sizeof(float));
  }
#pragma omp parallel if (worthThreads(a.tokens * heads * headDim * (kv.length() + a.tokens)))
  {
    static thread_local std::vector<float> scoreBuf, accBuf;
    float *acc = scratch(accBuf, headDim);
#pragma omp for collapse(2) schedule(dynamic, 1)
    for (int64_t t = 0; t < a.tokens; ++t)
      for (int64_t h = 0; h < heads; ++h) {
        int32_t hi = a.positions[t];
        int32_t lo = window > 0 ? static_cast<int32_t>(std::max<int64_t>(0, hi - window + 1)) : 0;
        float *scores = scratch(scoreBuf, hi - lo + 1);
        attendOne(kv, layer, in(a, 0) + t * qWidth + h * headDim, (h / group) * headDim, headDim,
                  lo, hi, scale, scores, acc, out(a) + t * qWidth + h * headDim);
      }
  }
}

// ---------------------------------------------------------------------------------------------
// gated_act(gate, up) = act(gate) * up; add; mul

enum class Act { Silu, Gelu, GeluTanh };

Act parseAct(const std::string &name) {
  if (name == "silu")
    return Act::Silu;
  if (name == "gelu")
    return Act::Gelu;
  if (name == "gelu_tanh")
    return Act::GeluTanh;
  fail("parameter 'act' is '{}', expected silu, gelu or gelu_tanh", name);
}

KernelShapes gatedActShapes(const KernelParams &p, int) {
  parseAct(p.getString("act"));
  return rowwise(2, positiveInt(p, "width"));
}

template <Act A> float activate(float g) {
  if constexpr (A == Act::Silu)
    return g / (1.0f + std::exp(-g));
  else if constexpr (A == Act::Gelu)
    return 0.5f * g * (1.0f + std::erf(g * static_cast<float>(M_SQRT1_2)));
  else
    return 0.5f * g * (1.0f + std::tanh(0.7978845608028654f * (g + 0.044715f * g * g * g)));
}

template <Act A> void gatedActLoop(const float *g, const float *u, float *y, int64_t n) {
#pragma omp parallel for if (worthThreads(n)) schedule(static)
  for (int64_t i = 0; i < n; ++i)
    y[i] = activate<A>(g[i]) * u[i];
}

void gatedActRun(const KernelArgs &a) {
  int64_t n = a.tokens * a.params.getInt("width");
  switch (parseAct(a.params.getString("act"))) {
  case Act::Silu:
    gatedActLoop<Act::Silu>(in(a, 0), in(a, 1), out(a), n);
    break;
  case Act::Gelu:
    gatedActLoop<Act::Gelu>(in(a, 0), in(a, 1), out(a), n);
    break;
  case Act::GeluTanh:
    gatedActLoop<Act::GeluTanh>(in(a, 0), in(a, 1), out(a), n);
    break;
  }
}

KernelShapes elementwiseShapes(const KernelParams &p, int) {
  return rowwise(2, positiveInt(p, "width"));
}

void addRun(const KernelArgs &a) {
  int64_t n = a.tokens * a.params.getInt("width");
  const float *x = in(a, 0), *y = in(a, 1);
  float *o = out(a);
#pragma omp parallel for if (worthThreads(n)) schedule(static)
  for (int64_t i = 0; i < n; ++i)
    o[i] = x[i] + y[i];
}

void mulRun(const KernelArgs &a) {
  int64_t n = a.tokens * a.params.getInt("width");
  const float *x = in(a, 0), *y = in(a, 1);
  float *o = out(a);
#pragma omp parallel for if (worthThreads(n)) schedule(static)
  for (int64_t i = 0; i < n; ++i)
    o[i] = x[i] * y[i];
}

const std::array kCpuKernels{
    CpuKernelFn{"embedding", embeddingRun, embeddingShapes},
    CpuKernelFn{"rms_norm", rmsNormRun, normShapes},
    CpuKernelFn{"layer_norm", layerNormRun, normShapes},
    CpuKernelFn{"linear", linearRun, linearShapes},
    CpuKernelFn{"rope", ropeRun, ropeShapes},
    CpuKernelFn{"attention", attentionRun, attentionShapes},
    CpuKernelFn{"gated_act", gatedActRun, gatedActShapes},
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
