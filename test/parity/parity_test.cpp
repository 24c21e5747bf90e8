// Parity with transformers: llmc compiles each tiny fixture model, llmrt runs it, and the logits
// (max abs difference 1e-4, fp32) and 32-token greedy continuations must match reference.json.
#include "engine/Executor.h"
#include "plan/PlanLoader.h"
#include "sampler/Sampler.h"
#include "common/CompilePlan.h"
#include "common/LogitParity.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <span>

namespace fs = std::filesystem;

namespace {

using llmtest::iota;

std::vector<std::string> fixtureNames() {
  return llmtest::fixtureNames(FIXTURES_DIR, "reference.json");
}

struct Reference {
  std::vector<int32_t> inputIds;
  std::vector<std::vector<float>> logits;
  std::vector<int32_t> greedyPrompt;
  std::vector<int32_t> greedyTokens;
};

Reference readReference(const fs::path &dir) {
  std::ifstream in(dir / "reference.json");
  nlohmann::json j = nlohmann::json::parse(in);
  Reference r;
  r.inputIds = j.at("input_ids").get<std::vector<int32_t>>();
  r.logits = j.at("logits").get<std::vector<std::vector<float>>>();
  r.greedyPrompt = j.at("greedy_prompt").get<std::vector<int32_t>>();
  r.greedyTokens = j.at("greedy_tokens").get<std::vector<int32_t>>();
  return r;
}

// Compiles the fixture once per test into a fresh folder (with the fusion passes unless told).
std::string compile(const std::string &name, const std::string &flags = "") {
  fs::path out = llmtest::processScratchDir("llm-parity") / name /
                 (flags.empty() ? "default" : "flags");
  std::string plan = (out / "plan.fb").string();
  std::string failed = llmtest::compilePlan(LLMC_PATH, std::string(FIXTURES_DIR) + "/" + name, plan,
                                            flags);
  EXPECT_EQ(failed, "");
  return plan;
}

class Parity : public ::testing::TestWithParam<std::string> {};

TEST_P(Parity, LogitsMatchTransformers) {
  Reference ref = readReference(fs::path(FIXTURES_DIR) / GetParam());
  auto plan = llmrt::LoadedPlan::load(compile(GetParam()));
  llmrt::Executor exec(*plan);
  size_t T = ref.inputIds.size();
  std::vector<int32_t> positions = iota(T), rows = iota(T);
  std::vector<float> logits = exec.forward(ref.inputIds, positions, rows);
  int V = exec.vocabSize();
  ASSERT_EQ(logits.size(), T * V);
  double worst = 0;
  for (size_t t = 0; t < T; ++t)
    for (int v = 0; v < V; ++v)
      worst = std::max(worst, (double)std::fabs(logits[t * V + v] - ref.logits[t][v]));
  EXPECT_LT(worst, 1e-4) << "max abs logit difference over " << T << " x " << V;
  RecordProperty("max_abs_logit_diff", std::to_string(worst));
}

// Prefill the prompt in one step, then decode one token per step through the KV cache.
TEST_P(Parity, GreedyTokensMatchTransformers) {
  Reference ref = readReference(fs::path(FIXTURES_DIR) / GetParam());
  auto plan = llmrt::LoadedPlan::load(compile(GetParam()));
  llmrt::Executor exec(*plan);
  llmrt::Sampler greedy(llmrt::SamplingParams{});
  std::vector<int32_t> tokens = ref.greedyPrompt;
  std::vector<int32_t> last{static_cast<int32_t>(tokens.size() - 1)};
  std::vector<float> logits = exec.forward(tokens, iota(tokens.size()), last);
  std::vector<int32_t> generated;
  while (generated.size() < ref.greedyTokens.size()) {
    int32_t next = greedy.sample(logits);
    generated.push_back(next);
    int32_t pos = static_cast<int32_t>(tokens.size());
    tokens.push_back(next);
    std::vector<int32_t> one{next}, p{pos}, r{0};
    logits = exec.forward(one, p, r);
  }
  EXPECT_EQ(generated, ref.greedyTokens);
}

// Prefill in uneven chunks must give the same logits as one step (the KV cache carries over).
TEST_P(Parity, ChunkedPrefillMatchesOneStep) {
  Reference ref = readReference(fs::path(FIXTURES_DIR) / GetParam());
  auto plan = llmrt::LoadedPlan::load(compile(GetParam()));
  llmrt::Executor exec(*plan);
  int V = exec.vocabSize();
  size_t T = ref.inputIds.size();
  size_t begin = 0;
  for (size_t chunk : {5u, 1u, 7u, 11u}) {
    size_t end = std::min(T, begin + chunk);
    std::vector<int32_t> ids(ref.inputIds.begin() + begin, ref.inputIds.begin() + end);
    std::vector<float> logits =
        exec.forward(ids, iota(end - begin, begin), iota(end - begin));
    for (size_t t = begin; t < end; ++t)
      for (int v = 0; v < V; ++v)
        ASSERT_NEAR(logits[(t - begin) * V + v], ref.logits[t][v], 1e-4)
            << "row " << t << " of a chunk [" << begin << ", " << end << ")";
    begin = end;
  }
  EXPECT_EQ(begin, T);
}

// The fused plan (the default) against the plan without fusion passes: logits within 1e-5 over a
// prefill and 16 decode steps, and the same greedy tokens.
TEST_P(Parity, FusedPlanMatchesUnfusedPlan) {
  Reference ref = readReference(fs::path(FIXTURES_DIR) / GetParam());
  auto fusedPlan = llmrt::LoadedPlan::load(compile(GetParam()));
  auto unfusedPlan = llmrt::LoadedPlan::load(compile(GetParam(), "--no-fusion"));
  ASSERT_LT(fusedPlan->plan().programs()->Get(0)->calls()->size(),
            unfusedPlan->plan().programs()->Get(0)->calls()->size());
  llmrt::Executor fused(*fusedPlan), unfused(*unfusedPlan);
  llmrt::Sampler greedy(llmrt::SamplingParams{});
  std::vector<int32_t> tokens = ref.inputIds;
  std::vector<int32_t> rows = iota(tokens.size());
  std::vector<float> a = fused.forward(tokens, iota(tokens.size()), rows);
  std::vector<float> b = unfused.forward(tokens, iota(tokens.size()), rows);
  double worst = 0;
  for (int step = 0; step < 16; ++step) {
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i)
      worst = std::max(worst, (double)std::fabs(a[i] - b[i]));
    int V = fused.vocabSize();
    std::span<const float> lastA(a.data() + a.size() - V, V), lastB(b.data() + b.size() - V, V);
    int32_t next = greedy.sample(lastA);
    ASSERT_EQ(next, greedy.sample(lastB)) << "step " << step;
    std::vector<int32_t> one{next}, pos{static_cast<int32_t>(tokens.size())}, row{0};
    tokens.push_back(next);
    a = fused.forward(one, pos, row);
    b = unfused.forward(one, pos, row);
  }
  EXPECT_LT(worst, 1e-5) << "max abs logit difference, fused vs unfused";
  RecordProperty("max_abs_fused_unfused_diff", std::to_string(worst));
}

INSTANTIATE_TEST_SUITE_P(TinyModels, Parity, ::testing::ValuesIn(fixtureNames()),
                         [](const auto &info) {
                           std::string n = info.param;
                           for (char &c : n)
                             if (!isalnum(static_cast<unsigned char>(c)))
                               c = '_';
                           return n;
                         });

} // namespace
