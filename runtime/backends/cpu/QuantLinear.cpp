#include "backends/cpu/QuantLinear.h"

#include "backends/cpu/ParamChecks.h"

#include "support/Error.h"
#include "support/ThreadPool.h"

#include <algorithm>
#include <vector>

namespace llmrt::cpu {

using llm::fail;
using llm::quant::Layout;
using llm::quant::Scheme;

namespace {

// Below this many multiply-adds a call runs on the calling thread (as in CpuKernels.cpp).
constexpr int64_t kMinParallelWork = int64_t{1} << 15;

fb::DType dtypeOf(Scheme s) {
  switch (s) {
  case Scheme::Q8_0: return fb::DType::Q8_0;
  case Scheme::Q4_0: return fb::DType::Q4_0;
  case Scheme::Q4_1: return fb::DType::Q4_1;
  case Scheme::W8: return fb::DType::W8;
  case Scheme::Q4_K: return fb::DType::Q4_K;
  case Scheme::Q5_K: return fb::DType::Q5_K;
  case Scheme::Q6_K: return fb::DType::Q6_K;
  case Scheme::W4G32: return fb::DType::W4G32;
  case Scheme::W4G64: return fb::DType::W4G64;
  case Scheme::W4G128: return fb::DType::W4G128;
  case Scheme::W4G32A: return fb::DType::W4G32A;
  case Scheme::W4G64A: return fb::DType::W4G64A;
  case Scheme::W4G128A: return fb::DType::W4G128A;
  case Scheme::FP8: return fb::DType::WFP8;
  case Scheme::Q5_0: return fb::DType::Q5_0;
  case Scheme::Q5_1: return fb::DType::Q5_1;
  }
  return fb::DType::F32;
}

// A quantized weight's rows are whole blocks (32 elements; 256 for the k-quants; the group for
// w4g*).
int64_t blockedInt(const KernelParams &p, std::string_view name, Scheme scheme) {
  int64_t v = positiveInt(p, name);
  if (v % llm::quant::blockElems(scheme) != 0)
    fail("parameter '{}' is {}: a {} weight needs rows of whole {}-element blocks", name, v,
         llm::quant::schemeName(scheme), llm::quant::blockElems(scheme));
  return v;
}

template <class T> T *grow(std::vector<T> &buf, size_t n) {
  if (buf.size() < n)
    buf.resize(std::max(n, buf.size() * 2));
  return buf.data();
}

// The weight layout of a call, checked against its row count.
std::string_view layoutOf(const KernelParams &p, Scheme scheme, int64_t rows) {
  Layout l = weightLayout(p, scheme);
  if (l == Layout::Rows8 && rows % llm::quant::kTileRows != 0)
    fail("parameter 'weight_layout' is {}, but the weight has {} rows, not a multiple of {}",
         llm::quant::kRows8Layout, rows, llm::quant::kTileRows);
  return llm::quant::layoutName(l);
}

const uint8_t *weightBytes(const KernelArgs &a, int i) {
  return reinterpret_cast<const uint8_t *>(a.weights[i]);
}

// out (+ bias, glu) = act . W for W in rows8_blocks: each task takes groups of 8 output
// features; activation rows are walked in chunks that stay in cache across the task's groups.
void tileMatmul(Scheme scheme, const ActBlock *act, int64_t rows, const uint8_t *w, int64_t n,
                int64_t blocks, const float *bias, float *out, std::optional<Activation> glu,
                DotTilesFn dot, bool parallel) {
  constexpr int64_t kTile = llm::quant::kTileRows, kChunk = 64;
  if (n % kTile != 0)
    fail("a {} weight in {} has {} rows, expected a multiple of {}", llm::quant::schemeName(scheme),
         llm::quant::kRows8Layout, n, kTile);
  // 8 rows' bytes (a tile per block; w4g*: per group of G / 32 blocks).
  const size_t groupBytes = kTile * llm::quant::rowBytes(scheme, blocks * llm::quant::kBlockElems);
  auto task = [&](int64_t begin, int64_t end) {
    float res[kChunk * kTile], up[kChunk * kTile];
    for (int64_t r0 = 0; r0 < rows; r0 += kChunk) {
      const int64_t rc = std::min(kChunk, rows - r0);
      for (int64_t g = begin; g < end; ++g) {
        const int64_t n0 = g * kTile;
        dot(scheme, w + g * groupBytes, act + r0 * blocks, rc, blocks, res, kTile);
        if (glu)
          dot(scheme, w + (n / kTile + g) * groupBytes, act + r0 * blocks, rc, blocks, up, kTile);
        for (int64_t i = 0; i < rc; ++i) {
          float *o = out + (r0 + i) * n + n0, *ri = res + i * kTile, *ui = up + i * kTile;
          for (int64_t j = 0; j < kTile; ++j)
            ri[j] += bias ? bias[n0 + j] : 0.0f;
          if (!glu) {
            std::copy(ri, ri + kTile, o);
            continue;
          }
          for (int64_t j = 0; j < kTile; ++j)
            ui[j] += bias ? bias[n + n0 + j] : 0.0f;
          applyGlu(*glu, ri, ui, o, kTile);
        }
      }
    }
  };
  ThreadPool::global().parallelFor(n / kTile, task, parallel);
}

} // namespace

std::optional<Scheme> weightFormat(const KernelParams &params) {
  if (!params.has("weight_format"))
    return std::nullopt;
  const std::string &name = params.getString("weight_format");
  if (name == "f32")
    return std::nullopt;
  std::optional<Scheme> s = llm::quant::parseScheme(name);
  if (!s)
    fail("parameter 'weight_format' is '{}', expected f32, q8_0, q4_0, q4_1, w8, q4_k, q5_k, "
         "q6_k, w4g32, w4g64, w4g128, w4g32a, w4g64a, w4g128a or fp8",
         name);
  return s;
}

Layout weightLayout(const KernelParams &params, Scheme scheme) {
  if (!params.has("weight_layout"))
    return Layout::RowBlocks;
  const std::string &name = params.getString("weight_layout");
  std::optional<Layout> l = llm::quant::parseLayout(name);
  if (!l)
    fail("parameter 'weight_layout' is '{}', expected {} or {}", name,
         llm::quant::kRowBlocksLayout, llm::quant::kRows8Layout);
  if (*l == Layout::Rows8 && !llm::quant::hasRows8Layout(scheme))
    fail("parameter 'weight_layout' is {}, which a {} weight does not have (only {} have it)",
         name, llm::quant::schemeName(scheme), llm::quant::kRows8Schemes);
  return *l;
}

void quantMatmul(Scheme scheme, const float *x, int64_t ldx, const int32_t *rowIdx, int64_t rows,
                 const uint8_t *w, int64_t n, int64_t k, const float *bias, float *out,
                 std::optional<Activation> glu, Isa isa, Layout layout) {
  const int64_t blocks = k / llm::quant::kBlockElems;
  const size_t rowBytes = llm::quant::rowBytes(scheme, k);
  const bool fp8 = scheme == Scheme::FP8; // float activations, no ActBlocks
  const DotRows4Fn dot = dotRows4For(isa);
  const DotRows4x2Fn dot2 = dotRows4x2For(isa);
  const DotFp8Rows4Fn dotFp8 = dotFp8Rows4For(isa);
  static thread_local std::vector<ActBlock> actBuf;
  // NOTE: the calling thread's buffer, shared read-only with the team below.
  ActBlock *act = fp8 ? nullptr : grow(actBuf, static_cast<size_t>(rows * blocks));
  const bool parallel = rows * n * k * (glu ? 2 : 1) >= kMinParallelWork;
  ThreadPool &pool = ThreadPool::global();
  if (!fp8)
    pool.parallelFor(
        rows,
        [&](int64_t begin, int64_t end) {
          for (int64_t r = begin; r < end; ++r)
            quantizeActivations(x + (rowIdx ? rowIdx[r] : r) * ldx, k, act + r * blocks, isa);
        },
        parallel);
  if (layout == Layout::Rows8)
    return tileMatmul(scheme, act, rows, w, n, blocks, bias, out, glu, dotTilesFor(isa), parallel);
  auto xRow = [&](int64_t r) { return x + (rowIdx ? rowIdx[r] : r) * ldx; };
  // Four weight rows against activation rows r and r + 1 (pair == 2) or r alone.
  auto dots = [&](const uint8_t *const wr[4], int64_t r, int64_t pair, float out0[4],
                  float out1[4]) {
    if (fp8)
      return dotFp8(wr, xRow(r), pair == 2 ? xRow(r + 1) : nullptr, k, out0, out1);
    const ActBlock *a0 = act + r * blocks;
    if (pair == 2)
      dot2(scheme, wr, a0, a0 + blocks, blocks, out0, out1);
    else
      dot(scheme, wr, a0, blocks, out0);
  };
  // Output features [4 g, 4 g + 4) against every activation row.
  auto group = [&](int64_t g) {
    int64_t n0 = g * 4, width = std::min<int64_t>(4, n - n0);
    const uint8_t *wr[4], *ur[4];
    for (int64_t j = 0; j < 4; ++j) {
      int64_t col = n0 + std::min(j, width - 1); // tails repeat the last row (not stored)
      wr[j] = w + col * rowBytes;
      ur[j] = w + (n + col) * rowBytes;
    }
    // Rows in pairs (one pass over the weight blocks for two rows), the odd last one alone:
    // either way each output has the bits of dotRows4.
    for (int64_t r = 0; r < rows; r += 2) {
      int64_t pair = std::min<int64_t>(2, rows - r);
      float res[2][4], up[2][4];
      dots(wr, r, pair, res[0], res[1]);
      if (glu)
        dots(ur, r, pair, up[0], up[1]);
      for (int64_t i = 0; i < pair; ++i) {
        float *o = out + (r + i) * n + n0;
        if (!glu) {
          for (int64_t j = 0; j < width; ++j)
            o[j] = res[i][j] + (bias ? bias[n0 + j] : 0.0f);
          continue;
        }
        for (int64_t j = 0; j < width; ++j) {
          res[i][j] += bias ? bias[n0 + j] : 0.0f;
          up[i][j] += bias ? bias[n + n0 + j] : 0.0f;
        }
        applyGlu(*glu, res[i], up[i], o, width);
      }
    }
  };
  pool.parallelFor(
      (n + 3) / 4,
      [&](int64_t begin, int64_t end) {
        for (int64_t g = begin; g < end; ++g)
          group(g);
      },
      parallel);
}

KernelShapes quantLinearShapes(const KernelParams &p, int numWeights) {
  Scheme scheme = *weightFormat(p);
  int64_t k = blockedInt(p, "in_features", scheme), n = positiveInt(p, "out_features");
  int64_t hasBias = linearBias(p, numWeights);
  int64_t rows = linearEpilogue(p) ? 2 * n : n;
  KernelShapes s;
  s.inputWidths = {k};
  s.inputDtypes = {fb::DType::F32};
  s.inputRows = {fb::Rows::Tokens};
  s.outputWidths = {n};
  s.weights = {{rows, k}};
  s.weightDtypes = {dtypeOf(scheme)};
  s.weightLayouts = {layoutOf(p, scheme, rows)};
  if (hasBias) {
    s.weights.push_back({rows});
    s.weightDtypes.push_back(fb::DType::F32);
    s.weightLayouts.push_back("row_major");
  }
  return s;
}

void quantLinearRun(const KernelArgs &a) {
  int64_t k = a.params.getInt("in_features"), n = a.params.getInt("out_features");
  const float *bias = a.params.getInt("has_bias") ? a.weights[1] : nullptr;
  quantMatmul(*weightFormat(a.params), static_cast<const float *>(a.inputs[0]), k, nullptr,
              a.tokens, weightBytes(a, 0), n, k, bias, static_cast<float *>(a.output),
              linearEpilogue(a.params), bestIsa(), weightLayout(a.params, *weightFormat(a.params)));
}

KernelShapes quantLogitsShapes(const KernelParams &p, int) {
  Scheme scheme = *weightFormat(p);
  int64_t hidden = blockedInt(p, "hidden", scheme), vocab = positiveInt(p, "vocab");
  KernelShapes s;
  s.inputWidths = {hidden, 1};
  s.inputDtypes = {fb::DType::F32, fb::DType::I32};
  s.inputRows = {fb::Rows::Tokens, fb::Rows::LogitRows};
  s.outputWidths = {vocab};
  s.weights = {{vocab, hidden}};
  s.weightDtypes = {dtypeOf(scheme)};
  s.weightLayouts = {layoutOf(p, scheme, vocab)};
  return s;
}

void quantLogitsRun(const KernelArgs &a) {
  int64_t hidden = a.params.getInt("hidden"), vocab = a.params.getInt("vocab");
  const int32_t *rows = static_cast<const int32_t *>(a.inputs[1]);
  Scheme scheme = *weightFormat(a.params);
  quantMatmul(scheme, static_cast<const float *>(a.inputs[0]), hidden, rows, a.logitRows,
              weightBytes(a, 0), vocab, hidden, nullptr, static_cast<float *>(a.output),
              std::nullopt, bestIsa(), weightLayout(a.params, scheme));
}

KernelShapes quantEmbeddingShapes(const KernelParams &p, int) {
  Scheme scheme = *weightFormat(p);
  int64_t hidden = blockedInt(p, "hidden", scheme), vocab = positiveInt(p, "vocab");
  KernelShapes s;
  s.inputWidths = {1};
  s.inputDtypes = {fb::DType::I32};
  s.inputRows = {fb::Rows::Tokens};
  s.outputWidths = {hidden};
  s.weights = {{vocab, hidden}};
  s.weightDtypes = {dtypeOf(scheme)};
  s.weightLayouts = {layoutOf(p, scheme, vocab)};
  return s;
}

// Rows are dequantized by the reference dequantizer: the same floats as llmc's --quant none.
void quantEmbeddingRun(const KernelArgs &a) {
  Scheme scheme = *weightFormat(a.params);
  int64_t hidden = a.params.getInt("hidden");
  const int32_t *ids = static_cast<const int32_t *>(a.inputs[0]);
  const uint64_t rowBytes = llm::quant::tensorBytes(scheme, 1, hidden);
  const bool tiles = weightLayout(a.params, scheme) == Layout::Rows8;
  float *y = static_cast<float *>(a.output);
  ThreadPool::global().parallelFor(
      a.tokens,
      [&](int64_t begin, int64_t end) {
        std::vector<uint8_t> row(tiles ? rowBytes : 0);
        for (int64_t t = begin; t < end; ++t) {
          const uint8_t *src = weightBytes(a, 0) + ids[t] * rowBytes;
          if (tiles) // the row's blocks gathered from its tiles
            llm::quant::rowFromRows8(scheme, weightBytes(a, 0), hidden, ids[t], row.data());
          llm::quant::dequantizeRows(scheme, tiles ? row.data() : src, 1, hidden, y + t * hidden);
        }
      },
      a.tokens * hidden >= kMinParallelWork);
}

} // namespace llmrt::cpu
