// Every CPU kernel against a straightforward double-precision reference written here, on random
// inputs; plus registry coverage and batch invariance.
#include "TestPlanWriter.h"
#include "backends/cpu/CpuKernels.h"
#include "engine/KVCache.h"
#include "registry/KernelRegistry.h"
#include "support/Error.h"
#include "support/ThreadPool.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <iostream>
#include <numeric>
#include <tuple>
#include <vector>

namespace llmrt::cpu {
namespace {

using test::randomFloats;

// Runs one kernel by name; inputs and outputs are raw pointers in registry order.
void runOutputs(std::string_view name, const KernelParams &params,
                std::vector<const void *> inputs, std::vector<const float *> weights,
                std::vector<void *> outputs, int64_t tokens, int64_t logitRows = 0,
                const int32_t *positions = nullptr, KVCache *kv = nullptr) {
  const CpuKernelFn *k = findCpuKernel(name);
  ASSERT_NE(k, nullptr) << name;
  KernelShapes shapes = k->shapes(params, static_cast<int>(weights.size())); // must validate
  ASSERT_EQ(shapes.outputWidths.size(), outputs.size()) << name;
  KernelArgs args{params, inputs.data(), weights.data(), outputs[0], outputs.data(),
                  tokens,  logitRows,     positions,     kv};
  k->run(args);
}

void run(std::string_view name, const KernelParams &params, std::vector<const void *> inputs,
         std::vector<const float *> weights, void *output, int64_t tokens, int64_t logitRows = 0,
         const int32_t *positions = nullptr, KVCache *kv = nullptr) {
  runOutputs(name, params, std::move(inputs), std::move(weights), {output}, tokens, logitRows,
             positions, kv);
}

void expectClose(const std::vector<float> &got, const std::vector<double> &want,
                 double rel = 1e-5) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], want[i], rel * std::max(1.0, std::fabs(want[i]))) << "element " << i;
}

TEST(CpuKernelsTest, EveryRegistryKernelHasCpuImplementation) {
  for (const llm::registry::KernelSpec &spec : llm::registry::allKernels()) {
    const CpuKernelFn *k = findCpuKernel(spec.name);
    ASSERT_NE(k, nullptr) << "no CPU kernel for registry kernel '" << spec.name << "'";
    EXPECT_NE(k->run, nullptr);
    EXPECT_NE(k->shapes, nullptr);
  }
  for (const CpuKernelFn &k : allCpuKernels())
    EXPECT_NE(llm::registry::findKernel(k.name), nullptr)
        << "CPU kernel '" << k.name << "' is not in the registry";
}

TEST(CpuKernelsTest, Embedding) {
  const int64_t vocab = 13, hidden = 19, T = 5;
  std::vector<float> table = randomFloats(vocab * hidden, 1);
  std::vector<int32_t> ids = {3, 0, 12, 3, 7};
  std::vector<float> out(T * hidden);
  KernelParams p;
  p.setInt("hidden", hidden).setInt("vocab", vocab);
  run("embedding", p, {ids.data()}, {table.data()}, out.data(), T);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < hidden; ++i)
      ASSERT_EQ(out[t * hidden + i], table[ids[t] * hidden + i]);
  ids[2] = 13;
  EXPECT_THROW(run("embedding", p, {ids.data()}, {table.data()}, out.data(), T), llm::Error);
}

TEST(CpuKernelsTest, RmsNorm) {
  const int64_t hidden = 37, T = 6;
  std::vector<float> x = randomFloats(T * hidden, 2, 3.0f), w = randomFloats(hidden, 3);
  std::vector<float> out(T * hidden);
  KernelParams p;
  p.setInt("hidden", hidden).setFloat("eps", 1e-6);
  run("rms_norm", p, {x.data()}, {w.data()}, out.data(), T);
  std::vector<double> ref(T * hidden);
  for (int64_t t = 0; t < T; ++t) {
    double ms = 0;
    for (int64_t i = 0; i < hidden; ++i)
      ms += double(x[t * hidden + i]) * x[t * hidden + i];
    double r = 1 / std::sqrt(ms / hidden + 1e-6);
    for (int64_t i = 0; i < hidden; ++i)
      ref[t * hidden + i] = x[t * hidden + i] * r * w[i];
  }
  expectClose(out, ref);
}

TEST(CpuKernelsTest, LayerNorm) {
  const int64_t hidden = 29, T = 4;
  std::vector<float> x = randomFloats(T * hidden, 4, 2.0f);
  for (float &v : x)
    v += 0.5f; // a non-zero mean
  std::vector<float> w = randomFloats(hidden, 5), b = randomFloats(hidden, 6);
  std::vector<float> out(T * hidden);
  KernelParams p;
  p.setInt("hidden", hidden).setFloat("eps", 1e-5);
  run("layer_norm", p, {x.data()}, {w.data(), b.data()}, out.data(), T);
  std::vector<double> ref(T * hidden);
  for (int64_t t = 0; t < T; ++t) {
    double mean = 0, var = 0;
    for (int64_t i = 0; i < hidden; ++i)
      mean += x[t * hidden + i];
    mean /= hidden;
    for (int64_t i = 0; i < hidden; ++i)
      var += (x[t * hidden + i] - mean) * (x[t * hidden + i] - mean);
    var /= hidden;
    for (int64_t i = 0; i < hidden; ++i)
      ref[t * hidden + i] = (x[t * hidden + i] - mean) / std::sqrt(var + 1e-5) * w[i] + b[i];
  }
  expectClose(out, ref);
}

