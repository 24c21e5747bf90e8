// The default model (SmolLM2-135M-Instruct, Q4_1 GGUF) through the engine: 8 requests batched give
// the tokens each gives alone (the 5 reference prompts also give transformers' greedy tokens), and
// again with a KV pool so small that requests are preempted and recomputed.
//
// Sized for a 2-core machine: about 320 prompt tokens and 210 output tokens per run, one thread
// (results do not depend on it; one thread keeps the tests fast on a loaded machine).
#include "common/CompilePlan.h"
#include "engine/Engine.h"
#include "plan/PlanLoader.h"
#include "support/ThreadPool.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include <unistd.h>

namespace fs = std::filesystem;

namespace llmrt {
namespace {

using Tokens = std::vector<int32_t>;
using Outputs = std::map<std::string, Tokens>;

struct Case {
  Tokens prompt;
  int outputs = 0;
  Tokens expected; // transformers' greedy tokens, for the reference prompts
};

class DefaultModelEngine : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    ASSERT_TRUE(fs::exists(DEFAULT_GGUF))
        << DEFAULT_GGUF << " is missing: run tools/fetch-default-model.sh (tools/setup.sh test does)";
    llmrt::ThreadPool::global().setThreads(1);
    dir_ = fs::temp_directory_path() / ("llm-default-engine-" + std::to_string(::getpid()));
    std::string plan = (dir_ / "plan.fb").string();
    // Compared with transformers' float32 tokens: the float32 plan (--quant none).
    ASSERT_EQ(llmtest::compilePlan(LLMC_PATH, DEFAULT_GGUF, plan, "--quant none"), "");
    plan_ = LoadedPlan::load(plan);
    std::ifstream in(REFERENCE_JSON);
    nlohmann::json reference = nlohmann::json::parse(in);
    for (const auto &c : reference.at("cases")) {
      Tokens greedy = c.at("greedy_tokens").get<Tokens>();
      cases_.push_back({c.at("prompt_ids").get<Tokens>(), static_cast<int>(greedy.size()), greedy});
    }
    // Three longer prompts of random ids.
    std::mt19937_64 rng(11);
    for (int len : {40, 77, 120}) {
      Tokens p;
      for (int i = 0; i < len; ++i)
        p.push_back(static_cast<int32_t>(rng() % 49152));
      cases_.push_back({p, len / 5, {}});
    }
    alone_ = run(EngineConfig{.kvCacheBlocks = 64}, /*together=*/false);
  }
  static void TearDownTestSuite() {
    plan_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  static Request request(size_t i) {
    StopParams stop;
    stop.maxTokens = cases_[i].outputs;
    stop.ignoreEos = true;
    return Request("r" + std::to_string(i), cases_[i].prompt, stop);
  }

  // Every case through one engine at once, or each through its own engine.
  static Outputs run(const EngineConfig &config, bool together, uint64_t *preemptions = nullptr) {
    Outputs out;
    auto drain = [&](Engine &engine) {
      while (engine.hasUnfinished())
        for (const NewToken &t : engine.step().tokens)
          out[t.id].push_back(t.token);
    };
    if (together) {
      Engine engine(*plan_, config);
      for (size_t i = 0; i < cases_.size(); ++i)
        engine.add(request(i));
      drain(engine);
      if (preemptions)
        *preemptions = engine.scheduler().numPreemptions();
    } else {
      for (size_t i = 0; i < cases_.size(); ++i) {
        Engine engine(*plan_, config);
        engine.add(request(i));
        drain(engine);
      }
    }
    return out;
  }

  static void expectAlone(const Outputs &got) {
    for (size_t i = 0; i < cases_.size(); ++i)
      EXPECT_EQ(got.at("r" + std::to_string(i)), alone_.at("r" + std::to_string(i))) << i;
  }

  static inline fs::path dir_;
  static inline std::unique_ptr<LoadedPlan> plan_;
  static inline std::vector<Case> cases_;
  static inline Outputs alone_;
};

TEST_F(DefaultModelEngine, AloneGivesTransformersGreedyTokens) {
  for (size_t i = 0; i < cases_.size(); ++i) {
    if (!cases_[i].expected.empty()) {
      EXPECT_EQ(alone_.at("r" + std::to_string(i)), cases_[i].expected) << i;
    }
  }
}

TEST_F(DefaultModelEngine, BatchedMatchesAlone) {
  uint64_t preemptions = 1;
  expectAlone(run(EngineConfig{.kvCacheBlocks = 64}, true, &preemptions));
  EXPECT_EQ(preemptions, 0u);
}

// 10 blocks of 16: the longest request (144 tokens) fits alone, the 8 together (about 530 tokens)
// do not; a budget of 48 tokens also chunks the longer prompts.
TEST_F(DefaultModelEngine, PreemptionAndChunkingKeepTokens) {
  uint64_t preemptions = 0;
  expectAlone(run(EngineConfig{.maxNumBatchedTokens = 48, .kvCacheBlocks = 10}, true,
                  &preemptions));
  EXPECT_GT(preemptions, 0u);
  std::cout << "preemptions: " << preemptions << "\n";
}

} // namespace
} // namespace llmrt
