// GPTQ (v1 packing) and AWQ (GEMM packing) checkpoints of a tiny llama (test/fixtures/gptq-tiny,
// awq-tiny from tools/fixtures/make_gptq_awq_models.py: every decoder linear 4-bit, groups of 32,
// asymmetric) against transformers on the same dequantized weights scale * (q - zero):
//   --quant keep (default): the packed integers repacked into w4g32a rows, no float round trip;
//     every decoder linear (also the fused [q; k; v] and [gate; up] stacks) is W4G32A in the
//     plan, the rest f32 as the checkpoint has it; within the tolerance of the other w4 plans
//     (quantized_parity_test: 5% of the largest |logit|; int8 activations) and batch invariant;
//   --quant none: the same integers dequantized at compile time: float32 agreement.
#include "common/CompilePlan.h"
#include "common/LogitParity.h"
#include "engine/Executor.h"
#include "plan/PlanLoader.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>

namespace fs = std::filesystem;

namespace {

using namespace llmtest;

std::string fixture(const std::string &method) {
  return std::string(FIXTURES_DIR) + "/" + method + "-tiny";
}

std::unique_ptr<llmrt::LoadedPlan> compile(const std::string &method, const std::string &quant) {
  fs::path out = llmtest::processScratchDir("llm-gptq-awq") / (method + "-" + quant);
  std::string plan = (out / "plan.fb").string();
  std::string failed = llmtest::compilePlan(LLMC_PATH, fixture(method), plan, "--quant " + quant);
  EXPECT_EQ(failed, "");
  return llmrt::LoadedPlan::load(plan);
}

class GptqAwqParity : public ::testing::TestWithParam<std::string> {};

TEST_P(GptqAwqParity, DequantizedFloatPlanMatchesTransformers) {
  LogitReference ref = readLogitReference(fixture(GetParam()));
  auto plan = compile(GetParam(), "none");
  for (const auto *w : *plan->plan().weights())
    EXPECT_EQ(w->dtype(), llmrt::fb::DType::F32);
  llmrt::Executor exec(*plan);
  size_t T = ref.ids.size(), V = exec.vocabSize();
  auto [worst, scale] = compareLogits(exec.forward(ref.ids, iota(T), iota(T)), ref.logits, V);
  std::cout << GetParam() << " --quant none: max abs logit difference " << worst << " (scale "
            << scale << ")\n";
  EXPECT_LT(worst, 1e-5);
}

TEST_P(GptqAwqParity, KeptW4G32ACloseToTransformersAndBatchInvariant) {
  LogitReference ref = readLogitReference(fixture(GetParam()));
  auto plan = compile(GetParam(), "keep");
  std::map<std::string, llmrt::fb::DType> dtypes;
  for (const auto *w : *plan->plan().weights())
    dtypes[w->name()->str()] = w->dtype();
  int kept = 0;
  for (const auto &[name, dtype] : dtypes) {
    bool linear = name.find("proj") != std::string::npos;
    EXPECT_EQ(dtype, linear ? llmrt::fb::DType::W4G32A : llmrt::fb::DType::F32) << name;
    kept += linear;
  }
  EXPECT_EQ(kept, 8); // per layer: [q; k; v], o, [gate; up], down
  llmrt::Executor exec(*plan);
  size_t T = ref.ids.size(), V = exec.vocabSize();
  std::vector<float> logits = exec.forward(ref.ids, iota(T), iota(T));
  auto [worst, scale] = compareLogits(logits, ref.logits, V);
  std::cout << GetParam() << " --quant keep: max abs logit difference " << worst << " (relative "
            << worst / scale << ")\n";
  EXPECT_LT(worst, 0.05 * scale);
  expectChunkedPrefillBitwise(exec, ref.ids, logits, V, {1, 4, 1, 100});
}

INSTANTIATE_TEST_SUITE_P(Checkpoints, GptqAwqParity, ::testing::Values("gptq", "awq"));

} // namespace
