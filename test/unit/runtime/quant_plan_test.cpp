// Plans with quantized weights: the loader refuses quantized tensors whose shape, size or layout
// is wrong (also truncated Q4_K, W4G128A and WFP8 tensors, and tiles where a format or row count
// has none), and the executor runs a plan whose embedding table (q8_0) and lm_head (q4_1) are
// quantized, close to the float plan of the same (dequantized) weights.
#include "TestPlanWriter.h"
#include "engine/Executor.h"
#include "plan/PlanLoader.h"
#include "plan/QuantFormat.h"
#include "support/Error.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

namespace llmrt::test {
namespace {

using llm::quant::Scheme;

class QuantPlanTest : public ::testing::Test {
protected:
  // tinyPlan with its embedding table stored as q8_0 and its lm_head as q4_1; `floats` gets the
  // same plan with the dequantized weights in f32.
  TPlan quantized(TPlan *floats = nullptr) {
    TPlan p = tinyPlan(64, 64);
    quantize(p, 0, Scheme::Q8_0, fb::DType::Q8_0);
    quantize(p, 2, Scheme::Q4_1, fb::DType::Q4_1);
    if (floats) {
      *floats = tinyPlan(64, 64);
      for (int w : {0, 2}) {
        const TWeight &q = p.weights[w];
        Scheme s = w == 0 ? Scheme::Q8_0 : Scheme::Q4_1;
        llm::quant::dequantize(s, q.blocks.data(), q.shape[0] * q.shape[1],
                               floats->weights[w].data.data());
      }
    }
    p.calls[0].params.push_back(stringParam("weight_format", "q8_0"));
    p.calls[2].params.push_back(stringParam("weight_format", "q4_1"));
    return p;
  }

  static void quantize(TPlan &p, int index, Scheme s, fb::DType dtype) {
    TWeight &w = p.weights[index];
    w.blocks.resize(llm::quant::tensorBytes(s, w.shape[0], w.shape[1]));
    llm::quant::quantize(s, w.data.data(), w.data.size(), w.blocks.data());
    w.dtype = dtype;
    w.layout = "row_blocks";
  }

  void expectRefused(const TPlan &plan, std::initializer_list<std::string> words) {
    WrittenPlan w = writePlan(plan, dir_.path());
    try {
      LoadedPlan::load(w.plan.string());
      ADD_FAILURE() << "plan loaded, expected a refusal mentioning " << *words.begin();
    } catch (const llm::Error &e) {
      std::string msg = e.what();
      for (const std::string &word : words)
        EXPECT_NE(msg.find(word), std::string::npos) << "message: " << msg << "\nmissing: " << word;
    }
  }

