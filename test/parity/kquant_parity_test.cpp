// A tiny llama GGUF whose weights are k-quants in a Q4_K_M-style mix (Q4_K, Q5_K, Q6_K written by
// llama.cpp's quantizer; test/fixtures/kquant-tiny from tools/fixtures/make_kquant_tiny_model.py)
// against transformers on the same dequantized weights:
//   --quant none: the blocks dequantized at compile time into a float32 plan: float32 agreement;
//   --quant keep: the blocks kept and multiplied natively (int8 activations against the
//     super-blocks): within the tolerance of the other quantized plans (quantized_parity_test:
//     5% of the largest |logit|), and batch invariant.
// The q/k/v of layer 1 mix Q4_K and Q6_K, which one kernel call cannot read: they stay three
// linears, each native (llm-fuse-qkv stacks only weights of one format).
// The q5 fixture (test/fixtures/q5-tiny, same script, --variant q5) is what llama.cpp's Q4_K_M
// makes of a model whose hidden size is not a multiple of 256: Q5_0 / Q5_1 matrices, Q8_0
// embeddings, k-quant ffn_down, and a layer whose q/k/v and gate/up mix formats. Kept, every
// matrix is read natively (no float32 matrix in the plan).
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

std::unique_ptr<llmrt::LoadedPlan> compile(const std::string &quant,
                                           const std::string &dir = FIXTURE_DIR) {
  fs::path out =
      llmtest::processScratchDir("llm-kquant") / (fs::path(dir).filename().string() + "-" + quant);
  std::string plan = (out / "plan.fb").string();
  std::string failed =
      llmtest::compilePlan(LLMC_PATH, dir + "/model.gguf", plan, "--quant " + quant);
  EXPECT_EQ(failed, "");
  return llmrt::LoadedPlan::load(plan);
}

TEST(KQuantParity, DequantizedFloatPlanMatchesTransformers) {
  LogitReference ref = readLogitReference(FIXTURE_DIR);
  auto plan = compile("none");
  for (const auto *w : *plan->plan().weights())
    EXPECT_EQ(w->dtype(), llmrt::fb::DType::F32);
  llmrt::Executor exec(*plan);
  size_t T = ref.ids.size(), V = exec.vocabSize();
  auto [worst, scale] = compareLogits(exec.forward(ref.ids, iota(T), iota(T)), ref.logits, V);
  std::cout << "--quant none: max abs logit difference " << worst << " (scale " << scale << ")\n";
  EXPECT_LT(worst, 1e-4 * scale + 1e-5);
}

TEST(KQuantParity, KeptSuperBlocksCloseToTransformersAndBatchInvariant) {
  LogitReference ref = readLogitReference(FIXTURE_DIR);
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
  auto [worst, scale] = compareLogits(logits, ref.logits, V);
  std::cout << "--quant keep: max abs logit difference " << worst << " (relative "
            << worst / scale << ")\n";
  EXPECT_LT(worst, 0.05 * scale);
  expectChunkedPrefillBitwise(exec, ref.ids, logits, V, {1, 4, 1, 100});
}

TEST(Q5Parity, DequantizedFloatPlanMatchesTransformers) {
  LogitReference ref = readLogitReference(Q5_FIXTURE_DIR);
  auto plan = compile("none", Q5_FIXTURE_DIR);
  for (const auto *w : *plan->plan().weights())
    EXPECT_EQ(w->dtype(), llmrt::fb::DType::F32);
  llmrt::Executor exec(*plan);
  size_t T = ref.ids.size(), V = exec.vocabSize();
  auto [worst, scale] = compareLogits(exec.forward(ref.ids, iota(T), iota(T)), ref.logits, V);
  std::cout << "q5 --quant none: max abs logit difference " << worst << " (scale " << scale
            << ")\n";
  EXPECT_LT(worst, 1e-4 * scale + 1e-5);
}

// Every matrix kept in its GGUF format: the stacks of one format fused ([q; k; v] Q5_0 and
// [gate; up] Q5_1 in layer 0), the mixed ones of layer 1 as separate native linears.
TEST(Q5Parity, KeptBlocksAllNativeCloseToTransformersAndBatchInvariant) {
  LogitReference ref = readLogitReference(Q5_FIXTURE_DIR);
  auto plan = compile("keep", Q5_FIXTURE_DIR);
  std::map<llmrt::fb::DType, int> dtypes;
  for (const auto *w : *plan->plan().weights()) {
    ++dtypes[w->dtype()];
    if (w->dtype() == llmrt::fb::DType::F32)
      EXPECT_EQ(w->shape()->size(), 1u) << w->name()->str() << " is a float32 matrix";
  }
  // Plan weights (a stack is one): Q5_0 layer-0 [q; k; v], o, layer-1 q, k, gate; Q5_1 layer-0
  // [gate; up], layer-1 o, up; Q8_0 the embedding and layer-1 v; Q4_K / Q6_K the ffn_down.
  EXPECT_EQ(dtypes[llmrt::fb::DType::Q5_0], 5);
  EXPECT_EQ(dtypes[llmrt::fb::DType::Q5_1], 3);
  EXPECT_EQ(dtypes[llmrt::fb::DType::Q8_0], 2);
  EXPECT_EQ(dtypes[llmrt::fb::DType::Q4_K], 1);
  EXPECT_EQ(dtypes[llmrt::fb::DType::Q6_K], 1);
  llmrt::Executor exec(*plan);
  size_t T = ref.ids.size(), V = exec.vocabSize();
  std::vector<float> logits = exec.forward(ref.ids, iota(T), iota(T));
  auto [worst, scale] = compareLogits(logits, ref.logits, V);
  std::cout << "q5 --quant keep: max abs logit difference " << worst << " (relative "
            << worst / scale << ")\n";
  EXPECT_LT(worst, 0.05 * scale);
  expectChunkedPrefillBitwise(exec, ref.ids, logits, V, {1, 4, 1, 100});
}

} // namespace
