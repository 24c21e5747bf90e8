// int4 group-wise (w4g32 .. w4g128a) and fp8 weights: the quantizers and dequantizers against the
// reference script (tools/fixtures/make_w4_fp8_fixtures.py, torch), the e4m3fn conversions, the
// layouts, the scalar kernels against the dequantized dot product, and every ISA path this CPU
// can run against the scalar reference, bit for bit (odd shapes, glu, logit rows).
#include "QuantKernelChecks.h"
#include "backends/cpu/QuantLinear.h"
#include "plan/QuantFormat.h"
#include "support/Error.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <fstream>
#include <random>

namespace llmrt::cpu {
namespace {

using llm::quant::Scheme;
constexpr Scheme kSchemes[] = {Scheme::W4G32,  Scheme::W4G64,  Scheme::W4G128, Scheme::W4G32A,
                               Scheme::W4G64A, Scheme::W4G128A, Scheme::FP8};
constexpr const auto &kIsas = quantcheck::kAllIsas;

using quantcheck::fromBits;
using quantcheck::fromHex;
using quantcheck::toBits;

nlohmann::json fixture() {
  std::ifstream in(W4_FP8_FIXTURE);
  return nlohmann::json::parse(in);
}

TEST(W4Fp8Format, QuantizeAndDequantizeMatchTheReferenceScriptBitForBit) {
  nlohmann::json f = fixture();
  ASSERT_EQ(f.at("cases").size(), std::size(kSchemes));
  for (const auto &c : f.at("cases")) {
    const std::string name = c.at("scheme");
    SCOPED_TRACE(name);
    Scheme s = *llm::quant::parseScheme(name);
    const int64_t rows = c.at("rows"), cols = c.at("cols");
    std::vector<float> x;
    for (uint32_t b : c.at("input_bits").get<std::vector<uint32_t>>())
      x.push_back(fromBits(b));
    std::vector<uint8_t> want = fromHex(c.at("bytes_hex"));
    ASSERT_EQ(want.size(), llm::quant::tensorBytes(s, rows, cols));
    std::vector<uint8_t> got(want.size());
    llm::quant::quantizeRows(s, x.data(), rows, cols, got.data());
    for (size_t i = 0; i < want.size(); ++i)
      ASSERT_EQ(got[i], want[i]) << "byte " << i << " (row " << i / (want.size() / rows) << ")";
    std::vector<float> deq(rows * cols);
    llm::quant::dequantizeRows(s, want.data(), rows, cols, deq.data());
    auto wantDeq = c.at("dequant_bits").get<std::vector<uint32_t>>();
    for (size_t i = 0; i < deq.size(); ++i)
      ASSERT_EQ(toBits(deq[i]), wantDeq[i]) << "element " << i;
  }
}

TEST(W4Fp8Format, Fp8ConversionsMatchTorch) {
  nlohmann::json t = fixture().at("fp8");
  auto in = t.at("float_bits").get<std::vector<uint32_t>>();
  auto codes = t.at("codes").get<std::vector<int>>();
  for (size_t i = 0; i < in.size(); ++i) {
    float x = std::clamp(fromBits(in[i]), -448.0f, 448.0f);
    EXPECT_EQ(llm::quant::fp8FromFloat(x), codes[i]) << "x = " << fromBits(in[i]);
  }
  // Every code but NaN decodes exactly: encoding the decoded value gives the code back.
  for (int c = 0; c < 256; ++c) {
    if ((c & 0x7f) == 0x7f)
      continue;
    EXPECT_EQ(llm::quant::fp8FromFloat(llm::quant::fp8ToFloat(static_cast<uint8_t>(c))), c);
  }
  EXPECT_EQ(llm::quant::fp8ToFloat(0x7e), 448.0f);
  EXPECT_EQ(llm::quant::fp8ToFloat(0x01), std::ldexp(1.0f, -9));
  EXPECT_EQ(llm::quant::fp8FromFloat(1e9f), 0x7e); // saturates
  EXPECT_EQ(llm::quant::fp8FromFloat(-1e9f), 0xfe);
}

TEST(W4Fp8Format, LayoutsAndRowLengths) {
  using namespace llm::quant;
  EXPECT_EQ(rowBytes(Scheme::W4G32, 64), 2u * 20);
  EXPECT_EQ(rowBytes(Scheme::W4G64A, 128), 2u * 36);
  EXPECT_EQ(rowBytes(Scheme::W4G128, 256), 2u * 68);
  EXPECT_EQ(rowBytes(Scheme::FP8, 96), 4u + 96);
  EXPECT_EQ(blockElems(Scheme::W4G128A), 128);
  EXPECT_EQ(blockElems(Scheme::FP8), 32);
  for (Scheme s : kSchemes) {
    EXPECT_TRUE(hasQuantizer(s)) << schemeName(s);
    EXPECT_EQ(parseScheme(schemeName(s)), s);
  }
  try {
    checkRowLength(Scheme::W4G64, 96, "tensor 'model.layers.0.mlp.down_proj.weight'");
    FAIL() << "rows of 96 were accepted";
  } catch (const llm::Error &e) {
    EXPECT_NE(std::string(e.what()).find("w4g64 stores rows of whole 64-element blocks"),
              std::string::npos)
        << e.what();
  }
}

struct Problem {
  std::vector<float> x, bias;
  std::vector<uint8_t> w;
  std::vector<float> wf; // the dequantized weights
};

Problem problem(Scheme s, int64_t rows, int64_t n, int64_t k, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  Problem p;
  p.x.resize(rows * k);
  for (float &v : p.x)
    v = dist(rng);
  std::vector<float> wf(n * k);
  for (float &v : wf)
    v = 0.1f * dist(rng) + 0.02f; // an offset, so asymmetric zeros differ from 8
  p.w.resize(llm::quant::tensorBytes(s, n, k));
  llm::quant::quantizeRows(s, wf.data(), n, k, p.w.data());
  p.wf.resize(n * k);
  llm::quant::dequantizeRows(s, p.w.data(), n, k, p.wf.data());
  p.bias.resize(n);
  for (float &v : p.bias)
    v = dist(rng);
  return p;
}

// The scalar kernel computes the dot product of the dequantized weights: exactly up to float
// rounding for fp8 (float activations), within the int8 activation error for w4.
TEST(W4Fp8Dot, ScalarReferenceComputesTheDequantizedDotProduct) {
  for (Scheme s : kSchemes) {
    SCOPED_TRACE(llm::quant::schemeName(s));
    const int64_t k = 256, n = 5, rows = 3;
    Problem p = problem(s, rows, n, k, 7);
    std::vector<float> out(rows * n);
    quantMatmul(s, p.x.data(), k, nullptr, rows, p.w.data(), n, k, nullptr, out.data(),
                std::nullopt, Isa::Scalar);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < n; ++j) {
        double want = 0, mag = 0;
        for (int64_t i = 0; i < k; ++i) {
          want += double(p.wf[j * k + i]) * p.x[r * k + i];
          mag += std::fabs(double(p.wf[j * k + i]) * p.x[r * k + i]);
        }
        double tol = s == Scheme::FP8 ? 1e-5 * mag : 0.02 * mag;
        EXPECT_NEAR(out[r * n + j], want, tol) << "row " << r << ", output " << j;
      }
  }
}

TEST(W4Fp8Dot, EveryIsaPathMatchesTheScalarReferenceBitForBit) {
  struct Shape {
    int64_t rows, n, k;
  };
  int tested = 0;
  for (Isa isa : kIsas) {
    if (!isaSupported(isa) || isa == Isa::Scalar)
      continue;
    ++tested;
    for (Scheme s : kSchemes)
      for (Shape sh : {Shape{1, 7, 128}, Shape{5, 9, 384}, Shape{2, 4, 256}, Shape{3, 1, 128}})
        for (bool glu : {false, true}) {
          SCOPED_TRACE(std::string(isaName(isa)) + " " + std::string(llm::quant::schemeName(s)) +
                       " rows " + std::to_string(sh.rows) + " n " + std::to_string(sh.n) +
                       " k " + std::to_string(sh.k) + (glu ? " glu" : ""));
          Problem p = problem(s, sh.rows, glu ? 2 * sh.n : sh.n, sh.k, 11);
          quantcheck::expectIsaMatchesScalar(isa, s, {p.x, p.bias, p.w}, sh.rows, sh.n, sh.k, glu);
        }
  }
  if (tested == 0)
    GTEST_SKIP() << "this CPU runs no SIMD path";
}

TEST(W4Fp8Kernels, ShapesNameTheWeightDtype) {
  KernelParams lin;
  lin.setInt("in_features", 128);
  lin.setInt("out_features", 8);
  lin.setInt("has_bias", 0);
  lin.setString("weight_format", "w4g128a");
  EXPECT_EQ(quantLinearShapes(lin, 1).weightDtypes[0], fb::DType::W4G128A);
  lin.setString("weight_format", "fp8");
  EXPECT_EQ(quantLinearShapes(lin, 1).weightDtypes[0], fb::DType::WFP8);
  lin.setString("weight_format", "w4g128");
  lin.setInt("in_features", 64 + 128);
  try {
    quantLinearShapes(lin, 1);
    FAIL() << "in_features 192 was accepted for w4g128";
  } catch (const llm::Error &e) {
    EXPECT_NE(std::string(e.what()).find("whole 128-element blocks"), std::string::npos)
        << e.what();
  }
}

} // namespace
} // namespace llmrt::cpu