std::vector<double> referenceMatmul(const std::vector<float> &x, const std::vector<int32_t> &rows,
                                    const std::vector<float> &w, const float *bias, int64_t n,
                                    int64_t k) {
  std::vector<double> ref(rows.size() * n);
  for (size_t r = 0; r < rows.size(); ++r)
    for (int64_t j = 0; j < n; ++j) {
      double acc = bias ? bias[j] : 0.0;
      for (int64_t i = 0; i < k; ++i)
        acc += double(x[rows[r] * k + i]) * w[j * k + i];
      ref[r * n + j] = acc;
    }
  return ref;
}

TEST(CpuKernelsTest, Linear) {
  for (auto [T, K, N] :
       {std::tuple<int64_t, int64_t, int64_t>{7, 45, 23}, {1, 300, 9}, {33, 8, 64}, {3, 5, 3}}) {
    SCOPED_TRACE(testing::Message() << "T=" << T << " K=" << K << " N=" << N);
    std::vector<float> x = randomFloats(T * K, 7), w = randomFloats(N * K, 8);
    std::vector<float> bias = randomFloats(N, 9);
    std::vector<int32_t> rows(T);
    for (int64_t t = 0; t < T; ++t)
      rows[t] = static_cast<int32_t>(t);
    for (int hasBias : {0, 1}) {
      std::vector<float> out(T * N);
      KernelParams p;
      p.setInt("in_features", K).setInt("out_features", N).setInt("has_bias", hasBias);
      std::vector<const float *> weights = {w.data()};
      if (hasBias)
        weights.push_back(bias.data());
      run("linear", p, {x.data()}, weights, out.data(), T);
      expectClose(out, referenceMatmul(x, rows, w, hasBias ? bias.data() : nullptr, N, K));
    }
  }
}

TEST(CpuKernelsTest, LinearShapesCheckBiasCount) {
  KernelParams p;
  p.setInt("in_features", 4).setInt("out_features", 4).setInt("has_bias", 1);
  EXPECT_THROW(findCpuKernel("linear")->shapes(p, 1), llm::Error);
  KernelShapes s = findCpuKernel("linear")->shapes(p, 2);
  EXPECT_EQ(s.weights, (std::vector<std::vector<int64_t>>{{4, 4}, {4}}));
}

TEST(CpuKernelsTest, Logits) {
  const int64_t T = 6, hidden = 21, vocab = 50;
  std::vector<float> x = randomFloats(T * hidden, 10), w = randomFloats(vocab * hidden, 11);
  std::vector<int32_t> rows = {5, 0, 5};
  std::vector<float> out(rows.size() * vocab);
  KernelParams p;
  p.setInt("hidden", hidden).setInt("vocab", vocab);
  run("logits", p, {x.data(), rows.data()}, {w.data()}, out.data(), T, rows.size());
  expectClose(out, referenceMatmul(x, rows, w, nullptr, vocab, hidden));
  rows[1] = 6;
  EXPECT_THROW(run("logits", p, {x.data(), rows.data()}, {w.data()}, out.data(), T, rows.size()),
               llm::Error);
}

TEST(CpuKernelsTest, Rope) {
  const int64_t heads = 3, headDim = 10, T = 4, half = 4; // rotary dim 8 < head dim 10
  std::vector<float> invFreq(half);
  for (int64_t i = 0; i < half; ++i)
    invFreq[i] = static_cast<float>(1.0 / std::pow(10000.0, 2.0 * i / 8));
  std::vector<float> x = randomFloats(T * heads * headDim, 12);
  std::vector<int32_t> pos = {0, 5, 17, 1000};
  const double factor = 1.25;
  KernelParams p;
  p.setInt("num_heads", heads).setInt("head_dim", headDim).setFloatArray("inv_freq", invFreq);
  p.setFloat("attention_factor", factor);
  std::vector<float> out(x.size());
  run("rope", p, {x.data(), pos.data()}, {}, out.data(), T);
  std::vector<double> ref(x.size());
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < heads; ++h) {
      const float *xh = x.data() + (t * heads + h) * headDim;
      double *rh = ref.data() + (t * heads + h) * headDim;
      for (int64_t i = 0; i < half; ++i) {
        double angle = static_cast<float>(pos[t]) * invFreq[i]; // float32 angle, as torch
        double c = std::cos(angle) * factor, s = std::sin(angle) * factor;
        rh[i] = xh[i] * c - xh[i + half] * s;
        rh[i + half] = xh[i + half] * c + xh[i] * s;
      }
      for (int64_t i = 2 * half; i < headDim; ++i)
        rh[i] = xh[i];
    }
  expectClose(out, ref);
  // In place gives the same bits.
  std::vector<float> inPlace = x;
  run("rope", p, {inPlace.data(), pos.data()}, {}, inPlace.data(), T);
  EXPECT_EQ(inPlace, out);
}

// Reference attention over explicit per-position K/V rows (double precision).
struct AttentionCase {
  int64_t heads, kvHeads, headDim, window;
  double scale;
};

