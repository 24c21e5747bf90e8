// A tiny llama GGUF whose weights are k-quants in a Q4_K_M-style mix (Q4_K, Q5_K, Q6_K written by
// llama.cpp's quantizer; test/fixtures/kquant-tiny from tools/fixtures/make_kquant_tiny_model.py)
// against transformers on the same dequantized weights:
//   --quant none: the blocks dequantized at compile time into a float32 plan: float32 agreement;
//   --quant keep: the blocks kept and multiplied natively (int8 activations against the
//     super-blocks): within the tolerance of the other quantized plans (quantized_parity_test:
//     5% of the largest |logit|), and batch invariant.
// The stacked q/k/v of layer 1 mixes Q4_K and Q6_K, which one kernel call cannot read: it is
// dequantized to f32 (the rest of the layer stays k-quant).
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

Reference reference() {
  std::ifstream in(fs::path(FIXTURE_DIR) / "reference.json");
  nlohmann::json j = nlohmann::json::parse(in);
  return {j.at("input_ids").get<std::vector<int32_t>>(),
          j.at("logits").get<std::vector<std::vector<float>>>()};
}

std::unique_ptr<llmrt::LoadedPlan> compile(const std::string &quant) {
  fs::path out = fs::temp_directory_path() / ("llm-kquant-" + std::to_string(::getpid())) / quant;
  std::string plan = (out / "plan.fb").string();
  std::string failed = llmtest::compilePlan(LLMC_PATH, std::string(FIXTURE_DIR) + "/model.gguf",
                                            plan, "--quant " + quant);
  EXPECT_EQ(failed, "");
  return llmrt::LoadedPlan::load(plan);
}

// Largest |difference| and largest |reference logit|.
std::pair<double, double> compare(const std::vector<float> &got, const Reference &ref, size_t V) {
  double worst = 0, scale = 0;
  for (size_t t = 0; t < ref.ids.size(); ++t)
    for (size_t v = 0; v < V; ++v) {
      worst = std::max(worst, double(std::fabs(got[t * V + v] - ref.logits[t][v])));
      scale = std::max(scale, double(std::fabs(ref.logits[t][v])));
    }
  return {worst, scale};
}

TEST(KQuantParity, DequantizedFloatPlanMatchesTransformers) {
  Reference ref = reference();
  auto plan = compile("none");
  for (const auto *w : *plan->plan().weights())
    EXPECT_EQ(w->dtype(), llmrt::fb::DType::F32);
  llmrt::Executor exec(*plan);
  size_t T = ref.ids.size(), V = exec.vocabSize();
  auto [worst, scale] = compare(exec.forward(ref.ids, iota(T), iota(T)), ref, V);
  std::cout << "--quant none: max abs logit difference " << worst << " (scale " << scale << ")\n";
  EXPECT_LT(worst, 1e-4 * scale + 1e-5);
}

TEST(KQuantParity, KeptSuperBlocksCloseToTransformersAndBatchInvariant) {
  Reference ref = reference();
  auto plan = compile("keep");
  std::map<llmrt::fb::DType, int> dtypes;
  for (const auto *w : *plan->plan().weights())
    ++dtypes[w->dtype()];
  EXPECT_GT(dtypes[llmrt::fb::DType::Q4_K], 0);
  EXPECT_GT(dtypes[llmrt::fb::DType::Q5_K], 0);
  EXPECT_GT(dtypes[llmrt::fb::DType::Q6_K], 0); // the tied embedding / logits, ffn_down
  llmrt::Executor exec(*plan);
  size_t T = ref.ids.size(), V = exec.vocabSize();
  std::vector<float> logits = exec.forward(ref.ids, iota(T), iota(T));
  auto [worst, scale] = compare(logits, ref, V);
  std::cout << "--quant keep: max abs logit difference " << worst << " (relative "
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

} // namespace
