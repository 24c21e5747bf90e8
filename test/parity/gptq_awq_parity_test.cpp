// GPTQ (v1 packing) and AWQ (GEMM packing) checkpoints of a tiny llama (test/fixtures/gptq-tiny,
// awq-tiny from tools/fixtures/make_gptq_awq_models.py: every decoder linear 4-bit, groups of 32,
// asymmetric) against transformers on the same dequantized weights scale * (q - zero):
//   --quant keep (default): the packed integers repacked into w4g32a rows, no float round trip;
//     every decoder linear (also the fused [q; k; v] and [gate; up] stacks) is W4G32A in the
//     plan, the rest f32 as the checkpoint has it; within the tolerance of the other w4 plans
//     (quantized_parity_test: 5% of the largest |logit|; int8 activations) and batch invariant;
//   --quant none: the same integers dequantized at compile time: float32 agreement.
#include "common/CompilePlan.h"
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

std::vector<int32_t> iota(size_t n, int32_t start = 0) {
  std::vector<int32_t> v(n);
  std::iota(v.begin(), v.end(), start);
  return v;
}

struct Reference {
  std::vector<int32_t> ids;
  std::vector<std::vector<float>> logits;
};

std::string fixture(const std::string &method) {
  return std::string(FIXTURES_DIR) + "/" + method + "-tiny";
}

Reference reference(const std::string &method) {
  std::ifstream in(fs::path(fixture(method)) / "reference.json");
  nlohmann::json j = nlohmann::json::parse(in);
  return {j.at("input_ids").get<std::vector<int32_t>>(),
          j.at("logits").get<std::vector<std::vector<float>>>()};
}

std::unique_ptr<llmrt::LoadedPlan> compile(const std::string &method, const std::string &quant) {
  fs::path out = llmtest::processScratchDir("llm-gptq-awq") / (method + "-" + quant);
  std::string plan = (out / "plan.fb").string();
  std::string failed = llmtest::compilePlan(LLMC_PATH, fixture(method), plan, "--quant " + quant);
  EXPECT_EQ(failed, "");
  return llmrt::LoadedPlan::load(plan);
}

std::pair<double, double> compare(const std::vector<float> &got, const Reference &ref, size_t V) {
  double worst = 0, scale = 0;
  for (size_t t = 0; t < ref.ids.size(); ++t)
    for (size_t v = 0; v < V; ++v) {
      worst = std::max(worst, double(std::fabs(got[t * V + v] - ref.logits[t][v])));
      scale = std::max(scale, double(std::fabs(ref.logits[t][v])));
    }
  return {worst, scale};
}

class GptqAwqParity : public ::testing::TestWithParam<std::string> {};

TEST_P(GptqAwqParity, DequantizedFloatPlanMatchesTransformers) {
  Reference ref = reference(GetParam());
  auto plan = compile(GetParam(), "none");
  for (const auto *w : *plan->plan().weights())
    EXPECT_EQ(w->dtype(), llmrt::fb::DType::F32);
  llmrt::Executor exec(*plan);
  size_t T = ref.ids.size(), V = exec.vocabSize();
  auto [worst, scale] = compare(exec.forward(ref.ids, iota(T), iota(T)), ref, V);
  std::cout << GetParam() << " --quant none: max abs logit difference " << worst << " (scale "
            << scale << ")\n";
  EXPECT_LT(worst, 1e-5);
}

TEST_P(GptqAwqParity, KeptW4G32ACloseToTransformersAndBatchInvariant) {
  Reference ref = reference(GetParam());
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
  auto [worst, scale] = compare(logits, ref, V);
  std::cout << GetParam() << " --quant keep: max abs logit difference " << worst << " (relative "
            << worst / scale << ")\n";
  EXPECT_LT(worst, 0.05 * scale);

  exec.reset();
  size_t begin = 0;
  for (size_t chunk : {1u, 4u, 1u, 100u}) {
    size_t end = std::min(T, begin + chunk);
    if (begin == end)
      break;
    std::vector<int32_t> part(ref.ids.begin() + begin, ref.ids.begin() + end);
    std::vector<float> got = exec.forward(part, iota(end - begin, begin), iota(end - begin));
    ASSERT_EQ(0, std::memcmp(got.data(), logits.data() + begin * V, got.size() * sizeof(float)))
        << "rows [" << begin << ", " << end << ") differ from the one-step prefill";
    begin = end;
  }
}

INSTANTIATE_TEST_SUITE_P(Checkpoints, GptqAwqParity, ::testing::Values("gptq", "awq"));

} // namespace