std::vector<double> referenceAttention(const AttentionCase &c, const std::vector<float> &q,
                                       const std::vector<std::vector<float>> &keys,
                                       const std::vector<std::vector<float>> &values,
                                       const std::vector<int32_t> &pos) {
  int64_t T = pos.size(), group = c.heads / c.kvHeads;
  std::vector<double> out(T * c.heads * c.headDim, 0.0);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < c.heads; ++h) {
      int64_t kvh = h / group;
      std::vector<double> scores;
      std::vector<int64_t> js;
      for (int64_t j = 0; j <= pos[t]; ++j) {
        if (c.window > 0 && pos[t] - j >= c.window)
          continue;
        double s = 0;
        for (int64_t d = 0; d < c.headDim; ++d)
          s += double(q[(t * c.heads + h) * c.headDim + d]) * keys[j][kvh * c.headDim + d];
        scores.push_back(s * c.scale);
        js.push_back(j);
      }
      double m = *std::max_element(scores.begin(), scores.end()), z = 0;
      for (double &s : scores)
        z += (s = std::exp(s - m));
      for (size_t i = 0; i < js.size(); ++i)
        for (int64_t d = 0; d < c.headDim; ++d)
          out[(t * c.heads + h) * c.headDim + d] +=
              scores[i] / z * values[js[i]][kvh * c.headDim + d];
    }
  return out;
}

// Runs attention over steps (token counts per step) of one sequence and checks every step.
void checkAttention(const AttentionCase &c, const std::vector<int64_t> &steps) {
  const int layer = 1, capacity = 32;
  int64_t kvWidth = c.kvHeads * c.headDim, qWidth = c.heads * c.headDim;
  KVCache kv(2, static_cast<int>(c.kvHeads), static_cast<int>(c.headDim), capacity);
  KernelParams p;
  p.setInt("layer", layer).setInt("num_heads", c.heads).setInt("num_kv_heads", c.kvHeads);
  p.setInt("head_dim", c.headDim).setFloat("scale", c.scale).setInt("sliding_window", c.window);
  std::vector<std::vector<float>> keys, values;
  int32_t next = 0;
  uint64_t seed = 100;
  for (int64_t T : steps) {
    std::vector<float> q = randomFloats(T * qWidth, seed++, 2.0f);
    std::vector<float> k = randomFloats(T * kvWidth, seed++, 2.0f);
    std::vector<float> v = randomFloats(T * kvWidth, seed++);
    std::vector<int32_t> pos;
    for (int64_t t = 0; t < T; ++t) {
      pos.push_back(next++);
      keys.emplace_back(k.begin() + t * kvWidth, k.begin() + (t + 1) * kvWidth);
      values.emplace_back(v.begin() + t * kvWidth, v.begin() + (t + 1) * kvWidth);
    }
    std::vector<float> out(T * qWidth);
    run("attention", p, {q.data(), k.data(), v.data()}, {}, out.data(), T, 0, pos.data(), &kv);
    expectClose(out, referenceAttention(c, q, keys, values, pos));
  }
}

TEST(CpuKernelsTest, AttentionFullCausal) { checkAttention({2, 2, 8, 0, 0.35}, {5, 1, 1}); }

TEST(CpuKernelsTest, AttentionGroupedQuery) { checkAttention({8, 2, 12, 0, 0.3}, {6, 1, 3, 1}); }

TEST(CpuKernelsTest, AttentionSlidingWindow) { checkAttention({4, 2, 16, 3, 0.25}, {7, 1, 1, 4}); }

TEST(CpuKernelsTest, AttentionRejectsPositionOutsideCache) {
  KVCache kv(1, 1, 8, 4);
  KernelParams p;
  p.setInt("layer", 0).setInt("num_heads", 1).setInt("num_kv_heads", 1).setInt("head_dim", 8);
  p.setFloat("scale", 1.0).setInt("sliding_window", 0);
  std::vector<float> q(8), k(8), v(8), out(8);
  int32_t pos = 4;
  EXPECT_THROW(run("attention", p, {q.data(), k.data(), v.data()}, {}, out.data(), 1, 0, &pos, &kv),
               llm::Error);
}

TEST(CpuKernelsTest, AttentionShapesCheckParams) {
  KernelParams p;
  p.setInt("layer", 0).setInt("num_heads", 6).setInt("num_kv_heads", 4).setInt("head_dim", 8);
  p.setFloat("scale", 1.0).setInt("sliding_window", 0);
  EXPECT_THROW(findCpuKernel("attention")->shapes(p, 0), llm::Error);
}

double referenceAct(const std::string &act, double g) {
  if (act == "silu")
    return g / (1 + std::exp(-g));
  if (act == "gelu")
    return 0.5 * g * (1 + std::erf(g / std::sqrt(2.0)));
  return 0.5 * g * (1 + std::tanh(std::sqrt(2 / M_PI) * (g + 0.044715 * g * g * g)));
}

TEST(CpuKernelsTest, GatedAct) {
  const int64_t width = 27, T = 3;
  std::vector<float> gate = randomFloats(T * width, 13, 4.0f), up = randomFloats(T * width, 14);
  for (const char *act : {"silu", "gelu", "gelu_tanh"}) {
    SCOPED_TRACE(act);
    KernelParams p;
    p.setInt("width", width).setString("act", act);
    std::vector<float> out(T * width);
    run("gated_act", p, {gate.data(), up.data()}, {}, out.data(), T);
    std::vector<double> ref(out.size());
    for (size_t i = 0; i < ref.size(); ++i)
      ref[i] = referenceAct(act, gate[i]) * up[i];
    expectClose(out, ref);
  }
  KernelParams bad;
  bad.setInt("width", width).setString("act", "relu");
  EXPECT_THROW(findCpuKernel("gated_act")->shapes(bad, 0), llm::Error);
}

