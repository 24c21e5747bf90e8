// The engine loop and the executor's batched step on hand-built plans (no compiler): batch input
// validation, KV budget sizing, eos ids from the plan, abort, refusal of bad requests. The real
// models (batched == alone, preemption, prefix caching, chunked prefill) are in test/e2e.
#include "TestPlanWriter.h"
#include "engine/Engine.h"
#include "engine/Executor.h"
#include "plan/PlanLoader.h"
#include "support/Error.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <set>

namespace llmrt::test {
namespace {

template <typename F> void expectError(F &&f, const std::string &word) {
  try {
    f();
    ADD_FAILURE() << "no error, expected one mentioning '" << word << "'";
  } catch (const llm::Error &e) {
    EXPECT_NE(std::string(e.what()).find(word), std::string::npos) << e.what();
  }
}

std::unique_ptr<LoadedPlan> loadPlan(const TPlan &plan, const TempDir &dir) {
  return LoadedPlan::load(writePlan(plan, dir.path()).plan.string());
}

// A step of two sequences with block size 4: sequence 0 has 3 tokens at positions 0..2 in block
// 5, sequence 1 one token at position 4 (blocks 2, 7).
struct TwoSequences {
  std::vector<int32_t> ids{1, 2, 3, 4}, positions{0, 1, 2, 4}, queryStart{0, 3, 4}, seqLens{3, 5};
  std::vector<int32_t> tables{5, 0, 2, 7};
  std::vector<int64_t> slots{20, 21, 22, 28};
  std::vector<int32_t> rows{2, 3};
  StepBatch batch() const {
    return {ids, positions, slots, queryStart, seqLens, tables, 2, rows};
  }
};

TEST(ExecutorBatchTest, StepValidatesTheBatch) {
  TempDir dir;
  auto plan = loadPlan(tinyPlan(11, 8), dir);
  Executor ex(*plan, ExecutorOptions{.kvCacheBlocks = 8, .kvBlockSize = 4});
  EXPECT_TRUE(ex.paged());
  TwoSequences s;
  EXPECT_EQ(ex.step(s.batch()).size(), 2u * 11);
  auto expectBad = [&](auto change, const std::string &word) {
    TwoSequences bad;
    change(bad);
    expectError([&] { ex.step(bad.batch()); }, word);
  };
  expectBad([](TwoSequences &b) { b.slots[3] = 29; }, "not position 4's slot 28");
  expectBad([](TwoSequences &b) { b.tables[3] = 8; }, "outside the KV cache");
  expectBad([](TwoSequences &b) { b.seqLens[1] = 9; }, "covered by its block table");
  expectBad([](TwoSequences &b) { b.positions[3] = 5; }, "outside its sequence");
  expectBad([](TwoSequences &b) { b.queryStart = {0, 4, 4}; }, "at least one token");
  expectBad([](TwoSequences &b) { b.queryStart = {0, 3, 3}; }, "query starts");
  expectBad([](TwoSequences &b) { b.seqLens = {3}; }, "sequence lengths");
  expectBad([](TwoSequences &b) { b.ids[0] = 11; }, "vocabulary");
  expectBad([](TwoSequences &b) { b.rows = {4}; }, "logit row");
  expectBad([](TwoSequences &b) { b.slots.pop_back(); }, "slots for 4 tokens");
  expectBad([](TwoSequences &b) { b.tables.pop_back(); }, "block table entries");
  expectError([&] { ex.forward(std::vector<int32_t>{1}, std::vector<int32_t>{0}, {}); },
              "paged KV cache");
  expectError([&] { ex.copyBlocks(std::vector<BlockCopy>{{0, 1}, {2, 8}}); }, "outside");
}

// The single-sequence wrapper and a one-sequence step give the same logits.
TEST(ExecutorBatchTest, ForwardIsAOneSequenceStep) {
  TempDir dir;
  auto plan = loadPlan(tinyPlan(11, 8), dir);
  Executor single(*plan), paged(*plan, ExecutorOptions{.kvCacheBlocks = 4, .kvBlockSize = 4});
  std::vector<int32_t> ids{3, 1, 4, 1, 5}, pos{0, 1, 2, 3, 4}, rows{4, 0}, qs{0, 5}, len{5},
      table{2, 0};
  std::vector<int64_t> slots{8, 9, 10, 11, 0};
  EXPECT_EQ(single.forward(ids, pos, rows), paged.step({ids, pos, slots, qs, len, table, 2, rows}));
  EXPECT_EQ(single.sequenceLength(), 5);
}

TPlan planWithKvSpec(std::vector<int32_t> eos = {}) {
  TPlan p = tinyPlan(11, 8);
  p.kvLayers = 2; // a KV cache spec without attention calls: blocks cost memory, nothing reads them
  p.kvHeads = 1;
  p.headDim = 4;
  p.eos = std::move(eos);
  return p;
}

TEST(EngineTest, KvCacheSizedFromTheBudget) {
  TempDir dir;
  auto plan = loadPlan(planWithKvSpec(), dir);
  // 2 layers x (K + V) x 1 kv head x 4 floats x 16 positions x 4 bytes = 1024 bytes per block.
  EngineConfig c;
  c.kvCacheMemory = 10 * 1024 + 100;
  Engine e(*plan, c);
  EXPECT_EQ(e.numKvBlocks(), 10);
  EXPECT_EQ(e.blockSize(), 16); // the plan's
  EXPECT_EQ(e.scheduler().maxModelLen(), 64); // the plan's max_seq_len, within 160 slots
  c.blockSize = 8;
  EXPECT_EQ(Engine(*plan, c).numKvBlocks(), 20);
  c.kvCacheBlocks = 3;
  Engine small(*plan, c);
  EXPECT_EQ(small.numKvBlocks(), 3);
  EXPECT_EQ(small.scheduler().maxModelLen(), 24); // capped at the KV capacity
  c.kvCacheBlocks = 0;
  c.kvCacheMemory = 100;
  expectError([&] { Engine tooSmall(*plan, c); }, "holds no block");
}

// Greedy tokens of a request through the engine against the executor's single-sequence path.
std::vector<int32_t> greedyAlone(const LoadedPlan &plan, std::vector<int32_t> tokens, int n) {
  Executor ex(plan);
  Sampler greedy(SamplingParams{});
  std::vector<int32_t> out;
  std::vector<int32_t> pos(tokens.size());
  std::iota(pos.begin(), pos.end(), 0);
  std::vector<float> logits =
      ex.forward(tokens, pos, std::vector<int32_t>{int32_t(tokens.size() - 1)});
  while (static_cast<int>(out.size()) < n) {
    int32_t next = greedy.sample(logits);
    out.push_back(next);
    std::vector<int32_t> one{next}, p{int32_t(tokens.size())}, r{0};
    tokens.push_back(next);
    logits = ex.forward(one, p, r);
  }
  return out;
}

std::map<std::string, std::vector<int32_t>> runAll(Engine &engine) {
  std::map<std::string, std::vector<int32_t>> out;
  while (engine.hasUnfinished())
    for (const NewToken &t : engine.step().tokens)
      out[t.id].push_back(t.token);
  return out;
}

TEST(EngineTest, BatchedRequestsMatchTheSingleSequencePath) {
  TempDir dir;
  auto plan = loadPlan(planWithKvSpec(), dir);
  EngineConfig c;
  c.kvCacheBlocks = 64;
  c.maxNumBatchedTokens = 5; // chunked prefill
  Engine engine(*plan, c);
  std::vector<std::vector<int32_t>> prompts = {{1}, {2, 3, 4, 5, 6, 7, 8}, {10, 0}, {9, 9, 9}};
  for (size_t i = 0; i < prompts.size(); ++i) {
    StopParams stop;
    stop.maxTokens = 3 + static_cast<int>(i);
    stop.ignoreEos = true;
    engine.add(Request("r" + std::to_string(i), prompts[i], stop));
  }
  auto out = runAll(engine);
  for (size_t i = 0; i < prompts.size(); ++i)
    EXPECT_EQ(out["r" + std::to_string(i)], greedyAlone(*plan, prompts[i], 3 + int(i))) << i;
  EXPECT_EQ(engine.stats().sampledTokens, 3u + 4 + 5 + 6);
  EXPECT_GT(engine.stats().steps, 0u);
  EXPECT_GT(engine.stats().peakUsedBlocks, 0);
}

TEST(EngineTest, EosIdsComeFromThePlanUnlessTheRequestGivesSome) {
  TempDir dir;
  auto probe = loadPlan(planWithKvSpec(), dir);
  std::vector<int32_t> chain = greedyAlone(*probe, {4}, 4);
  int32_t first = chain[0], notInChain = 0;
  while (std::find(chain.begin(), chain.end(), notInChain) != chain.end())
    ++notInChain;
  TempDir dir2;
  auto plan = loadPlan(planWithKvSpec({first}), dir2);
  EngineConfig c;
  c.kvCacheBlocks = 16;
  Engine engine(*plan, c);
  StopParams stop;
  stop.maxTokens = 4;
  engine.add(Request("plan-eos", {4}, stop));
  stop.eosTokenIds = {notInChain};
  engine.add(Request("own-eos", {4}, stop));
  std::map<std::string, RequestStatus> finished;
  while (engine.hasUnfinished())
    for (const auto &r : engine.step().finished)
      finished[r->id] = r->status;
  EXPECT_EQ(finished["plan-eos"], RequestStatus::FinishedStopped);
  EXPECT_EQ(finished["own-eos"], RequestStatus::FinishedLength);
}

TEST(EngineTest, AbortAndBadRequests) {
  TempDir dir;
  auto plan = loadPlan(planWithKvSpec(), dir);
  EngineConfig c;
  c.kvCacheBlocks = 16;
  Engine engine(*plan, c);
  expectError([&] { engine.add(Request("big", {11})); }, "vocabulary");
  SamplingParams bad;
  bad.temperature = -1;
  expectError([&] { engine.add(Request("bad", {1}, {}, bad)); }, "temperature");
  EXPECT_FALSE(engine.hasUnfinished());

  StopParams stop;
  stop.maxTokens = 50;
  stop.ignoreEos = true;
  engine.add(Request("a", {1, 2}, stop));
  engine.add(Request("b", {3}, stop));
  engine.step();
  EXPECT_TRUE(engine.abort("a"));
  EXPECT_FALSE(engine.abort("a"));
  // The id is free again at once; the aborted request is reported by the next step.
  SamplingParams seeded;
  seeded.temperature = 1;
  seeded.seed = 3;
  engine.add(Request("a", {5}, stop, seeded));
  EngineOutput out = engine.step();
  ASSERT_EQ(out.finished.size(), 1u);
  EXPECT_EQ(out.finished[0]->status, RequestStatus::FinishedAborted);
  EXPECT_EQ(out.tokens.size(), 2u); // b and the new a
  EXPECT_TRUE(engine.abort("a"));
  EXPECT_TRUE(engine.abort("b"));
  out = engine.step();
  EXPECT_EQ(out.numRequests, 0); // nothing ran
  EXPECT_EQ(out.finished.size(), 2u);
  EXPECT_FALSE(engine.hasUnfinished());
}

// n > 1: sample i of a request equals the same request sent alone with seed + i (the fork draws
// its first token from the prompt's logits with its own sampler; the executor is batch invariant).
TEST(EngineTest, SamplesForkFromThePromptAndMatchSingleRequests) {
  TempDir dir;
  auto plan = loadPlan(planWithKvSpec(), dir);
  EngineConfig c;
  c.kvCacheBlocks = 64;
  c.blockSize = 4;
  StopParams stop;
  stop.maxTokens = 6;
  stop.ignoreEos = true;
  SamplingParams p;
  p.temperature = 1.5f;
  p.seed = 11;
  p.logprobs = 2;
  const std::vector<int32_t> prompt{1, 2, 3, 4, 5, 6};
  Engine together(*plan, c);
  together.add(Request("r", prompt, stop, p), 3);
  std::map<std::string, std::vector<int32_t>> samples;
  std::map<std::string, int> withLogprobs;
  std::map<std::string, RequestStatus> finished;
  while (together.hasUnfinished()) {
    EngineOutput out = together.step();
    ASSERT_EQ(out.logprobs.size(), out.tokens.size());
    for (size_t i = 0; i < out.tokens.size(); ++i) {
      samples[out.tokens[i].id].push_back(out.tokens[i].token);
      if (out.logprobs[i]) {
        ++withLogprobs[out.tokens[i].id];
        ASSERT_EQ(out.logprobs[i]->top.size(), 2u);
        EXPECT_LE(out.logprobs[i]->logprob, 0.0f);
        EXPECT_GE(out.logprobs[i]->top[0].second, out.logprobs[i]->top[1].second);
      }
    }
    for (const auto &r : out.finished)
      finished[r->id] = r->status;
  }
  ASSERT_EQ(samples.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    std::string id = Engine::sampleId("r", i);
    EXPECT_EQ(finished[id], RequestStatus::FinishedLength) << id;
    EXPECT_EQ(withLogprobs[id], 6) << id;
    Engine alone(*plan, c);
    SamplingParams q = p;
    q.seed = p.seed + i;
    alone.add(Request("x", prompt, stop, q));
    EXPECT_EQ(samples[id], runAll(alone)["x"]) << id;
  }
  // The prompt was computed once: 6 prompt tokens + 3 x 5 decoded tokens (the last token of each
  // sample is never run).
  EXPECT_EQ(together.stats().computedTokens, 6u + 3 * 5);
}

TEST(EngineTest, SamplesAbortedBeforeTheyForkAreReported) {
  TempDir dir;
  auto plan = loadPlan(planWithKvSpec(), dir);
  EngineConfig c;
  c.kvCacheBlocks = 16;
  Engine engine(*plan, c);
  expectError([&] { engine.add(Request("r", {1}), 0); }, "samples");
  engine.add(Request("r", {1, 2}), 3);
  EXPECT_TRUE(engine.abort("r"));
  EngineOutput out = engine.step();
  std::set<std::string> ids;
  for (const auto &r : out.finished) {
    ids.insert(r->id);
    EXPECT_EQ(r->status, RequestStatus::FinishedAborted);
  }
  EXPECT_EQ(ids, (std::set<std::string>{"r", "r#1", "r#2"}));
  EXPECT_FALSE(engine.hasUnfinished());
}

TEST(EngineTest, FinishStopsARunningRequest) {
  TempDir dir;
  auto plan = loadPlan(planWithKvSpec(), dir);
  EngineConfig c;
  c.kvCacheBlocks = 16;
  Engine engine(*plan, c);
  StopParams stop;
  stop.maxTokens = 20;
  stop.ignoreEos = true;
  engine.add(Request("s", {3, 4}, stop));
  engine.step();
  EXPECT_TRUE(engine.finish("s", RequestStatus::FinishedStopped));
  EngineOutput out = engine.step();
  ASSERT_EQ(out.finished.size(), 1u);
  EXPECT_EQ(out.finished[0]->status, RequestStatus::FinishedStopped);
  EXPECT_EQ(out.finished[0]->numOutputTokens(), 1);
  EXPECT_FALSE(engine.finish("s", RequestStatus::FinishedStopped));
}

} // namespace
} // namespace llmrt::test
