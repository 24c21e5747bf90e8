// The executor on hand-built plans: logits against a reference, step-input validation, binding
// checks, and batch invariance of a whole (tiny) transformer across prefill and decode.
#include "TestPlanWriter.h"
#include "engine/Executor.h"
#include "plan/FloatTiles.h"
#include "plan/PlanLoader.h"
#include "support/Error.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <numeric>

namespace llmrt::test {
namespace {

std::unique_ptr<LoadedPlan> loadPlan(const TPlan &plan, const TempDir &dir) {
  return LoadedPlan::load(writePlan(plan, dir.path()).plan.string());
}

// Expects `f` to throw llm::Error whose message contains `word`.
template <typename F> void expectError(F &&f, const std::string &word) {
  try {
    f();
    ADD_FAILURE() << "no error, expected one mentioning '" << word << "'";
  } catch (const llm::Error &e) {
    EXPECT_NE(std::string(e.what()).find(word), std::string::npos) << e.what();
  }
}

std::vector<int32_t> iota(int32_t n, int32_t start = 0) {
  std::vector<int32_t> v(n);
  std::iota(v.begin(), v.end(), start);
  return v;
}

TEST(ExecutorTest, TinyPlanMatchesReference) {
  TempDir dir;
  TPlan tp = tinyPlan(11, 8);
  auto plan = loadPlan(tp, dir);
  Executor ex(*plan);
  EXPECT_EQ(ex.vocabSize(), 11);
  std::vector<int32_t> ids = {4, 0, 10, 4}, rows = {3, 1};
  std::vector<float> logits = ex.forward(ids, iota(4), rows);
  ASSERT_EQ(logits.size(), 2u * 11);
  const std::vector<float> &embed = tp.weights[0].data, &norm = tp.weights[1].data,
                           &head = tp.weights[2].data;
  for (size_t r = 0; r < rows.size(); ++r) {
    const float *x = embed.data() + ids[rows[r]] * 8;
    double ms = 0;
    for (int i = 0; i < 8; ++i)
      ms += double(x[i]) * x[i];
    double inv = 1 / std::sqrt(ms / 8 + 1e-5);
    for (int v = 0; v < 11; ++v) {
      double acc = 0;
      for (int i = 0; i < 8; ++i)
        acc += x[i] * inv * norm[i] * head[v * 8 + i];
      EXPECT_NEAR(logits[r * 11 + v], acc, 1e-5 * std::max(1.0, std::fabs(acc)));
    }
  }
}

TEST(ExecutorTest, StepInputsAreValidated) {
  TempDir dir;
  auto plan = loadPlan(tinyPlan(11, 8), dir);
  Executor ex(*plan, ExecutorOptions{.threads = 0, .maxSeqLen = 8});
  std::vector<int32_t> one = {0};
  expectError([&] { ex.forward(std::vector<int32_t>{11}, one, one); }, "vocabulary");
  expectError([&] { ex.forward(std::vector<int32_t>{-1}, one, one); }, "vocabulary");
  expectError([&] { ex.forward(iota(9), iota(9), one); }, "capacity");
  expectError([&] { ex.forward(one, std::vector<int32_t>{2}, one); }, "skips");
  expectError([&] { ex.forward(iota(2), one, one); }, "positions for 2 tokens");
  expectError([&] { ex.forward(iota(2), iota(2), std::vector<int32_t>{2}); }, "logit row");
  expectError([&] { ex.forward(one, one, iota(2)); }, "logit rows");
  expectError([&] { ex.forward({}, {}, {}); }, "no tokens");
  EXPECT_EQ(ex.sequenceLength(), 0); // refused steps change nothing
  ex.forward(iota(3), iota(3), std::vector<int32_t>{2});
  EXPECT_EQ(ex.sequenceLength(), 3);
  ex.forward(one, std::vector<int32_t>{3}, one);
  EXPECT_EQ(ex.sequenceLength(), 4);
  ex.reset();
  EXPECT_EQ(ex.sequenceLength(), 0);
  expectError([&] { ex.forward(one, std::vector<int32_t>{1}, one); }, "skips");
}

TEST(ExecutorTest, MaxSeqLenOption) {
  TempDir dir;
  auto plan = loadPlan(tinyPlan(11, 8), dir); // kv_cache.max_seq_len 64
  EXPECT_EQ(Executor(*plan).maxSeqLen(), 64);
  EXPECT_EQ(Executor(*plan, ExecutorOptions{.threads = 0, .maxSeqLen = 10}).maxSeqLen(), 10);
  expectError([&] { Executor ex(*plan, ExecutorOptions{.threads = 0, .maxSeqLen = 65}); },
              "exceeds the plan's maximum");
}

TEST(ExecutorTest, BindingChecksShapes) {
  TempDir dir;
  TPlan tp = tinyPlan(11, 8);
  tp.weights[1].shape = {9};
  tp.weights[1].data.resize(9);
  auto plan = loadPlan(tp, dir);
  expectError([&] { Executor ex(*plan); }, "expected [8] of F32");

  TempDir dir2;
  tp = tinyPlan(11, 8);
  tp.calls[1].outputs[0].rowBytes = 16;
  auto plan2 = loadPlan(tp, dir2);
  expectError([&] { Executor ex(*plan2); }, "bytes per row");
}

// A tiny Llama-style decoder: 2 layers of pre-norm GQA attention with rope and a SwiGLU MLP.
TPlan tinyTransformer() {
  const int64_t vocab = 19, hidden = 16, heads = 4, kvHeads = 2, headDim = 4, inter = 24;
  const int64_t layers = 2;
  TPlan p;
  p.vocab = vocab;
  p.hidden = hidden;
  p.kvLayers = layers;
  p.kvHeads = kvHeads;
  p.headDim = headDim;
  p.kvMaxSeqLen = 32;
  uint64_t seed = 1000;
  auto weight = [&](std::string name, std::vector<int64_t> shape, float scale = 0.5f) {
    size_t n = 1;
    for (int64_t d : shape)
      n *= d;
    p.weights.push_back({std::move(name), std::move(shape), randomFloats(n, seed++, scale)});
    return static_cast<uint32_t>(p.weights.size() - 1);
  };
  auto linear = [&](int64_t k, int64_t n) {
    return std::vector<TParam>{intParam("in_features", k), intParam("out_features", n),
                               intParam("has_bias", 0)};
  };
  auto norm = std::vector<TParam>{intParam("hidden", hidden), floatParam("eps", 1e-6)};
  std::vector<float> invFreq = {1.0f, 0.01f};
  auto rope = [&](int64_t h) {
    return std::vector<TParam>{intParam("num_heads", h), intParam("head_dim", headDim),
                               arrayParam("inv_freq", invFreq)};
  };
  ArenaLayout arena;
  TBuffer x = arena.take(hidden);
  p.calls.push_back({"embedding",
                     {intParam("hidden", hidden), intParam("vocab", vocab)},
                     {stepInput(0)},
                     {x},
                     {weight("embed", {vocab, hidden})}});
  for (int64_t l = 0; l < layers; ++l) {
    TBuffer n1 = arena.take(hidden), q = arena.take(heads * headDim);
    TBuffer k = arena.take(kvHeads * headDim), v = arena.take(kvHeads * headDim);
    TBuffer a = arena.take(heads * headDim), o = arena.take(hidden), x2 = arena.take(hidden);
    TBuffer n2 = arena.take(hidden), g = arena.take(inter), u = arena.take(inter);
    TBuffer m = arena.take(inter), d = arena.take(hidden), x3 = arena.take(hidden);
    p.calls.push_back({"rms_norm", norm, {x}, {n1}, {weight("in_norm", {hidden})}});
    p.calls.push_back({"linear",
                       linear(hidden, heads * headDim),
                       {n1},
                       {q},
                       {weight("q", {heads * headDim, hidden})}});
    p.calls.push_back({"linear",
                       linear(hidden, kvHeads * headDim),
                       {n1},
                       {k},
                       {weight("k", {kvHeads * headDim, hidden})}});
    p.calls.push_back({"linear",
                       linear(hidden, kvHeads * headDim),
                       {n1},
                       {v},
                       {weight("v", {kvHeads * headDim, hidden})}});
    p.calls.push_back({"rope", rope(heads), {q, stepInput(1)}, {q}, {}}); // in place
    p.calls.push_back({"rope", rope(kvHeads), {k, stepInput(1)}, {k}, {}});
    p.calls.push_back({"attention",
                       {intParam("layer", l), intParam("num_heads", heads),
                        intParam("num_kv_heads", kvHeads), intParam("head_dim", headDim),
                        floatParam("scale", 0.5), intParam("sliding_window", l == 1 ? 3 : 0)},
                       {q, k, v},
                       {a},
                       {}});
    p.calls.push_back({"linear",
                       linear(heads * headDim, hidden),
                       {a},
                       {o},
                       {weight("o", {hidden, heads * headDim})}});
    p.calls.push_back({"add", {intParam("width", hidden)}, {x, o}, {x2}, {}});
    p.calls.push_back({"rms_norm", norm, {x2}, {n2}, {weight("post_norm", {hidden})}});
    p.calls.push_back(
        {"linear", linear(hidden, inter), {n2}, {g}, {weight("gate", {inter, hidden})}});
    p.calls.push_back(
        {"linear", linear(hidden, inter), {n2}, {u}, {weight("up", {inter, hidden})}});
    p.calls.push_back(
        {"gated_act", {intParam("width", inter), stringParam("act", "silu")}, {g, u}, {m}, {}});
    p.calls.push_back(
        {"linear", linear(inter, hidden), {m}, {d}, {weight("down", {hidden, inter})}});
    p.calls.push_back({"add", {intParam("width", hidden)}, {x2, d}, {x3}, {}});
    x = x3;
  }
  TBuffer xn = arena.take(hidden), logits = arena.take(vocab, fb::Rows::LogitRows);
  p.calls.push_back({"rms_norm", norm, {x}, {xn}, {weight("final_norm", {hidden})}});
  p.calls.push_back({"logits",
                     {intParam("hidden", hidden), intParam("vocab", vocab)},
                     {xn, stepInput(2, fb::Rows::LogitRows)},
                     {logits},
                     {weight("lm_head", {vocab, hidden})}});
  p.output = logits;
  p.arenaBytesPerToken = arena.bytesPerToken();
  p.arenaBytesPerLogitRow = arena.bytesPerLogitRow();
  return p;
}

// The logits of each position are the same bits whether the sequence is prefilled in one step,
// decoded one token at a time, or split into chunks.
TEST(ExecutorTest, PrefillAndDecodeAgreeBitwise) {
  TempDir dir;
  auto plan = loadPlan(tinyTransformer(), dir);
  Executor ex(*plan);
  const int n = 7, vocab = ex.vocabSize();
  std::vector<int32_t> ids = {3, 18, 0, 7, 7, 12, 5};
  std::vector<float> prefill = ex.forward(ids, iota(n), iota(n));
  ASSERT_EQ(prefill.size(), size_t(n) * vocab);
  for (float v : prefill)
    ASSERT_TRUE(std::isfinite(v));

  ex.reset();
  for (int t = 0; t < n; ++t) {
    std::vector<float> step =
        ex.forward(std::vector<int32_t>{ids[t]}, std::vector<int32_t>{t}, std::vector<int32_t>{0});
    ASSERT_EQ(0, std::memcmp(step.data(), prefill.data() + t * vocab, vocab * sizeof(float)))
        << "position " << t;
  }

  ex.reset();
  std::vector<float> first = ex.forward(std::vector<int32_t>(ids.begin(), ids.begin() + 4), iota(4),
                                        std::vector<int32_t>{3});
  std::vector<float> rest = ex.forward(std::vector<int32_t>(ids.begin() + 4, ids.end()), iota(3, 4),
                                       std::vector<int32_t>{2, 0});
  EXPECT_EQ(0, std::memcmp(first.data(), prefill.data() + 3 * vocab, vocab * sizeof(float)));
  EXPECT_EQ(0, std::memcmp(rest.data(), prefill.data() + 6 * vocab, vocab * sizeof(float)));
  EXPECT_EQ(0, std::memcmp(rest.data() + vocab, prefill.data() + 4 * vocab, vocab * sizeof(float)));
}

// The KV cache matters: the same token at the same position after different histories gives
// different logits.
TEST(ExecutorTest, HistoryChangesLogits) {
  TempDir dir;
  auto plan = loadPlan(tinyTransformer(), dir);
  Executor ex(*plan);
  std::vector<float> a = ex.forward(std::vector<int32_t>{1, 2}, iota(2), std::vector<int32_t>{1});
  ex.reset();
  std::vector<float> b = ex.forward(std::vector<int32_t>{9, 2}, iota(2), std::vector<int32_t>{1});
  EXPECT_NE(a, b);
}

// Float weights in tiles (rows8, plan/FloatTiles.h, as llmc writes embedding / linear / logits
// matrices for CPU targets) give the row_major plan's logits bit for bit, prefill and decode; a
// call that does not say it reads tiles, an unknown float layout, and tiles on a shape that is
// not whole tiles are refused.
TEST(ExecutorTest, FloatTiledWeightsRunBitForBitAndAreChecked) {
  TPlan rowMajor = tinyPlan(64, 32), tiles = rowMajor;
  for (int index : {0, 2}) { // the embedding and the lm_head
    TWeight &w = tiles.weights[index];
    std::vector<float> packed(w.data.size());
    llm::floattiles::toRows8(w.data.data(), w.shape[0], w.shape[1], packed.data());
    w.data = packed;
    w.layout = "rows8";
  }
  TPlan unmarked = tiles; // the calls do not say they read tiles
  for (int c : {0, 2})
    tiles.calls[c].params.push_back(stringParam("weight_layout", "rows8"));
  TempDir a, b, c;
  auto rp = loadPlan(rowMajor, a), tp = loadPlan(tiles, b);
  Executor re(*rp), te(*tp);
  std::vector<int32_t> ids{3, 17, 42, 63, 0}, rows{0, 2, 4};
  EXPECT_EQ(re.forward(ids, iota(5), rows), te.forward(ids, iota(5), rows));
  std::vector<int32_t> next{9}, at{5}, last{0};
  EXPECT_EQ(re.forward(next, at, last), te.forward(next, at, last));

  auto up = loadPlan(unmarked, c);
  expectError([&] { Executor e(*up); }, "stored rows8, but the call reads it as row_major");

  auto refused = [](const TPlan &plan, std::initializer_list<std::string> words) {
    TempDir dir;
    try {
      LoadedPlan::load(writePlan(plan, dir.path()).plan.string());
      ADD_FAILURE() << "plan loaded, expected a refusal mentioning " << *words.begin();
    } catch (const llm::Error &e) {
      for (const std::string &word : words)
        EXPECT_NE(std::string(e.what()).find(word), std::string::npos) << e.what();
    }
  };
  TPlan unknown = rowMajor;
  unknown.weights[2].layout = "columns";
  refused(unknown, {"lm_head.weight", "layout 'columns' of an F32 weight", "rows8"});
  TPlan odd = tinyPlan(60, 32); // an lm_head of 60 rows
  odd.weights[2].layout = "rows8";
  refused(odd, {"lm_head.weight", "[60, 32]", "multiples of 8"});
  TPlan vector = rowMajor;
  vector.weights[1].layout = "rows8"; // the norm's 32 floats
  refused(vector, {"[32]", "multiples of 8"});
}

} // namespace
} // namespace llmrt::test