TEST(CpuKernelsTest, AddAndMul) {
  const int64_t width = 17, T = 5;
  std::vector<float> a = randomFloats(T * width, 15), b = randomFloats(T * width, 16);
  KernelParams p;
  p.setInt("width", width);
  std::vector<float> sum(a.size()), prod(a.size());
  run("add", p, {a.data(), b.data()}, {}, sum.data(), T);
  run("mul", p, {a.data(), b.data()}, {}, prod.data(), T);
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(sum[i], a[i] + b[i]);
    ASSERT_EQ(prod[i], a[i] * b[i]);
  }
}

// A row's linear output is the same bits whether the row runs alone (T=1) or inside T=7, and
// whatever the thread count.
TEST(CpuKernelsTest, LinearIsBatchInvariant) {
  const int64_t K = 203, N = 37, T = 7;
  std::vector<float> x = randomFloats(T * K, 17), w = randomFloats(N * K, 18);
  std::vector<float> bias = randomFloats(N, 19);
  KernelParams p;
  p.setInt("in_features", K).setInt("out_features", N).setInt("has_bias", 1);
  std::vector<float> batch(T * N);
  run("linear", p, {x.data()}, {w.data(), bias.data()}, batch.data(), T);
  int threads = llmrt::ThreadPool::global().threads();
  for (int nt : {1, 2, 3}) {
    llmrt::ThreadPool::global().setThreads(nt);
    for (int64_t t = 0; t < T; ++t) {
      std::vector<float> single(N);
      run("linear", p, {x.data() + t * K}, {w.data(), bias.data()}, single.data(), 1);
      ASSERT_EQ(0, std::memcmp(single.data(), batch.data() + t * N, N * sizeof(float)))
          << "row " << t << " threads " << nt;
    }
  }
  llmrt::ThreadPool::global().setThreads(threads);
}

// Attention over a prefill of 6 tokens gives the same bits as running the tokens one at a time.
TEST(CpuKernelsTest, AttentionIsBatchInvariant) {
  const int64_t heads = 4, kvHeads = 2, headDim = 16, T = 6;
  int64_t qWidth = heads * headDim, kvWidth = kvHeads * headDim;
  KernelParams p;
  p.setInt("layer", 0).setInt("num_heads", heads).setInt("num_kv_heads", kvHeads);
  p.setInt("head_dim", headDim).setFloat("scale", 0.25).setInt("sliding_window", 0);
  std::vector<float> q = randomFloats(T * qWidth, 20), k = randomFloats(T * kvWidth, 21);
  std::vector<float> v = randomFloats(T * kvWidth, 22);
  std::vector<int32_t> pos = {0, 1, 2, 3, 4, 5};
  KVCache batchKv(1, kvHeads, headDim, 16), singleKv(1, kvHeads, headDim, 16);
  std::vector<float> batch(T * qWidth), single(T * qWidth);
  run("attention", p, {q.data(), k.data(), v.data()}, {}, batch.data(), T, 0, pos.data(), &batchKv);
  for (int64_t t = 0; t < T; ++t)
    run("attention", p, {q.data() + t * qWidth, k.data() + t * kvWidth, v.data() + t * kvWidth}, {},
        single.data() + t * qWidth, 1, 0, pos.data() + t, &singleKv);
  EXPECT_EQ(0, std::memcmp(batch.data(), single.data(), batch.size() * sizeof(float)));
}


// ---------------------------------------------------------------------------------------------
// Fused kernels: each must give the same bits as the unfused kernels it replaces (the fusion
// passes rely on it: fused and unfused plans agree exactly).

// linear with a glu epilogue == linear over [Wg; Wu] then glu, bitwise, with and without bias,
// SiLU's vector exp: within 3e-7 relative of the double reference over the range a model's gate
// takes and at its extremes (gates below -88 give 0, within 5e-37), and an element's bits the
// same alone as in any run of elements (the tail goes through the same vector code).
TEST(CpuKernelsTest, SiluGluIsAccurateAndPositionIndependent) {
  std::vector<float> g = randomFloats(1000, 77, 12.0f), u = randomFloats(1000, 78);
  for (float extreme : {0.0f, -0.0f, 87.0f, 89.0f, -87.0f, -89.0f, 100.0f, -100.0f, 1e30f, -1e30f})
    g.push_back(extreme), u.push_back(1.5f);
  const int64_t n = static_cast<int64_t>(g.size());
  std::vector<float> all(n);
  applyGlu(Activation::Silu, g.data(), u.data(), all.data(), n);
  for (int64_t i = 0; i < n; ++i) {
    const double want = double(g[i]) / (1 + std::exp(-double(g[i]))) * u[i];
    ASSERT_NEAR(all[i], want, 3e-7 * std::fabs(want) + 1e-30) << "g = " << g[i];
    float alone;
    applyGlu(Activation::Silu, g.data() + i, u.data() + i, &alone, 1);
    ASSERT_EQ(std::memcmp(&alone, &all[i], sizeof alone), 0) << "element " << i;
  }
  const float inf = std::numeric_limits<float>::infinity(), nan = std::nanf("");
  const float special[] = {inf, -inf, nan}, ones[] = {1.0f, 1.0f, 1.0f};
  float y[3];
  applyGlu(Activation::Silu, special, ones, y, 3);
  EXPECT_EQ(y[0], inf);
  EXPECT_EQ(y[1], 0.0f); // every gate below -88 gives 0
  EXPECT_TRUE(std::isnan(y[2]));
}

