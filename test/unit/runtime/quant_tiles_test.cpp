// The rows8_blocks layout (QuantFormat.h's tiles) and its kernels: the byte permutation, its
// inverse and its refusals; every ISA path this CPU can run on tiles gives the bits of the
// row_blocks scalar reference on the same weights (plain, glu epilogue, bias, gathered rows,
// activation-row counts around the kernels' 4-row and 64-row steps, 1 to 3 threads); the kernel
// parameters and the embedding over tiles.
#include "QuantKernelChecks.h"
#include "backends/cpu/QuantLinear.h"
#include "plan/QuantFormat.h"
#include "support/Error.h"
#include "support/ThreadPool.h"

#include <gtest/gtest.h>

#include <cstring>
#include <numeric>
#include <random>

namespace llmrt::cpu {
namespace {

using llm::quant::Layout;
using llm::quant::Scheme;
constexpr Scheme kTileSchemes[] = {Scheme::Q8_0,   Scheme::Q4_0,   Scheme::Q4_1,  Scheme::Q5_0,
                                   Scheme::Q5_1,   Scheme::W4G32,  Scheme::W4G64, Scheme::W4G128,
                                   Scheme::W4G32A, Scheme::W4G64A, Scheme::W4G128A};

quantcheck::QuantProblem makeProblem(Scheme s, int64_t rows, int64_t wrows, int64_t k,
                                     uint32_t seed) {
  return quantcheck::randomProblem(s, rows, wrows, k, seed);
}

// k rounded up to whole blocks of s (w4g*: groups).
int64_t wholeBlocks(Scheme s, int64_t k) {
  const int64_t b = llm::quant::blockElems(s);
  return (k + b - 1) / b * b;
}

std::vector<uint8_t> tiled(Scheme s, const std::vector<uint8_t> &w, int64_t rows, int64_t k) {
  std::vector<uint8_t> t(w.size());
  llm::quant::toRows8(s, w.data(), rows, k, t.data());
  return t;
}

// Each byte of a row_blocks tensor lands where QuantFormat.h says, and fromRows8 undoes it. A
// block (w4g*: a group) is `halves` f16 fields, `bytes` u8 fields (w4g*: zero, pad), then quants
// (q5: qh, then qs, so chunk 0 holds the 8 rows' qh words and chunks 1 .. 4 their nibbles).
TEST(QuantTiles, LayoutPlacesEveryByteAsDocumented) {
  for (Scheme s : kTileSchemes) {
    SCOPED_TRACE(llm::quant::schemeName(s));
    const int64_t rows = 16, k = 256, blocks = k / llm::quant::blockElems(s);
    const size_t bb = llm::quant::blockBytes(s), tb = llm::quant::tileBytes(s);
    ASSERT_EQ(tb, 8 * bb);
    const bool w4 = llm::quant::w4GroupElems(s) != 0;
    const int halves = s == Scheme::Q4_1 || s == Scheme::Q5_1 ? 2 : 1, bytes = w4 ? 2 : 0;
    const int quants = s == Scheme::Q8_0 || s == Scheme::Q4_0 || s == Scheme::Q5_0
                           ? 16
                           : 32; // QuantFormat.h's H
    ASSERT_EQ(quants, 16 * halves + 8 * bytes);
    std::vector<uint8_t> w(llm::quant::tensorBytes(s, rows, k));
    std::mt19937 rng(7);
    for (uint8_t &b : w)
      b = static_cast<uint8_t>(rng());
    std::vector<uint8_t> t = tiled(s, w, rows, k);
    for (int64_t row = 0; row < rows; ++row)
      for (int64_t b = 0; b < blocks; ++b) {
        const uint8_t *block = w.data() + (row * blocks + b) * bb;
        const uint8_t *tile = t.data() + ((row / 8) * blocks + b) * tb;
        const int r = static_cast<int>(row % 8);
        for (int h = 0; h < halves; ++h)
          for (int i = 0; i < 2; ++i)
            ASSERT_EQ(tile[16 * h + 2 * r + i], block[2 * h + i]) << row << " " << b;
        for (int f = 0; f < bytes; ++f) // w4g*: zero at 16 + r, pad at 24 + r
          ASSERT_EQ(tile[16 + 8 * f + r], block[2 + f]) << row << " " << b;
        const int head = 2 * halves + bytes;
        for (size_t i = 0; i < bb - head; ++i)
          ASSERT_EQ(tile[quants + 32 * (i / 4) + 4 * r + i % 4], block[head + i])
              << row << " " << b << " " << i;
        if (s == Scheme::Q5_0 || s == Scheme::Q5_1) { // qh word at H + 4 r, qs from H + 32
          ASSERT_EQ(0, std::memcmp(tile + quants + 4 * r, block + head, 4));
          for (int i = 0; i < 16; ++i)
            ASSERT_EQ(tile[quants + 32 * (1 + i / 4) + 4 * r + i % 4], block[head + 4 + i]);
        }
      }
    std::vector<uint8_t> back(w.size()), one(llm::quant::rowBytes(s, k));
    llm::quant::fromRows8(s, t.data(), rows, k, back.data());
    EXPECT_EQ(back, w);
    llm::quant::rowFromRows8(s, t.data(), k, 13, one.data());
    EXPECT_EQ(0, std::memcmp(one.data(), w.data() + 13 * one.size(), one.size()));
  }
}

// Quantized w4g* groups have pad 0, so their tiles' 8 pad bytes are 0; symmetric ones store zero 8.
TEST(QuantTiles, W4TilesHoldZerosAndZeroPad) {
  for (Scheme s : {Scheme::W4G64, Scheme::W4G64A}) {
    SCOPED_TRACE(llm::quant::schemeName(s));
    quantcheck::QuantProblem p = makeProblem(s, 1, 16, 128, 5);
    std::vector<uint8_t> t = tiled(s, p.w, 16, 128);
    for (size_t tile = 0; tile < t.size() / llm::quant::tileBytes(s); ++tile)
      for (int r = 0; r < 8; ++r) {
        const uint8_t *base = t.data() + tile * llm::quant::tileBytes(s);
        EXPECT_EQ(base[24 + r], 0) << tile << " " << r;
        if (s == Scheme::W4G64) {
          EXPECT_EQ(base[16 + r], 8) << tile << " " << r;
        }
      }
  }
}

TEST(QuantTiles, RefusesRowCountsAndFormatsWithoutTiles) {
  std::vector<uint8_t> w(llm::quant::tensorBytes(Scheme::Q4_0, 12, 64)), out(w.size());
  try {
    llm::quant::toRows8(Scheme::Q4_0, w.data(), 12, 64, out.data());
    FAIL() << "12 rows accepted";
  } catch (const llm::Error &e) {
    EXPECT_NE(std::string(e.what()).find("multiple of 8"), std::string::npos) << e.what();
  }
  std::vector<uint8_t> k(llm::quant::tensorBytes(Scheme::W8, 8, 256)), kout(k.size());
  EXPECT_THROW(llm::quant::toRows8(Scheme::W8, k.data(), 8, 256, kout.data()), llm::Error);
  EXPECT_THROW(llm::quant::toRows8(Scheme::Q8_0, w.data(), 8, 48, out.data()), llm::Error);
  EXPECT_EQ(llm::quant::parseLayout("rows8_blocks"), Layout::Rows8);
  EXPECT_EQ(llm::quant::parseLayout("row_blocks"), Layout::RowBlocks);
  EXPECT_FALSE(llm::quant::parseLayout("row_major"));
}

// Tiles on every path give the row_blocks scalar reference's bits, for the whole product and for
// its last row alone (batch invariance, logits' gathered rows), on 1 to 3 threads.
TEST(QuantTiles, EveryIsaPathOnTilesMatchesTheRowBlocksReference) {
  quantcheck::expectTilesOnEveryPath(
      {std::begin(kTileSchemes), std::end(kTileSchemes)},
      {{1, 8, 32}, {1, 40, 160}, {1, 48, 96}, {2, 16, 64}, {3, 8, 96}, {4, 24, 160}, {5, 8, 576},
       {7, 72, 64}, {9, 16, 1536},
       {64, 8, 64}, {67, 16, 96}, {130, 8, 32}},
      [](Scheme s, const quantcheck::TileCase &c, bool glu) {
        const int64_t k = wholeBlocks(s, c.k);
        return std::pair{makeProblem(s, c.rows, glu ? 2 * c.n : c.n, k,
                                     static_cast<uint32_t>(c.rows * k + c.n)),
                         k};
      });
}


// Calls of 1 to 8 activation rows on a shape big enough for the team (the other tests' shapes
// mostly run on the calling thread alone): on 1 to 3 threads, with new inputs one call after
// another, with and without the glu epilogue and gathered rows, in both layouts, every row has the
// bits of that input's row alone on one thread.
TEST(QuantTiles, RowsOnTheTeamGiveTheBitsOfOneRowOnOneThread) {
  const int64_t n = 256, k = 576;
  const int saved = ThreadPool::global().threads();
  for (Scheme s : {Scheme::Q4_0, Scheme::Q8_0})
    for (Layout layout : {Layout::Rows8, Layout::RowBlocks})
      for (bool glu : {false, true}) {
        const quantcheck::QuantProblem p = makeProblem(s, 8, glu ? 2 * n : n, k, 91);
        const std::vector<uint8_t> w =
            layout == Layout::Rows8 ? tiled(s, p.w, glu ? 2 * n : n, k) : p.w;
        const std::optional<Activation> act =
            glu ? std::optional<Activation>(Activation::Silu) : std::nullopt;
        auto matmul = [&](const float *x, const int32_t *idx, int64_t rows, float *out) {
          quantMatmul(s, x, k, idx, rows, w.data(), n, k, p.bias.data(), out, act, bestIsa(),
                      layout);
        };
        std::vector<std::vector<float>> want(8, std::vector<float>(n));
        ThreadPool::global().setThreads(1);
        for (int64_t r = 0; r < 8; ++r)
          matmul(p.x.data() + r * k, nullptr, 1, want[r].data());
        for (int threads : {1, 2, 3}) {
          ThreadPool::global().setThreads(threads);
          for (int rep = 0; rep < 3; ++rep)
            for (int64_t rows : {1, 2, 4, 5, 8})
              for (bool gathered : {false, true}) {
                SCOPED_TRACE(::testing::Message()
                             << llm::quant::schemeName(s) << " " << llm::quant::layoutName(layout)
                             << (glu ? " glu" : "") << ", threads " << threads << ", rows "
                             << rows << (gathered ? " gathered" : ""));
                // Rows in a new order each time: (first + i) mod 8.
                const int64_t first = (rep * 3 + rows) % 8;
                std::vector<int32_t> idx(rows);
                for (int64_t i = 0; i < rows; ++i)
                  idx[i] = static_cast<int32_t>((first + i) % 8);
                std::vector<float> x(rows * k), got(rows * n);
                for (int64_t i = 0; i < rows; ++i)
                  std::memcpy(x.data() + i * k, p.x.data() + idx[i] * k, k * sizeof(float));
                if (gathered)
                  matmul(p.x.data(), idx.data(), rows, got.data());
                else
                  matmul(x.data(), nullptr, rows, got.data());
                for (int64_t i = 0; i < rows; ++i)
                  ASSERT_EQ(0, std::memcmp(got.data() + i * n, want[idx[i]].data(),
                                           n * sizeof(float)))
                      << "row " << i;
              }
        }
      }
  ThreadPool::global().setThreads(saved);
}

// The largest integer sums a w4g* run can have (nibbles 15 or 0, activations +-127, zero 0 or 15)
// stay exact in the kernels' int16 lanes: tiles give the row_blocks reference's bits.
TEST(QuantTiles, W4ExtremeSumsMatchTheReference) {
  const Scheme s = Scheme::W4G64A;
  const int64_t n = 8, k = 128, rows = 3;
  std::vector<uint8_t> w(llm::quant::tensorBytes(s, n, k));
  const size_t bb = llm::quant::blockBytes(s);
  for (size_t g = 0; g < w.size() / bb; ++g) {
    llm::quant::W4GroupHeader h{llm::quant::floatToHalf(0.5f), static_cast<uint8_t>(g % 2 ? 15 : 0),
                                0};
    std::memcpy(w.data() + g * bb, &h, sizeof h);
    std::memset(w.data() + g * bb + sizeof h, g % 3 ? 0xff : 0x0f, bb - sizeof h);
  }
  std::vector<float> x(rows * k);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = i / k == 1 ? -1.0f : 1.0f; // rows of +127 and -127
  quantcheck::expectTilesMatchReference(s, w, n, k, x, rows);
}

// The largest q5 sums (all 5th bits set and nibbles 15, so q = 31, against activations +-127;
// and q = 16, q = 15, q = 0 blocks between) stay exact: a kernel that gathered more than 4 maddubs
// pair sums (31 * 127 * 2 each) in an int16 lane would overflow. Tiles give the reference's bits.
TEST(QuantTiles, Q5ExtremeSumsMatchTheReference) {
  const int64_t n = 16, k = 256, rows = 5;
  const uint32_t qhs[] = {0xffffffffu, 0xffffffffu, 0x0000ffffu, 0u};
  const uint8_t qss[] = {0xff, 0x00, 0xff, 0xff};
  for (Scheme s : {Scheme::Q5_0, Scheme::Q5_1}) {
    SCOPED_TRACE(llm::quant::schemeName(s));
    std::vector<uint8_t> w(llm::quant::tensorBytes(s, n, k));
    const size_t bb = llm::quant::blockBytes(s), head = s == Scheme::Q5_1 ? 4 : 2;
    for (size_t b = 0; b < w.size() / bb; ++b) {
      uint8_t *block = w.data() + b * bb;
      const uint16_t d = llm::quant::floatToHalf(b % 2 ? 0.25f : 0.5f);
      const uint16_t m = llm::quant::floatToHalf(-4.0f);
      std::memcpy(block, &d, 2);
      if (s == Scheme::Q5_1)
        std::memcpy(block + 2, &m, 2);
      const size_t kind = b % 7 == 3 ? b % 4 : 0; // mostly q = 31
      std::memcpy(block + head, &qhs[kind], 4);
      std::memset(block + head + 4, qss[kind], 16);
    }
    std::vector<float> x(rows * k);
    for (size_t i = 0; i < x.size(); ++i)
      x[i] = i / k == 1 ? -1.0f : i / k == 3 ? (i % 2 ? 1.0f : -1.0f) : 1.0f;
    quantcheck::expectTilesMatchReference(s, w, n, k, x, rows);
  }
}

TEST(QuantTiles, WeightLayoutParameter) {
  KernelParams lin;
  lin.setInt("in_features", 64).setInt("out_features", 16).setInt("has_bias", 1);
  lin.setString("weight_format", "q4_0");
  EXPECT_EQ(quantLinearShapes(lin, 2).weightLayouts,
            (std::vector<std::string_view>{"row_blocks", "row_major"}));
  lin.setString("weight_layout", "rows8_blocks");
  EXPECT_EQ(weightLayout(lin, Scheme::Q4_0), Layout::Rows8);
  EXPECT_EQ(quantLinearShapes(lin, 2).weightLayouts,
            (std::vector<std::string_view>{"rows8_blocks", "row_major"}));
  lin.setInt("out_features", 12); // 12 rows are not whole tiles
  EXPECT_THROW(quantLinearShapes(lin, 2), llm::Error);
  lin.setInt("in_features", 128).setInt("out_features", 16);
  lin.setString("weight_format", "w4g128a");
  EXPECT_EQ(quantLinearShapes(lin, 2).weightLayouts,
            (std::vector<std::string_view>{"rows8_blocks", "row_major"}));
  lin.setInt("in_features", 256).setString("weight_format", "q4_k");
  EXPECT_EQ(weightLayout(lin, Scheme::Q4_K), Layout::Rows8);
  EXPECT_EQ(quantLinearShapes(lin, 2).weightLayouts,
            (std::vector<std::string_view>{"rows8_blocks", "row_major"}));
  lin.setString("weight_format", "q6_k");
  EXPECT_EQ(weightLayout(lin, Scheme::Q6_K), Layout::Rows8);
  lin.setInt("out_features", 16).setString("weight_format", "w8"); // w8 has no tiles
  EXPECT_THROW(quantLinearShapes(lin, 2), llm::Error);
  lin.setString("weight_format", "q8_0").setString("weight_layout", "columns");
  EXPECT_THROW(quantLinearShapes(lin, 2), llm::Error);
}

// The embedding gathers a row from its tiles: the same floats as from row_blocks.
TEST(QuantTiles, EmbeddingReadsRowsFromTiles) {
  const int64_t vocab = 24, hidden = 128;
  for (Scheme s : kTileSchemes) {
    SCOPED_TRACE(llm::quant::schemeName(s));
    quantcheck::QuantProblem p = makeProblem(s, 1, vocab, hidden, 11);
    std::vector<uint8_t> t = tiled(s, p.w, vocab, hidden);
    const int32_t ids[] = {0, 23, 9, 9, 17};
    std::vector<float> want(5 * hidden), got(5 * hidden);
    for (int i = 0; i < 5; ++i)
      llm::quant::dequantizeRows(s, p.w.data() + ids[i] * llm::quant::rowBytes(s, hidden), 1,
                                 hidden, want.data() + i * hidden);
    KernelParams params;
    params.setInt("hidden", hidden).setInt("vocab", vocab);
    params.setString("weight_format", std::string(llm::quant::schemeName(s)));
    params.setString("weight_layout", "rows8_blocks");
    const float *weights[] = {reinterpret_cast<const float *>(t.data())};
    const void *inputs[] = {ids};
    const KernelArgs a{.params = params,
                       .inputs = inputs,
                       .weights = weights,
                       .output = got.data(),
                       .outputs = nullptr,
                       .tokens = 5,
                       .logitRows = 0,
                       .positions = nullptr,
                       .kvCache = nullptr};
    quantEmbeddingRun(a);
    EXPECT_EQ(got, want);
  }
}

} // namespace
} // namespace llmrt::cpu
