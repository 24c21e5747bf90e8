// Quantized weights: the block formats (q8_0, q4_0, q4_1, q5_0, q5_1) against gguf.quants
// (fixture made by tools/fixtures/make_quant_fixtures.py), and every dot-product ISA path this
// CPU can run against the scalar reference, bit for bit, on random shapes including odd ones.
#include "QuantKernelChecks.h"
#include "backends/cpu/QuantLinear.h"
#include "plan/QuantFormat.h"
#include "support/Error.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <random>

namespace llmrt::cpu {
namespace {

using llm::quant::Scheme;
constexpr Scheme kSchemes[] = {Scheme::Q8_0, Scheme::Q4_0, Scheme::Q4_1,
                                Scheme::Q5_0, Scheme::Q5_1, Scheme::W8};
constexpr const auto &kIsas = quantcheck::kAllIsas;

using quantcheck::fromBits;
using quantcheck::toBits;

nlohmann::json fixture() {
  std::ifstream in(QUANT_FIXTURE);
  return nlohmann::json::parse(in);
}

TEST(QuantFormat, QuantizeAndDequantizeMatchGgufQuantsBitForBit) {
  nlohmann::json f = fixture();
  ASSERT_EQ(f.at("cases").size(), 5u);
  for (const auto &c : f.at("cases")) {
    std::string name = c.at("scheme");
    SCOPED_TRACE(name);
    Scheme s = *llm::quant::parseScheme(name);
    std::vector<float> x;
    for (uint32_t b : c.at("input_bits").get<std::vector<uint32_t>>())
      x.push_back(fromBits(b));
    std::string hex = c.at("blocks_hex");
    std::vector<uint8_t> expected(hex.size() / 2);
    for (size_t i = 0; i < expected.size(); ++i)
      expected[i] = static_cast<uint8_t>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
    ASSERT_EQ(expected.size(), llm::quant::tensorBytes(s, 1, x.size()));
    std::vector<uint8_t> blocks(expected.size());
    llm::quant::quantize(s, x.data(), x.size(), blocks.data());
    size_t bb = llm::quant::blockBytes(s);
    for (size_t b = 0; b < blocks.size() / bb; ++b)
      EXPECT_EQ(0, std::memcmp(blocks.data() + b * bb, expected.data() + b * bb, bb))
          << "block " << b;
    std::vector<float> y(x.size());
    llm::quant::dequantize(s, expected.data(), x.size(), y.data());
    auto want = c.at("dequant_bits").get<std::vector<uint32_t>>();
    for (size_t i = 0; i < y.size(); ++i)
      ASSERT_EQ(toBits(y[i]), want[i]) << "element " << i;
  }
}

TEST(QuantFormat, HalfConversionsMatchNumpy) {
  nlohmann::json h = fixture().at("halves");
  auto floats = h.at("float_bits").get<std::vector<uint32_t>>();
  auto halves = h.at("half_bits").get<std::vector<uint32_t>>();
  for (size_t i = 0; i < floats.size(); ++i)
    EXPECT_EQ(llm::quant::floatToHalf(fromBits(floats[i])), halves[i]) << fromBits(floats[i]);
  for (uint32_t v = 0; v < 0x10000; ++v) { // every half survives the round trip
    float f = llm::quant::halfToFloat(static_cast<uint16_t>(v));
    if (!std::isnan(f)) {
      ASSERT_EQ(llm::quant::floatToHalf(f), v);
    }
  }
}

// Random weights (quantized by the reference quantizer) and activations.
struct Problem {
  Scheme scheme;
  int64_t rows, n, k;
  std::vector<float> x, bias;
  std::vector<uint8_t> w;
};

Problem makeProblem(Scheme s, int64_t rows, int64_t n, int64_t k, uint32_t seed, bool glu) {
  quantcheck::QuantProblem q = quantcheck::randomProblem(s, rows, glu ? 2 * n : n, k, seed);
  return {s, rows, n, k, std::move(q.x), std::move(q.bias), std::move(q.w)};
}

// The scalar reference against exact arithmetic on the values it represents.
TEST(QuantDot, ScalarReferenceComputesTheDequantizedDotProduct) {
  for (Scheme s : kSchemes) {
    SCOPED_TRACE(llm::quant::schemeName(s));
    Problem p = makeProblem(s, 3, 5, 96, 7, false);
    quantcheck::expectScalarIsDequantizedDot(s, {p.x, p.bias, p.w}, 3, 5, 96);
  }
}

// Every ISA path, plain and with the glu epilogue and a bias, gives the scalar bits; so does a
// single row computed alone (batch invariance), and gathered rows.
TEST(QuantDot, EveryIsaPathMatchesTheScalarReferenceBitForBit) {
  struct Shape {
    int64_t rows, n, k;
  };
  const Shape shapes[] = {{1, 1, 32},   {1, 7, 64},   {2, 5, 96},    {5, 17, 160},
                          {3, 64, 576}, {13, 33, 32}, {1, 130, 1536}};
  int tested = 0;
  for (Isa isa : kIsas) {
    if (!isaSupported(isa) || isa == Isa::Scalar)
      continue;
    ++tested;
    for (Scheme s : kSchemes)
      for (const Shape &sh : shapes)
        for (bool glu : {false, true}) {
          SCOPED_TRACE(std::string(isaName(isa)) + " " + std::string(llm::quant::schemeName(s)) +
                       " " + std::to_string(sh.rows) + "x" + std::to_string(sh.n) + "x" +
                       std::to_string(sh.k) + (glu ? " glu" : ""));
          Problem p = makeProblem(s, sh.rows, sh.n, sh.k, 1000 + sh.n + sh.k, glu);
          quantcheck::expectIsaMatchesScalar(isa, s, {p.x, p.bias, p.w}, sh.rows, sh.n, sh.k, glu);
        }
  }
  RecordProperty("isa_paths_tested", tested);
  std::cout << "SIMD paths tested on this CPU: " << tested << " (best: " << isaName(bestIsa())
            << ")\n";
}

// The glu epilogue equals two plain products followed by the activation.
TEST(QuantDot, GluEpilogueEqualsSeparateProducts) {
  for (Scheme s : kSchemes) {
    SCOPED_TRACE(llm::quant::schemeName(s));
    Problem p = makeProblem(s, 4, 9, 64, 3, true);
    std::vector<float> fused(4 * 9), gate(4 * 9), up(4 * 9), want(4 * 9);
    quantMatmul(s, p.x.data(), 64, nullptr, 4, p.w.data(), 9, 64, p.bias.data(), fused.data(),
                Activation::GeluTanh);
    size_t half = llm::quant::tensorBytes(s, 9, 64);
    quantMatmul(s, p.x.data(), 64, nullptr, 4, p.w.data(), 9, 64, p.bias.data(), gate.data());
    quantMatmul(s, p.x.data(), 64, nullptr, 4, p.w.data() + half, 9, 64, p.bias.data() + 9,
                up.data());
    for (int r = 0; r < 4; ++r)
      applyGlu(Activation::GeluTanh, gate.data() + r * 9, up.data() + r * 9, want.data() + r * 9,
               9);
    EXPECT_EQ(0, std::memcmp(fused.data(), want.data(), want.size() * sizeof(float)));
  }
}

// w8 (no ggml counterpart): one scale per row, d = max|row| / 127; the largest element maps to
// +-127 and every element is within d / 2 of its value.
TEST(QuantFormat, W8RowsRoundTripWithinHalfAStep) {
  std::mt19937 rng(5);
  std::normal_distribution<float> nd;
  const int64_t rows = 3, cols = 96;
  std::vector<float> x(rows * cols), y(rows * cols);
  for (float &v : x)
    v = nd(rng);
  x[40] = -9.0f; // row 0's extreme
  std::vector<uint8_t> q(llm::quant::tensorBytes(Scheme::W8, rows, cols));
  ASSERT_EQ(q.size(), size_t(rows * (4 + cols)));
  llm::quant::quantizeRows(Scheme::W8, x.data(), rows, cols, q.data());
  llm::quant::dequantizeRows(Scheme::W8, q.data(), rows, cols, y.data());
  float d0;
  std::memcpy(&d0, q.data(), 4);
  EXPECT_EQ(d0, 9.0f / 127.0f);
  EXPECT_EQ(static_cast<int8_t>(q[4 + 40]), -127);
  for (int64_t r = 0; r < rows; ++r) {
    float d;
    std::memcpy(&d, q.data() + r * (4 + cols), 4);
    for (int64_t i = 0; i < cols; ++i)
      EXPECT_LE(std::fabs(y[r * cols + i] - x[r * cols + i]), d / 2 * 1.0001f);
  }
}

TEST(QuantDot, ActivationQuantizationRoundsHalfAwayFromZero) {
  for (Isa isa : kIsas) {
    if (!isaSupported(isa))
      continue;
    SCOPED_TRACE(isaName(isa));
    std::vector<float> x(32, 0.0f);
    x[0] = 127.0f; // d = 1
    x[1] = 2.5f;
    x[2] = -2.5f;
    x[3] = 0.49f;
    x[4] = 0.49999997f; // below one half: trunc + 0.5 would round it up in float
    x[5] = -126.5f;
    ActBlock a;
    quantizeActivations(x.data(), 32, &a, isa);
    EXPECT_EQ(a.d, 1.0f);
    EXPECT_EQ(a.q[1], 3);
    EXPECT_EQ(a.q[2], -3);
    EXPECT_EQ(a.q[3], 0);
    EXPECT_EQ(a.q[4], 0);
    EXPECT_EQ(a.q[5], -127);
    EXPECT_EQ(a.sum, 0);
    std::vector<float> zeros(32, 0.0f);
    quantizeActivations(zeros.data(), 32, &a, isa);
    EXPECT_EQ(a.d, 0.0f);
    EXPECT_EQ(a.sum, 0);
  }
}

// The SIMD activation quantizer writes the scalar one's bytes: random rows, rows scaled so that
// values land on halves, subnormals, and a NaN (skipped by the maximum, cast as the scalar path
// casts it).
TEST(QuantDot, ActivationQuantizationIsTheSameOnEveryIsa) {
  std::mt19937 rng(5);
  std::normal_distribution<float> nd;
  const int64_t k = 32 * 64;
  std::vector<float> x(k);
  for (int64_t i = 0; i < k; ++i) {
    const int64_t block = i / 32;
    if (block % 4 == 1) // d = 1: values on halves and quarters
      x[i] = i % 32 == 0 ? 127.0f : static_cast<float>(static_cast<int>(nd(rng) * 40)) / 4.0f;
    else if (block % 4 == 2)
      x[i] = nd(rng) * 1e-39f;
    else
      x[i] = nd(rng) * std::exp2(static_cast<float>(block % 9) - 4);
  }
  x[32 * 7 + 3] = std::numeric_limits<float>::quiet_NaN();
  std::vector<ActBlock> ref(k / 32), got(k / 32);
  quantizeActivations(x.data(), k, ref.data(), Isa::Scalar);
  for (Isa isa : kIsas) {
    if (!isaSupported(isa) || isa == Isa::Scalar)
      continue;
    SCOPED_TRACE(isaName(isa));
    quantizeActivations(x.data(), k, got.data(), isa);
    for (int64_t b = 0; b < k / 32; ++b)
      ASSERT_EQ(0, std::memcmp(&ref[b], &got[b], sizeof(ActBlock))) << "block " << b;
  }
}

TEST(QuantKernels, WeightFormatParameter) {
  KernelParams p;
  EXPECT_FALSE(weightFormat(p));
  p.setString("weight_format", "f32");
  EXPECT_FALSE(weightFormat(p));
  p.setString("weight_format", "q4_1");
  EXPECT_EQ(weightFormat(p), Scheme::Q4_1);
  p.setString("weight_format", "q5_1");
  EXPECT_EQ(weightFormat(p), Scheme::Q5_1);
  p.setString("weight_format", "q3_k");
  EXPECT_THROW(weightFormat(p), llm::Error);
  KernelParams lin;
  lin.setInt("in_features", 48).setInt("out_features", 8).setInt("has_bias", 0);
  lin.setString("weight_format", "q8_0");
  EXPECT_THROW(quantLinearShapes(lin, 1), llm::Error); // 48 is not whole blocks
  lin.setInt("in_features", 64);
  KernelShapes s = quantLinearShapes(lin, 1);
  ASSERT_EQ(s.weightDtypes.size(), 1u);
  EXPECT_EQ(s.weightDtypes[0], fb::DType::Q8_0);
}

} // namespace
} // namespace llmrt::cpu