// for every block size the registry lists.
TEST(CpuKernelsTest, LinearGluEpilogueMatchesLinearThenGlu) {
  const int64_t K = 45, N = 23, T = 5;
  std::vector<float> x = randomFloats(T * K, 40), w = randomFloats(2 * N * K, 41);
  std::vector<float> bias = randomFloats(2 * N, 42);
  for (int hasBias : {0, 1})
    for (const char *act : {"silu", "gelu", "gelu_tanh"}) {
      KernelParams lin;
      lin.setInt("in_features", K).setInt("out_features", 2 * N).setInt("has_bias", hasBias);
      std::vector<const float *> weights{w.data()};
      if (hasBias)
        weights.push_back(bias.data());
      std::vector<float> gu(T * 2 * N), unfused(T * N);
      run("linear", lin, {x.data()}, weights, gu.data(), T);
      KernelParams glu;
      glu.setInt("width", N).setString("act", act);
      run("glu", glu, {gu.data()}, {}, unfused.data(), T);
      for (int64_t cols : {8, 16, 64})
        for (int64_t rows : {3, 24}) {
          KernelParams fusedP;
          fusedP.setInt("in_features", K).setInt("out_features", N).setInt("has_bias", hasBias);
          fusedP.setString("epilogue", std::string("glu_") + act);
          fusedP.setInt("block_cols", cols).setInt("block_rows", rows);
          std::vector<float> fused(T * N);
          run("linear", fusedP, {x.data()}, weights, fused.data(), T);
          ASSERT_EQ(0, std::memcmp(fused.data(), unfused.data(), fused.size() * sizeof(float)))
              << act << " bias " << hasBias << " blocks " << cols << "x" << rows;
        }
    }
}

// glu over a packed row == gated_act over the two halves.
TEST(CpuKernelsTest, GluMatchesGatedAct) {
  const int64_t N = 19, T = 3;
  std::vector<float> x = randomFloats(T * 2 * N, 43, 3.0f);
  std::vector<float> gate(T * N), up(T * N), want(T * N), got(T * N);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < N; ++i) {
      gate[t * N + i] = x[t * 2 * N + i];
      up[t * N + i] = x[t * 2 * N + N + i];
    }
  KernelParams p;
  p.setInt("width", N).setString("act", "gelu");
  run("gated_act", p, {gate.data(), up.data()}, {}, want.data(), T);
  run("glu", p, {x.data()}, {}, got.data(), T);
  EXPECT_EQ(got, want);
}

// add_rms_norm == add then rms_norm, bitwise, also when its outputs take the inputs' memory.
TEST(CpuKernelsTest, AddRmsNormMatchesAddThenRmsNorm) {
  const int64_t H = 37, T = 4;
  std::vector<float> a = randomFloats(T * H, 44), b = randomFloats(T * H, 45);
  std::vector<float> w = randomFloats(H, 46);
  KernelParams add, norm;
  add.setInt("width", H);
  norm.setInt("hidden", H).setFloat("eps", 1e-5);
  std::vector<float> sum(T * H), normed(T * H);
  run("add", add, {a.data(), b.data()}, {}, sum.data(), T);
  run("rms_norm", norm, {sum.data()}, {w.data()}, normed.data(), T);
  std::vector<float> s(T * H), n(T * H);
  runOutputs("add_rms_norm", norm, {a.data(), b.data()}, {w.data()}, {s.data(), n.data()}, T);
  EXPECT_EQ(s, sum);
  EXPECT_EQ(n, normed);
  // In place, as plan-buffers places it: the sum over a, the normalized sum over b.
  std::vector<float> a2 = a, b2 = b;
  runOutputs("add_rms_norm", norm, {a2.data(), b2.data()}, {w.data()}, {a2.data(), b2.data()}, T);
  EXPECT_EQ(a2, sum);
  EXPECT_EQ(b2, normed);
}

// attention_qkv with a rope prologue == rope on q and k, then attention on separate inputs; the
// KV caches end up identical too.
TEST(CpuKernelsTest, PackedAttentionWithRopeMatchesRopeThenAttention) {
  const int64_t heads = 4, kvHeads = 2, headDim = 8, T = 5;
  int64_t qW = heads * headDim, kvW = kvHeads * headDim, packedW = qW + 2 * kvW;
  std::vector<float> invFreq = {1.0f, 0.1f, 0.01f, 0.001f};
  std::vector<float> qkv = randomFloats(T * packedW, 47, 2.0f);
  std::vector<int32_t> pos = {0, 1, 2, 3, 4};
  std::vector<float> q(T * qW), k(T * kvW), v(T * kvW);
  for (int64_t t = 0; t < T; ++t) {
    std::copy_n(qkv.data() + t * packedW, qW, q.data() + t * qW);
    std::copy_n(qkv.data() + t * packedW + qW, kvW, k.data() + t * kvW);
    std::copy_n(qkv.data() + t * packedW + qW + kvW, kvW, v.data() + t * kvW);
  }
  KernelParams ropeQ, ropeK, attn;
  ropeQ.setInt("num_heads", heads).setInt("head_dim", headDim).setFloatArray("inv_freq", invFreq);
  ropeK.setInt("num_heads", kvHeads).setInt("head_dim", headDim).setFloatArray("inv_freq", invFreq);
  attn.setInt("layer", 0).setInt("num_heads", heads).setInt("num_kv_heads", kvHeads);
  attn.setInt("head_dim", headDim).setFloat("scale", 0.3).setInt("sliding_window", 3);
  KVCache unfusedKv(1, kvHeads, headDim, 8), fusedKv(1, kvHeads, headDim, 8);
  std::vector<float> qr(q.size()), kr(k.size()), want(T * qW), got(T * qW);
  run("rope", ropeQ, {q.data(), pos.data()}, {}, qr.data(), T);
  run("rope", ropeK, {k.data(), pos.data()}, {}, kr.data(), T);
  run("attention", attn, {qr.data(), kr.data(), v.data()}, {}, want.data(), T, 0, pos.data(),
      &unfusedKv);
  attn.setFloatArray("inv_freq", invFreq).setFloat("attention_factor", 1.0);
  run("attention_qkv", attn, {qkv.data()}, {}, got.data(), T, 0, pos.data(), &fusedKv);
  EXPECT_EQ(got, want);
  for (int32_t p : pos)
    for (int64_t i = 0; i < kvW; ++i) {
      const int h = int(i / headDim), d = int(i % headDim);
      ASSERT_EQ(fusedKv.key(0, p, h)[d], unfusedKv.key(0, p, h)[d]) << "position " << p;
      ASSERT_EQ(fusedKv.value(0, p, h)[d], unfusedKv.value(0, p, h)[d]) << "position " << p;
    }
}