  TempDir dir_;
};

TEST_F(QuantPlanTest, QuantizedPlanLoadsAndRunsCloseToTheFloatPlan) {
  TPlan floats;
  TPlan q = quantized(&floats);
  TempDir other;
  auto qp = LoadedPlan::load(writePlan(q, dir_.path()).plan.string());
  auto fp = LoadedPlan::load(writePlan(floats, other.path()).plan.string());
  EXPECT_EQ(qp->plan().weights()->Get(2)->dtype(), fb::DType::Q4_1);
  EXPECT_THROW(qp->weightF32(0), llm::Error);
  Executor qe(*qp), fe(*fp);
  std::vector<int32_t> ids{3, 17, 42, 63, 0}, pos{0, 1, 2, 3, 4}, rows{0, 2, 4};
  std::vector<float> a = qe.forward(ids, pos, rows), b = fe.forward(ids, pos, rows);
  ASSERT_EQ(a.size(), b.size());
  // The embedding rows are the same floats (dequantized); the logits differ only by the int8
  // quantization of the normed activations (relative error ~ 1/254 per element).
  double worst = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    worst = std::max(worst, double(std::fabs(a[i] - b[i])));
    scale = std::max(scale, double(std::fabs(b[i])));
  }
  EXPECT_LT(worst, 0.02 * scale);
  EXPECT_GT(worst, 0.0); // the quantized path really ran
}

TEST_F(QuantPlanTest, SizeThatDisagreesWithTheBlocksIsRefused) {
  TPlan p = quantized();
  p.weights[2].sizeOverride = 64 * 64 * 4;
  expectRefused(p, {"lm_head.weight", "size is 16384 bytes", "expected 2560", "Q4_1"});
}

TEST_F(QuantPlanTest, RowsOfPartialBlocksAreRefused) {
  TPlan p = quantized();
  p.weights[0].shape = {96, 48}; // 4608 elements in rows of 48: not whole blocks
  expectRefused(p, {"embed_tokens.weight", "[96, 48]", "multiple of 32"});
}

// A k-quant lm_head (256-element super-blocks): a truncated tensor and rows that are not whole
// super-blocks are refused.
TEST_F(QuantPlanTest, TruncatedOrPartialQ4KIsRefused) {
  TPlan p = tinyPlan(64, 256);
  TWeight &w = p.weights[2];
  w.blocks.assign(llm::quant::tensorBytes(Scheme::Q4_K, 64, 256), 0); // d = dmin = 0: all zeros
  ASSERT_EQ(w.blocks.size(), 64u * 144);
  w.dtype = fb::DType::Q4_K;
  w.layout = "row_blocks";
  p.calls[2].params.push_back(stringParam("weight_format", "q4_k"));
  EXPECT_NO_THROW(LoadedPlan::load(writePlan(p, dir_.path()).plan.string()));
  TPlan truncated = p;
  truncated.weights[2].blocks.resize(64 * 144 - 144);
  expectRefused(truncated, {"lm_head.weight", "size is 9072 bytes", "expected 9216", "Q4_K"});
  TPlan partial = p;
  partial.weights[2].shape = {32, 512 + 64}; // rows of 576: not whole super-blocks
  expectRefused(partial, {"lm_head.weight", "[32, 576]", "multiple of 256", "Q4_K"});
}

// An int4 group-wise lm_head (w4g128a) and an fp8 embedding table: the plan loads and runs close
// to the float plan of the dequantized weights; a truncated tensor and rows that are not whole
// groups are refused with the weight's name.
TEST_F(QuantPlanTest, W4AndFp8WeightsLoadRunAndAreChecked) {
  TPlan p = tinyPlan(64, 128), floats = tinyPlan(64, 128);
  const std::pair<int, Scheme> stored[] = {{0, Scheme::FP8}, {2, Scheme::W4G128A}};
  for (auto [index, s] : stored) {
    TWeight &w = p.weights[index];
    w.blocks.resize(llm::quant::tensorBytes(s, w.shape[0], w.shape[1]));
    llm::quant::quantizeRows(s, w.data.data(), w.shape[0], w.shape[1], w.blocks.data());
    llm::quant::dequantizeRows(s, w.blocks.data(), w.shape[0], w.shape[1],
                               floats.weights[index].data.data());
    w.dtype = s == Scheme::FP8 ? fb::DType::WFP8 : fb::DType::W4G128A;
    w.layout = "row_blocks";
  }
  p.calls[0].params.push_back(stringParam("weight_format", "fp8"));
  p.calls[2].params.push_back(stringParam("weight_format", "w4g128a"));
  TempDir other;
  auto qp = LoadedPlan::load(writePlan(p, dir_.path()).plan.string());
  auto fp = LoadedPlan::load(writePlan(floats, other.path()).plan.string());
  Executor qe(*qp), fe(*fp);
  std::vector<int32_t> ids{3, 17, 42, 63, 0}, pos{0, 1, 2, 3, 4}, rows{0, 2, 4};
  std::vector<float> a = qe.forward(ids, pos, rows), b = fe.forward(ids, pos, rows);
  ASSERT_EQ(a.size(), b.size());
  double worst = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    worst = std::max(worst, double(std::fabs(a[i] - b[i])));
    scale = std::max(scale, double(std::fabs(b[i])));
  }
  EXPECT_LT(worst, 0.02 * scale); // int8 activations of the w4 lm_head only
  TPlan truncated = p;
  truncated.weights[2].blocks.resize(64 * 68 - 68);
  expectRefused(truncated, {"lm_head.weight", "size is 4284 bytes", "expected 4352", "W4G128A"});
  TPlan partial = p;
  partial.weights[2].shape = {128, 64}; // rows of 64: not whole 128-element groups
  expectRefused(partial, {"lm_head.weight", "[128, 64]", "multiple of 128", "W4G128A"});
  TPlan fp8Truncated = p;
  fp8Truncated.weights[0].blocks.resize(64 * (4 + 128) - 1);
  expectRefused(fp8Truncated, {"embed_tokens.weight", "expected 8448", "WFP8"});
}

