// Checks shared by the quantized kernel tests (quant_kernels_test, kquant_kernels_test,
// w4_fp8_kernels_test): each test makes its own weights (by the reference quantizer or as raw
// blocks), these state what every format's kernels must do with them.
#pragma once

#include "backends/cpu/QuantLinear.h"
#include "plan/QuantFormat.h"
#include "support/ThreadPool.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace llmrt::cpu::quantcheck {

inline constexpr Isa kAllIsas[] = {Isa::Scalar, Isa::Avx2, Isa::Avx512Vnni, Isa::AvxVnni,
                                   Isa::AmxInt8};

inline uint32_t toBits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}

inline float fromBits(uint32_t b) {
  float f;
  std::memcpy(&f, &b, sizeof f);
  return f;
}

// Bytes from the hex strings the fixture scripts write.
inline std::vector<uint8_t> fromHex(const std::string &hex) {
  std::vector<uint8_t> out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<uint8_t>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  return out;
}

// A product's inputs: rows x k activations, weights of n rows (2n with a glu epilogue) in the
// scheme's layout, one bias per weight row.
struct QuantProblem {
  std::vector<float> x, bias;
  std::vector<uint8_t> w;
};

// Random weights of wrows x k quantized by the reference quantizer (normal, sd 0.1), rows x k
// activations and wrows biases (normal, sd 1).
inline QuantProblem randomProblem(llm::quant::Scheme s, int64_t rows, int64_t wrows, int64_t k,
                                  uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd;
  QuantProblem p;
  std::vector<float> wf(wrows * k);
  for (float &v : wf)
    v = nd(rng) * 0.1f;
  p.w.resize(llm::quant::tensorBytes(s, wrows, k));
  llm::quant::quantizeRows(s, wf.data(), wrows, k, p.w.data());
  p.x.resize(rows * k);
  for (float &v : p.x)
    v = nd(rng);
  p.bias.resize(wrows);
  for (float &v : p.bias)
    v = nd(rng);
  return p;
}

// The product of p (rows x k activations against n weight rows, 2n with a glu epilogue) on the
// tiles of its weights, on `isa`, gives the row_blocks scalar reference's bits; so does its last
// row computed alone (batch invariance, logits' gathered rows).
inline void expectTilesMatchRowBlocks(llm::quant::Scheme s, const QuantProblem &p, int64_t rows,
                                      int64_t n, int64_t k, bool glu, Isa isa) {
  std::optional<Activation> act;
  if (glu)
    act = Activation::Silu;
  std::vector<float> ref(rows * n), got(ref.size(), -1.0f), one(n);
  quantMatmul(s, p.x.data(), k, nullptr, rows, p.w.data(), n, k, p.bias.data(), ref.data(), act,
              Isa::Scalar);
  std::vector<uint8_t> t(p.w.size());
  llm::quant::toRows8(s, p.w.data(), glu ? 2 * n : n, k, t.data());
  quantMatmul(s, p.x.data(), k, nullptr, rows, t.data(), n, k, p.bias.data(), got.data(), act,
              isa, llm::quant::Layout::Rows8);
  ASSERT_EQ(0, std::memcmp(ref.data(), got.data(), ref.size() * sizeof(float)));
  const int32_t last = static_cast<int32_t>(rows - 1);
  quantMatmul(s, p.x.data(), k, &last, 1, t.data(), n, k, p.bias.data(), one.data(), act, isa,
              llm::quant::Layout::Rows8);
  ASSERT_EQ(0, std::memcmp(one.data(), ref.data() + last * n, n * sizeof(float)));
}

// Every ISA path on the tiles of w (n x k, row_blocks) gives the row_blocks scalar reference's
// bits against the rows x k activations x.
inline void expectTilesMatchReference(llm::quant::Scheme s, const std::vector<uint8_t> &w,
                                      int64_t n, int64_t k, const std::vector<float> &x,
                                      int64_t rows) {
  std::vector<uint8_t> t(w.size());
  llm::quant::toRows8(s, w.data(), n, k, t.data());
  std::vector<float> ref(rows * n), got(ref.size());
  quantMatmul(s, x.data(), k, nullptr, rows, w.data(), n, k, nullptr, ref.data(), std::nullopt,
              Isa::Scalar);
  for (Isa isa : kAllIsas) {
    if (!isaSupported(isa))
      continue;
    SCOPED_TRACE(isaName(isa));
    quantMatmul(s, x.data(), k, nullptr, rows, t.data(), n, k, nullptr, got.data(), std::nullopt,
                isa, llm::quant::Layout::Rows8);
    EXPECT_EQ(0, std::memcmp(ref.data(), got.data(), ref.size() * sizeof(float)));
  }
}