// The GEMM tunables change speed, never bits.
TEST(CpuKernelsTest, GemmTunablesDoNotChangeResults) {
  const int64_t K = 77, N = 50, T = 9;
  std::vector<float> x = randomFloats(T * K, 48), w = randomFloats(N * K, 49);
  KernelParams p;
  p.setInt("in_features", K).setInt("out_features", N).setInt("has_bias", 0);
  std::vector<float> base(T * N);
  run("linear", p, {x.data()}, {w.data()}, base.data(), T);
  for (int64_t cols : {8, 16, 32, 64})
    for (int64_t rows : {3, 6, 12, 24, 48}) {
      p.setInt("block_cols", cols).setInt("block_rows", rows);
      std::vector<float> out(T * N);
      run("linear", p, {x.data()}, {w.data()}, out.data(), T);
      ASSERT_EQ(out, base) << cols << "x" << rows;
    }
}

// --- Float weights in tiles (rows8, plan/FloatTiles.h) ------------------------------------------

std::vector<float> toRows8(const std::vector<float> &w, int64_t rows, int64_t cols) {
  std::vector<float> t(w.size());
  llm::floattiles::toRows8(w.data(), rows, cols, t.data());
  return t;
}

// The layout's addresses: every element lands where FloatTiles.h says, and rows come back whole.
TEST(FloatTilesTest, EveryElementInItsPlace) {
  const int64_t R = 24, C = 40;
  std::vector<float> w(R * C);
  std::iota(w.begin(), w.end(), 0.0f);
  std::vector<float> t = toRows8(w, R, C);
  for (int64_t r = 0; r < R; ++r)
    for (int64_t c = 0; c < C; ++c)
      ASSERT_EQ(t[(r / 8) * 8 * C + (c / 8) * 64 + (r % 8) * 8 + c % 8], w[r * C + c]) << r << "," << c;
  std::vector<float> row(C);
  for (int64_t r = 0; r < R; ++r) {
    llm::floattiles::rowFromRows8(t.data(), C, r, row.data());
    ASSERT_TRUE(std::equal(row.begin(), row.end(), w.begin() + r * C)) << r;
  }
  EXPECT_TRUE(llm::floattiles::fitsRows8(8, 8));
  EXPECT_FALSE(llm::floattiles::fitsRows8(12, 8));
  EXPECT_FALSE(llm::floattiles::fitsRows8(8, 20));
}

// linear (plain, bias, glu epilogue), logits and embedding read rows8 weights with the bits of
// row_major ones, for every token count (decode's 1 x 8 tile, the 3 x 4 GEMM tiles and their
// edges), block sizes that cut tiles, and 1-3 threads.
TEST(FloatTilesTest, KernelsGiveTheRowMajorBits) {
  const int64_t K = 64, N = 48;
  const int saved = ThreadPool::global().threads();
  for (int threads : {1, 2, 3}) {
    ThreadPool::global().setThreads(threads);
    for (int64_t T : {1, 2, 3, 4, 7, 25}) {
      SCOPED_TRACE(fmt::format("threads {}, tokens {}", threads, T));
      std::vector<float> x = randomFloats(T * K, 60 + T), bias = randomFloats(2 * N, 61);
      for (const char *epilogue : {"", "glu_silu"}) {
        const bool glu = *epilogue != 0;
        const int64_t wRows = glu ? 2 * N : N;
        std::vector<float> w = randomFloats(wRows * K, 62), tiles = toRows8(w, wRows, K);
        for (int hasBias : {0, 1})
          for (int64_t cols : {4, 12, 16}) {
            KernelParams p;
            p.setInt("in_features", K).setInt("out_features", N).setInt("has_bias", hasBias);
            p.setInt("block_cols", cols);
            if (glu)
              p.setString("epilogue", epilogue);
            std::vector<const float *> plain{w.data()}, tiled{tiles.data()};
            if (hasBias) {
              plain.push_back(bias.data());
              tiled.push_back(bias.data());
            }
            std::vector<float> want(T * N), got(T * N);
            run("linear", p, {x.data()}, plain, want.data(), T);
            p.setString("weight_layout", "rows8");
            EXPECT_EQ(findCpuKernel("linear")->shapes(p, 1 + hasBias).weightLayouts[0], "rows8");
            run("linear", p, {x.data()}, tiled, got.data(), T);
            ASSERT_EQ(0, std::memcmp(got.data(), want.data(), got.size() * sizeof(float)))
                << epilogue << " bias " << hasBias << " block_cols " << cols;
          }
      }
      // logits over gathered rows, and the embedding of a tied table.
      std::vector<float> table = randomFloats(N * K, 63), tiles = toRows8(table, N, K);
      std::vector<int32_t> rows = {int32_t(T - 1), 0, int32_t(T / 2)};
      KernelParams lp;
      lp.setInt("hidden", K).setInt("vocab", N);
      std::vector<float> want(rows.size() * N), got(rows.size() * N);
      run("logits", lp, {x.data(), rows.data()}, {table.data()}, want.data(), T, rows.size());
      lp.setString("weight_layout", "rows8");
      run("logits", lp, {x.data(), rows.data()}, {tiles.data()}, got.data(), T, rows.size());
      ASSERT_EQ(got, want);
      std::vector<int32_t> ids(T);
      for (int64_t t = 0; t < T; ++t)
        ids[t] = int32_t((t * 7) % N);
      KernelParams ep;
      ep.setInt("hidden", K).setInt("vocab", N);
      std::vector<float> wantE(T * K), gotE(T * K);
      run("embedding", ep, {ids.data()}, {table.data()}, wantE.data(), T);
      ep.setString("weight_layout", "rows8");
      run("embedding", ep, {ids.data()}, {tiles.data()}, gotE.data(), T);
      ASSERT_EQ(gotE, wantE);
    }
  }
  ThreadPool::global().setThreads(saved);
}