TEST_F(QuantPlanTest, QuantizedVectorIsRefused) {
  TPlan p = quantized();
  p.weights[0].shape = {64 * 64};
  expectRefused(p, {"embed_tokens.weight", "[rows, cols]"});
}

TEST_F(QuantPlanTest, WrongLayoutIsRefused) {
  TPlan p = quantized();
  p.weights[0].layout = "row_major";
  expectRefused(p, {"embed_tokens.weight", "layout 'row_major'", "row_blocks"});
}

// The same plan with both quantized weights repacked into tiles (rows8_blocks, as llmc writes
// them for CPU targets) gives the row_blocks plan's logits bit for bit; a tile layout on a format
// without tiles, on rows that are not whole tiles, or read by a call that expects row_blocks is
// refused.
TEST_F(QuantPlanTest, TiledWeightsRunBitForBitAndAreChecked) {
  TPlan rowBlocks = quantized(), tiles = quantized();
  const std::pair<int, Scheme> stored[] = {{0, Scheme::Q8_0}, {2, Scheme::Q4_1}};
  for (auto [index, s] : stored) {
    TWeight &w = tiles.weights[index];
    std::vector<uint8_t> packed(w.blocks.size());
    llm::quant::toRows8(s, w.blocks.data(), w.shape[0], w.shape[1], packed.data());
    w.blocks = packed;
    w.layout = "rows8_blocks";
  }
  TPlan unmarked = tiles; // the calls do not say they read tiles
  for (int c : {0, 2})
    tiles.calls[c].params.push_back(stringParam("weight_layout", "rows8_blocks"));
  TempDir other;
  auto rp = LoadedPlan::load(writePlan(rowBlocks, dir_.path()).plan.string());
  auto tp = LoadedPlan::load(writePlan(tiles, other.path()).plan.string());
  Executor re(*rp), te(*tp);
  std::vector<int32_t> ids{3, 17, 42, 63, 0}, pos{0, 1, 2, 3, 4}, rows{0, 2, 4};
  EXPECT_EQ(re.forward(ids, pos, rows), te.forward(ids, pos, rows));

  TempDir third;
  auto up = LoadedPlan::load(writePlan(unmarked, third.path()).plan.string());
  try {
    Executor e(*up);
    ADD_FAILURE() << "bound a row_blocks call to tiles";
  } catch (const llm::Error &e) {
    EXPECT_NE(std::string(e.what()).find("stored rows8_blocks, but the call reads it as row_blocks"),
              std::string::npos)
        << e.what();
  }
  TPlan k = tinyPlan(64, 256);
  k.weights[2].blocks.assign(llm::quant::tensorBytes(Scheme::W8, 64, 256), 0);
  k.weights[2].dtype = fb::DType::W8;
  k.weights[2].layout = "rows8_blocks";
  expectRefused(k, {"lm_head.weight", "layout 'rows8_blocks' of W8",
                    "only Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K, W4G32 .. W4G128A have"});
  TPlan odd = tinyPlan(60, 64); // an lm_head of 60 rows
  quantize(odd, 2, Scheme::Q4_1, fb::DType::Q4_1);
  odd.weights[2].layout = "rows8_blocks";
  expectRefused(odd, {"lm_head.weight", "60 rows", "multiple of 8"});
}

TEST_F(QuantPlanTest, CorruptBlocksFailTheChecksum) {
  TPlan p = quantized();
  WrittenPlan w = writePlan(p, dir_.path());
  {
    std::fstream f(w.weightFiles[0], std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(w.weightOffsets[2] + 7));
    f.put('\x5a');
  }
  EXPECT_THROW(LoadedPlan::load(w.plan.string()), llm::Error);
}

TEST_F(QuantPlanTest, ExecutorRefusesAWeightOfAnotherFormat) {
  TPlan p = quantized();
  p.calls[2].params.back() = stringParam("weight_format", "q8_0"); // the weight is Q4_1
  auto plan = LoadedPlan::load(writePlan(p, dir_.path()).plan.string());
  try {
    Executor e(*plan);
    ADD_FAILURE() << "bound a q8_0 kernel to a Q4_1 weight";
  } catch (const llm::Error &e) {
    EXPECT_NE(std::string(e.what()).find("expected [64, 64] of Q8_0"), std::string::npos)
        << e.what();
  }
}

} // namespace
} // namespace llmrt::test