// One product shape: rows activation rows, n weight rows (2n with glu), k columns.
struct TileCase {
  int64_t rows, n, k;
};

// expectTilesMatchRowBlocks for every scheme, case, glu or not, every ISA path this CPU runs, on
// 1 to 3 threads; make(s, c, glu) gives the problem and its k (the case's, or rounded to whole
// blocks of s).
template <class Make>
void expectTilesOnEveryPath(const std::vector<llm::quant::Scheme> &schemes,
                            const std::vector<TileCase> &cases, Make make) {
  for (int threads : {1, 2, 3}) {
    ThreadPool::global().setThreads(threads);
    for (Isa isa : kAllIsas) {
      if (!isaSupported(isa))
        continue;
      for (llm::quant::Scheme s : schemes)
        for (const TileCase &c : cases)
          for (bool glu : {false, true}) {
            auto [p, k] = make(s, c, glu);
            SCOPED_TRACE(std::string(isaName(isa)) + " " +
                         std::string(llm::quant::schemeName(s)) + " " + std::to_string(c.rows) +
                         "x" + std::to_string(c.n) + "x" + std::to_string(k) +
                         (glu ? " glu" : "") + " threads " + std::to_string(threads));
            expectTilesMatchRowBlocks(s, p, c.rows, c.n, k, glu, isa);
            if (::testing::Test::HasFatalFailure())
              return ThreadPool::global().setThreads(ThreadPool::defaultThreads());
          }
    }
  }
  ThreadPool::global().setThreads(ThreadPool::defaultThreads());
}

// The scalar reference of an int8-activation scheme against exact arithmetic on the values it
// represents: dequantized weights times dequantized activations, summed in double.
inline void expectScalarIsDequantizedDot(llm::quant::Scheme s, const QuantProblem &p,
                                         int64_t rows, int64_t n, int64_t k) {
  std::vector<float> out(rows * n);
  quantMatmul(s, p.x.data(), k, nullptr, rows, p.w.data(), n, k, nullptr, out.data(),
              std::nullopt, Isa::Scalar);
  std::vector<float> wf(n * k);
  llm::quant::dequantizeRows(s, p.w.data(), n, k, wf.data());
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<ActBlock> act(k / 32);
    quantizeActivations(p.x.data() + r * k, k, act.data());
    for (int64_t j = 0; j < n; ++j) {
      double exact = 0, mag = 0;
      for (int64_t i = 0; i < k; ++i) {
        double term = double(wf[j * k + i]) * act[i / 32].d * act[i / 32].q[i % 32];
        exact += term;
        mag += std::fabs(term);
      }
      EXPECT_NEAR(out[r * n + j], exact, 1e-5 * mag + 1e-6) << r << "," << j;
    }
  }
}

// Path `isa` gives the scalar reference's bits for the whole product (plain, or with a SiLU glu
// epilogue and the bias), and for its last row alone, picked by index (batch invariance, logits).
inline void expectIsaMatchesScalar(Isa isa, llm::quant::Scheme s, const QuantProblem &p,
                                   int64_t rows, int64_t n, int64_t k, bool glu) {
  std::optional<Activation> act;
  if (glu)
    act = Activation::Silu;
  std::vector<float> ref(rows * n), got(rows * n), one(n);
  quantMatmul(s, p.x.data(), k, nullptr, rows, p.w.data(), n, k, p.bias.data(), ref.data(), act,
              Isa::Scalar);
  quantMatmul(s, p.x.data(), k, nullptr, rows, p.w.data(), n, k, p.bias.data(), got.data(), act,
              isa);
  EXPECT_EQ(0, std::memcmp(ref.data(), got.data(), ref.size() * sizeof(float)));
  const int32_t last = static_cast<int32_t>(rows - 1);
  quantMatmul(s, p.x.data(), k, &last, 1, p.w.data(), n, k, p.bias.data(), one.data(), act, isa);
  EXPECT_EQ(0, std::memcmp(one.data(), ref.data() + last * n, n * sizeof(float)));
}

} // namespace llmrt::cpu::quantcheck