// A layout the kernels do not know, or rows8 on a shape that is not whole tiles (a glu weight's
// halves included), is refused with the parameter named.
TEST(FloatTilesTest, BadLayoutsAreRefused) {
  auto refused = [](const char *kernel, KernelParams p, const std::string &word) {
    try {
      findCpuKernel(kernel)->shapes(p, 1);
      ADD_FAILURE() << kernel << ": no error, expected one mentioning '" << word << "'";
    } catch (const llm::Error &e) {
      EXPECT_NE(std::string(e.what()).find(word), std::string::npos) << e.what();
    }
  };
  KernelParams lin;
  lin.setInt("in_features", 64).setInt("out_features", 12).setInt("has_bias", 0);
  refused("linear", KernelParams(lin).setString("weight_layout", "rows8"), "12 x 64");
  refused("linear", KernelParams(lin).setString("weight_layout", "columns"), "columns");
  KernelParams glu;
  glu.setInt("in_features", 64).setInt("out_features", 12).setInt("has_bias", 0);
  glu.setString("epilogue", "glu_silu").setString("weight_layout", "rows8");
  refused("linear", glu, "weight_layout"); // 24 rows, but halves of 12
  KernelParams lg;
  lg.setInt("hidden", 20).setInt("vocab", 16).setString("weight_layout", "rows8");
  refused("logits", lg, "16 x 20");
  refused("embedding", lg, "16 x 20");
}

// --- The float paths per ISA (Isa.h, FloatDotAvx512.h) -----------------------------------------

// Every float path gives the AVX2 path's bits, plain and with the glu epilogue, in both layouts:
// token counts that reach every tile shape and its edges (1: decode's 8- and 16-row tiles; 2-3:
// the 3-row tiles; 4-7, 13, 25: the 6-row tiles and their remainders), K with and without a tail
// chunk, gathered rows, block sizes that cut tiles, 1-3 threads. A CPU without AVX-512 has no
// other path, and says so.
TEST(FloatIsaTest, EveryPathGivesTheAvx2Bits) {
  if (!floatIsaSupported(FloatIsa::Avx512))
    GTEST_SKIP() << "this CPU has no float path but AVX2 (AVX-512 F/VL/DQ: no)";
  const int saved = ThreadPool::global().threads();
  const FloatIsa isa = FloatIsa::Avx512;
  for (int threads : {1, 2, 3}) {
    ThreadPool::global().setThreads(threads);
    for (int64_t T : {1, 2, 3, 4, 5, 6, 7, 13, 25})
      for (auto [N, K] : {std::pair<int64_t, int64_t>{48, 64}, {40, 61}, {24, 5}, {16, 8}}) {
        SCOPED_TRACE(fmt::format("threads {}, T {}, N {}, K {}", threads, T, N, K));
        std::vector<float> x = randomFloats((T + 2) * K, 70 + T), w = randomFloats(2 * N * K, 71);
        std::vector<float> bias = randomFloats(2 * N, 72);
        std::vector<int32_t> gather(T);
        for (int64_t t = 0; t < T; ++t)
          gather[t] = int32_t((t * 5 + 2) % (T + 2));
        std::vector<FloatLayout> layouts{FloatLayout::RowMajor};
        std::vector<float> tiles;
        if (llm::floattiles::fitsRows8(2 * N, K)) {
          layouts.push_back(FloatLayout::Rows8);
          tiles = toRows8(w, 2 * N, K);
        }
        for (FloatLayout layout : layouts)
          for (GemmBlocks blocks : {GemmBlocks{}, GemmBlocks{8, 6}, GemmBlocks{12, 3},
                                    GemmBlocks{5, 7}, GemmBlocks{40, 48}}) {
            SCOPED_TRACE(fmt::format("{}, blocks {} x {}", floatLayoutName(layout), blocks.cols,
                                     blocks.rows));
            const float *wp = layout == FloatLayout::Rows8 ? tiles.data() : w.data();
            std::vector<float> want(T * 2 * N), got(want.size(), -1.0f);
            matmulTransposedB(x.data(), K, gather.data(), T, wp, 2 * N, K, bias.data(),
                              want.data(), blocks, layout, FloatIsa::Avx2);
            matmulTransposedB(x.data(), K, gather.data(), T, wp, 2 * N, K, bias.data(),
                              got.data(), blocks, layout, isa);
            ASSERT_EQ(0, std::memcmp(got.data(), want.data(), got.size() * sizeof(float)));
            std::vector<float> wantGlu(T * N), gotGlu(wantGlu.size(), -1.0f);
            matmulGlu(x.data(), T, wp, N, K, bias.data(), Activation::Silu, wantGlu.data(),
                      blocks, layout, FloatIsa::Avx2);
            matmulGlu(x.data(), T, wp, N, K, bias.data(), Activation::Silu, gotGlu.data(),
                      blocks, layout, isa);
            ASSERT_EQ(0, std::memcmp(gotGlu.data(), wantGlu.data(), gotGlu.size() * 4));
          }
      }
  }
  ThreadPool::global().setThreads(saved);
}

