// The GGUF k-quants (q4_k, q5_k, q6_k): dequantization against gguf.quants on blocks written by
// llama.cpp's quantizer and on random blocks (fixture made by
// tools/fixtures/make_kquant_fixtures.py), the scalar dot product against the dequantized values,
// and every dot-product ISA path this CPU can run against the scalar reference, bit for bit.
#include "QuantKernelChecks.h"
#include "backends/cpu/QuantLinear.h"
#include "plan/QuantFormat.h"
#include "support/Error.h"
#include "support/ThreadPool.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <fstream>
#include <iostream>
#include <random>

namespace llmrt::cpu {
namespace {

using llm::quant::Scheme;
constexpr Scheme kKSchemes[] = {Scheme::Q4_K, Scheme::Q5_K, Scheme::Q6_K};
constexpr const auto &kIsas = quantcheck::kAllIsas;

using quantcheck::fromHex;
using quantcheck::toBits;

TEST(KQuantFormat, DequantizeMatchesGgufQuantsBitForBit) {
  std::ifstream in(KQUANT_FIXTURE);
  nlohmann::json f = nlohmann::json::parse(in);
  int llamaCpp = 0;
  for (const auto &c : f.at("cases")) {
    std::string name = c.at("scheme"), origin = c.at("origin");
    SCOPED_TRACE(name + " " + origin);
    llamaCpp += origin == "llama.cpp";
    Scheme s = *llm::quant::parseScheme(name);
    int64_t rows = c.at("rows"), cols = c.at("cols");
    std::vector<uint8_t> blocks = fromHex(c.at("blocks_hex"));
    ASSERT_EQ(blocks.size(), llm::quant::tensorBytes(s, rows, cols));
    std::vector<float> y(rows * cols);
    llm::quant::dequantizeRows(s, blocks.data(), rows, cols, y.data());
    auto want = c.at("dequant_bits").get<std::vector<uint32_t>>();
    ASSERT_EQ(want.size(), y.size());
    for (size_t i = 0; i < y.size(); ++i)
      ASSERT_EQ(toBits(y[i]), want[i]) << "element " << i;
  }
  EXPECT_EQ(f.at("cases").size(), f.at("ggml_quantizer").get<bool>() ? 6u : 3u);
  std::cout << "k-quant cases from llama.cpp's quantizer: " << llamaCpp << "\n";
}

TEST(KQuantFormat, GeometryAndRefusals) {
  EXPECT_EQ(llm::quant::blockElems(Scheme::Q4_K), 256);
  EXPECT_EQ(llm::quant::blockElems(Scheme::Q4_1), 32);
  EXPECT_EQ(llm::quant::tensorBytes(Scheme::Q4_K, 3, 512), 3u * 2 * 144);
  EXPECT_EQ(llm::quant::tensorBytes(Scheme::Q5_K, 1, 256), 176u);
  EXPECT_EQ(llm::quant::tensorBytes(Scheme::Q6_K, 2, 768), 2u * 3 * 210);
  for (Scheme s : kKSchemes) {
    EXPECT_EQ(llm::quant::parseScheme(llm::quant::schemeName(s)), s);
    EXPECT_FALSE(llm::quant::hasQuantizer(s));
    std::vector<float> x(256);
    std::vector<uint8_t> out(llm::quant::tensorBytes(s, 1, 256));
    EXPECT_THROW(llm::quant::quantizeRows(s, x.data(), 1, 256, out.data()), llm::Error);
    EXPECT_THROW(llm::quant::checkRowLength(s, 288, "tensor 'w'"), llm::Error);
    EXPECT_NO_THROW(llm::quant::checkRowLength(s, 512, "tensor 'w'"));
  }
  try {
    llm::quant::checkRowLength(Scheme::Q6_K, 96, "tensor 'blk.0.ffn_down.weight'");
    ADD_FAILURE() << "accepted a 96-element q6_k row";
  } catch (const llm::Error &e) {
    EXPECT_NE(std::string(e.what()).find("blk.0.ffn_down.weight"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("256"), std::string::npos) << e.what();
  }
}

// Random super-blocks: random bytes with finite, moderate float16 scales, so every quant, scale
// and min bit pattern occurs.
std::vector<uint8_t> randomKBlocks(Scheme s, int64_t rows, int64_t cols, std::mt19937 &rng) {
  std::vector<uint8_t> w(llm::quant::tensorBytes(s, rows, cols));
  std::uniform_int_distribution<int> byte(0, 255);
  std::normal_distribution<float> nd;
  for (uint8_t &b : w)
    b = static_cast<uint8_t>(byte(rng));
  const size_t bb = llm::quant::blockBytes(s);
  auto half = [&](uint8_t *p, float scale) {
    uint16_t h = llm::quant::floatToHalf(nd(rng) * scale);
    std::memcpy(p, &h, 2);
  };
  for (size_t b = 0; b < w.size() / bb; ++b) {
    uint8_t *blk = w.data() + b * bb;
    if (s == Scheme::Q6_K) {
      half(blk + offsetof(llm::quant::BlockQ6_K, d), 1e-4f);
    } else {
      half(blk, 3e-4f);
      half(blk + 2, 1e-3f);
    }
  }
  return w;
}

struct Problem {
  int64_t rows, n, k;
  std::vector<float> x, bias;
  std::vector<uint8_t> w;
};

Problem makeProblem(Scheme s, int64_t rows, int64_t n, int64_t k, uint32_t seed, bool glu) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd;
  Problem p{rows, n, k, {}, {}, randomKBlocks(s, glu ? 2 * n : n, k, rng)};
  p.x.resize(rows * k);
  for (float &v : p.x)
    v = nd(rng);
  p.bias.resize(glu ? 2 * n : n);
  for (float &v : p.bias)
    v = nd(rng);
  return p;
}

// The scalar reference against exact arithmetic on the values it represents.
TEST(KQuantDot, ScalarReferenceComputesTheDequantizedDotProduct) {
  for (Scheme s : kKSchemes) {
    SCOPED_TRACE(llm::quant::schemeName(s));
    Problem p = makeProblem(s, 3, 5, 512, 11, false);
    quantcheck::expectScalarIsDequantizedDot(s, {p.x, p.bias, p.w}, 3, 5, 512);
  }
}

// Every ISA path, plain and with the glu epilogue and a bias, gives the scalar bits; so does a
// single row computed alone (batch invariance), gathered rows, and odd row counts (pairs and a
// single last row).
TEST(KQuantDot, EveryIsaPathMatchesTheScalarReferenceBitForBit) {
  struct Shape {
    int64_t rows, n, k;
  };
  const Shape shapes[] = {{1, 1, 256},  {1, 7, 512},   {2, 5, 768},
                          {5, 17, 256}, {3, 64, 1536}, {13, 33, 256}};
  int tested = 0;
  for (Isa isa : kIsas) {
    if (!isaSupported(isa) || isa == Isa::Scalar)
      continue;
    ++tested;
    for (Scheme s : kKSchemes)
      for (const Shape &sh : shapes)
        for (bool glu : {false, true}) {
          SCOPED_TRACE(std::string(isaName(isa)) + " " + std::string(llm::quant::schemeName(s)) +
                       " " + std::to_string(sh.rows) + "x" + std::to_string(sh.n) + "x" +
                       std::to_string(sh.k) + (glu ? " glu" : ""));
          Problem p = makeProblem(s, sh.rows, sh.n, sh.k, 2000 + sh.n + sh.k, glu);
          quantcheck::expectIsaMatchesScalar(isa, s, {p.x, p.bias, p.w}, sh.rows, sh.n, sh.k, glu);
        }
  }
  std::cout << "SIMD paths tested on this CPU: " << tested << " (best: " << isaName(bestIsa())
            << ")\n";
}

// k-quant tiles (rows8_blocks): the bytes land where QuantFormat.h says (q4_k, q5_k: d, dmin, the
// 12 scale bytes side by side, then the quants in 4-byte chunks; q6_k: d, the 16 scales side by
// side, then ql and qh in 4-byte chunks), fromRows8 undoes it, and every ISA path on tiles gives
// the row_blocks scalar reference's bits: plain, glu with bias, a gathered last row,
// activation-row counts around the kernels' 2-row and 64-row steps, 1 to 3 threads.
TEST(KQuantTiles, LayoutAndEveryIsaPathMatchTheRowBlocksReference) {
  for (Scheme s : kKSchemes) {
    SCOPED_TRACE(llm::quant::schemeName(s));
    ASSERT_TRUE(llm::quant::hasRows8Layout(s));
    std::mt19937 rng(3);
    const int64_t rows = 16, k = 512, blocks = 2;
    const size_t bb = llm::quant::blockBytes(s), tb = llm::quant::tileBytes(s);
    std::vector<uint8_t> w = randomKBlocks(s, rows, k, rng), t(w.size());
    llm::quant::toRows8(s, w.data(), rows, k, t.data());
    for (int64_t row = 0; row < rows; ++row)
      for (int64_t b = 0; b < blocks; ++b) {
        const uint8_t *block = w.data() + (row * blocks + b) * bb;
        const uint8_t *tile = t.data() + ((row / 8) * blocks + b) * tb;
        const int r = static_cast<int>(row % 8);
        if (s == Scheme::Q6_K) { // {ql[128]; qh[64]; scales[16]; d}
          ASSERT_EQ(0, std::memcmp(tile + 2 * r, block + 208, 2));
          for (int f = 0; f < 16; ++f)
            ASSERT_EQ(tile[16 + 8 * f + r], block[192 + f]);
          for (size_t i = 0; i < 192; ++i)
            ASSERT_EQ(tile[144 + 32 * (i / 4) + 4 * r + i % 4], block[i]);
          continue;
        }
        ASSERT_EQ(0, std::memcmp(tile + 2 * r, block, 2));         // d
        ASSERT_EQ(0, std::memcmp(tile + 16 + 2 * r, block + 2, 2)); // dmin
        for (int f = 0; f < 12; ++f)
          ASSERT_EQ(tile[32 + 8 * f + r], block[4 + f]);
        for (size_t i = 0; i < bb - 16; ++i) // q5_k: qh (chunks 0..7), then qs
          ASSERT_EQ(tile[128 + 32 * (i / 4) + 4 * r + i % 4], block[16 + i]);
      }
    std::vector<uint8_t> back(w.size());
    llm::quant::fromRows8(s, t.data(), rows, k, back.data());
    EXPECT_EQ(back, w);
  }
  quantcheck::expectTilesOnEveryPath(
      {std::begin(kKSchemes), std::end(kKSchemes)},
      {{1, 8, 256}, {2, 16, 512}, {3, 8, 768}, {5, 24, 256}, {9, 8, 1536}, {64, 8, 256},
       {67, 16, 512}},
      [](Scheme s, const quantcheck::TileCase &c, bool glu) {
        Problem p = makeProblem(s, c.rows, c.n, c.k, 3000 + c.rows + c.n + c.k, glu);
        return std::pair{quantcheck::QuantProblem{p.x, p.bias, p.w}, c.k};
      });
}

// The largest integer sums stay exact in the kernels' int16 lanes: every nibble 15 (q5_k: every
// 5th bit set too, q = 31) against activations of +-127 (inputs +-1), with the largest 6-bit
// scales and mins; q6_k with every quant -32 (|q - 32| = 32, the largest) and scales -1; tiles
// give the row_blocks reference's bits.
TEST(KQuantTiles, ExtremeSumsMatchTheReference) {
  for (Scheme s : kKSchemes) {
    SCOPED_TRACE(llm::quant::schemeName(s));
    const int64_t n = 8, k = 512, rows = 3;
    std::vector<uint8_t> w(llm::quant::tensorBytes(s, n, k), s == Scheme::Q6_K ? 0x00 : 0xff);
    const size_t bb = llm::quant::blockBytes(s);
    for (size_t b = 0; s == Scheme::Q6_K && b < w.size() / bb; ++b) {
      const uint16_t d = llm::quant::floatToHalf(b % 2 ? 0.25f : 0.5f);
      std::memset(w.data() + b * bb + 192, 0xff, 16); // scales -1
      std::memcpy(w.data() + b * bb + 208, &d, 2);
    }
    for (size_t b = 0; s != Scheme::Q6_K && b < w.size() / bb; ++b) {
      const uint16_t d = llm::quant::floatToHalf(b % 2 ? 0.25f : 0.5f);
      const uint16_t dmin = llm::quant::floatToHalf(0.125f);
      std::memcpy(w.data() + b * bb, &d, 2);
      std::memcpy(w.data() + b * bb + 2, &dmin, 2);
    }
    std::vector<float> x(rows * k);
    for (size_t i = 0; i < x.size(); ++i)
      x[i] = i / k == 1 ? -1.0f : i / k == 2 ? (i % 2 ? 1.0f : -1.0f) : 1.0f;
    quantcheck::expectTilesMatchReference(s, w, n, k, x, rows);
  }
}

// The kernels' shape checks: a k-quant weight's rows are whole 256-element super-blocks.
TEST(KQuantKernels, ShapesNeedWholeSuperBlocks) {
  KernelParams p;
  p.setString("weight_format", "q5_k");
  EXPECT_EQ(weightFormat(p), Scheme::Q5_K);
  KernelParams lin;
  lin.setInt("in_features", 288).setInt("out_features", 8).setInt("has_bias", 0);
  lin.setString("weight_format", "q4_k");
  EXPECT_THROW(quantLinearShapes(lin, 1), llm::Error); // 288 is not whole super-blocks
  lin.setInt("in_features", 512);
  KernelShapes s = quantLinearShapes(lin, 1);
  ASSERT_EQ(s.weightDtypes.size(), 1u);
  EXPECT_EQ(s.weightDtypes[0], fb::DType::Q4_K);
  KernelParams emb;
  emb.setInt("hidden", 256).setInt("vocab", 10).setString("weight_format", "q6_k");
  EXPECT_EQ(quantEmbeddingShapes(emb, 1).weightDtypes[0], fb::DType::Q6_K);
}

} // namespace
} // namespace llmrt::cpu