// Special values take the same path through both: infinities, NaN, signed zeros and denormals
// in x and W give the AVX2 path's bits (NaN: a NaN), so no lane of either path is treated apart.
TEST(FloatIsaTest, SpecialValuesGiveTheAvx2Bits) {
  if (!floatIsaSupported(FloatIsa::Avx512))
    GTEST_SKIP() << "this CPU has no float path but AVX2 (AVX-512 F/VL/DQ: no)";
  const int64_t T = 7, N = 32, K = 29;
  std::vector<float> x = randomFloats(T * K, 80), w = randomFloats(N * K, 81);
  const float specials[] = {INFINITY, -INFINITY, NAN, -0.0f, 1e-40f, -1e-42f, 3e38f};
  for (size_t i = 0; i < std::size(specials); ++i) {
    x[(i * 37) % x.size()] = specials[i];
    w[(i * 53 + 11) % w.size()] = specials[i];
  }
  for (int64_t rows : {int64_t{1}, T}) {
    std::vector<float> want(rows * N), got(rows * N);
    matmulTransposedB(x.data(), K, nullptr, rows, w.data(), N, K, nullptr, want.data(), {},
                      FloatLayout::RowMajor, FloatIsa::Avx2);
    matmulTransposedB(x.data(), K, nullptr, rows, w.data(), N, K, nullptr, got.data(), {},
                      FloatLayout::RowMajor, FloatIsa::Avx512);
    for (size_t i = 0; i < want.size(); ++i)
      if (std::isnan(want[i]))
        EXPECT_TRUE(std::isnan(got[i])) << i;
      else
        EXPECT_EQ(0, std::memcmp(&got[i], &want[i], sizeof(float))) << i << ": " << got[i];
  }
}

// LLMRT_CPU_ISA's values cap each family's choice; another value is refused by name.
TEST(IsaTest, TheCapLimitsEachFamily) {
  EXPECT_EQ(parseIsaCap(""), IsaCap::Amx);
  EXPECT_EQ(parseIsaCap("amx"), IsaCap::Amx);
  EXPECT_EQ(parseIsaCap("avx512"), IsaCap::Avx512);
  EXPECT_EQ(parseIsaCap("avx-vnni"), IsaCap::AvxVnni);
  EXPECT_EQ(parseIsaCap("avx2"), IsaCap::Avx2);
  try {
    parseIsaCap("sse4");
    ADD_FAILURE() << "sse4 accepted";
  } catch (const llm::Error &e) {
    EXPECT_NE(std::string(e.what()).find("LLMRT_CPU_ISA is 'sse4': expected avx2, avx-vnni, "
                                         "avx512 or amx"),
              std::string::npos)
        << e.what();
  }
  ASSERT_TRUE(isaSupported(Isa::Avx2)) << "the backend's baseline";
  EXPECT_EQ(bestIsaUnder(IsaCap::Avx2), Isa::Avx2);
  EXPECT_EQ(bestFloatIsaUnder(IsaCap::Avx2), FloatIsa::Avx2);
  EXPECT_EQ(bestFloatIsaUnder(IsaCap::AvxVnni), FloatIsa::Avx2);
  EXPECT_EQ(bestIsaUnder(IsaCap::AvxVnni),
            isaSupported(Isa::AvxVnni) ? Isa::AvxVnni : Isa::Avx2);
  const Isa best = isaSupported(Isa::Avx512Vnni) ? Isa::Avx512Vnni
                   : isaSupported(Isa::AvxVnni)  ? Isa::AvxVnni
                                                 : Isa::Avx2;
  EXPECT_EQ(bestIsaUnder(IsaCap::Avx512), best);
  EXPECT_EQ(bestIsaUnder(IsaCap::Amx), isaSupported(Isa::AmxInt8) ? Isa::AmxInt8 : best);
  for (IsaCap cap : {IsaCap::Avx512, IsaCap::Amx})
    EXPECT_EQ(bestFloatIsaUnder(cap),
              floatIsaSupported(FloatIsa::Avx512) ? FloatIsa::Avx512 : FloatIsa::Avx2);
  std::cout << "this CPU runs " << describeIsas() << "\n";
}

} // namespace
} // namespace llmrt::cpu
