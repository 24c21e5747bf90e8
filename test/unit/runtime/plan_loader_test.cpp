// LoadedPlan::load accepts a valid plan and refuses every kind of broken plan or weight file with a
// message that names the problem.
#include "TestPlanWriter.h"
#include "engine/Executor.h"
#include "plan/PlanLoader.h"
#include "support/Error.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <functional>

// Under AddressSanitizer, a failed allocation returns null (as malloc does without it) instead of
// aborting: a corrupt plan may ask for an absurd arena, which the executor must refuse cleanly.
extern "C" const char *__asan_default_options() { return "allocator_may_return_null=1"; }

namespace llmrt::test {
namespace {
namespace fs = std::filesystem;

class PlanLoaderTest : public ::testing::Test {
protected:
  WrittenPlan write(const TPlan &plan) { return writePlan(plan, dir_.path()); }

  // Loads the plan and expects a refusal whose message contains every one of `words`.
  void expectRefused(const fs::path &plan, std::initializer_list<std::string> words) {
    try {
      LoadedPlan::load(plan.string());
      ADD_FAILURE() << "plan loaded, expected a refusal mentioning " << *words.begin();
    } catch (const llm::Error &e) {
      std::string msg = e.what();
      for (const std::string &w : words)
        EXPECT_NE(msg.find(w), std::string::npos) << "message: " << msg << "\nmissing: " << w;
    }
  }
  void expectRefused(const TPlan &plan, std::initializer_list<std::string> words) {
    expectRefused(write(plan).plan, words);
  }

  // Rewrites bytes of a file in place.
  static void patch(const fs::path &file, uint64_t offset, const std::string &bytes) {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(offset));
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }

  TempDir dir_;
};

TEST_F(PlanLoaderTest, ValidPlanLoads) {
  TPlan tp = tinyPlan();
  WrittenPlan w = write(tp);
  auto plan = LoadedPlan::load(w.plan.string());
  EXPECT_EQ(plan->plan().schema_major(), kPlanSchemaMajor);
  EXPECT_EQ(plan->plan().programs()->Get(0)->calls()->size(), 3u);
  EXPECT_EQ(plan->path(), w.plan.string());
  const float *embed = plan->weightF32(0);
  EXPECT_EQ(embed[5], tp.weights[0].data[5]);
  EXPECT_EQ(plan->weightF32(2)[0], tp.weights[2].data[0]);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(embed) % kWeightAlignment, 0u);
  EXPECT_THROW(plan->weightF32(3), llm::Error);
}

// A CPU plan's weights are read into huge pages by default (Auto); --mmap (Mapped) maps the files.
// Either way the weights hold the same bytes, aligned as the kernels expect.
TEST_F(PlanLoaderTest, WeightMemoryChoices) {
  TPlan tp = tinyPlan();
  WrittenPlan w = write(tp);
  const size_t bytes = tp.weights[0].data.size() * sizeof(float);
  auto copied = LoadedPlan::load(w.plan.string());
  auto mapped = LoadedPlan::load(w.plan.string(), {.weightMemory = WeightMemory::Mapped});
  auto forced = LoadedPlan::load(w.plan.string(), {.weightMemory = WeightMemory::HugePages});
  EXPECT_NE(copied->weightF32(0), mapped->weightF32(0));
  EXPECT_EQ(std::memcmp(copied->weightF32(0), mapped->weightF32(0), bytes), 0);
  EXPECT_EQ(std::memcmp(forced->weightF32(0), mapped->weightF32(0), bytes), 0);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(copied->weightF32(0)) % kWeightAlignment, 0u);
  EXPECT_NE(copied->describeWeightMemory().find("MiB read from 1 file into "), std::string::npos)
      << copied->describeWeightMemory();
  EXPECT_NE(mapped->describeWeightMemory().find("MiB mapped from 1 file"), std::string::npos)
      << mapped->describeWeightMemory();
}

TEST(WeightMemoryTest, AutoCopiesCpuWeightsThatFitInHalfTheAvailableMemory) {
  constexpr uint64_t kGiB = uint64_t{1} << 30;
  EXPECT_EQ(chooseWeightMemory(WeightMemory::Auto, true, kGiB, 4 * kGiB), WeightMemory::HugePages);
  EXPECT_EQ(chooseWeightMemory(WeightMemory::Auto, true, 2 * kGiB, 4 * kGiB),
            WeightMemory::HugePages);
  EXPECT_EQ(chooseWeightMemory(WeightMemory::Auto, true, 3 * kGiB, 4 * kGiB), WeightMemory::Mapped);
  EXPECT_EQ(chooseWeightMemory(WeightMemory::Auto, true, kGiB, std::nullopt), WeightMemory::Mapped);
  EXPECT_EQ(chooseWeightMemory(WeightMemory::Auto, false, kGiB, 4 * kGiB), WeightMemory::Mapped);
  // An explicit choice stands, even for weights larger than the memory.
  EXPECT_EQ(chooseWeightMemory(WeightMemory::HugePages, true, 8 * kGiB, 4 * kGiB),
            WeightMemory::HugePages);
  EXPECT_EQ(chooseWeightMemory(WeightMemory::Mapped, true, kGiB, 4 * kGiB), WeightMemory::Mapped);
}

TEST_F(PlanLoaderTest, DescribeListsWhatThePlanHolds) {
  auto plan = LoadedPlan::load(write(tinyPlan()).plan.string());
  std::string d = plan->describe();
  for (const char *word :
       {"tiny-test", "cpu-avx2", "tensor-parallel size 1", "schema: 1.", "embedding", "rms_norm",
        "logits", "bytes/token", "bytes/logit row", "3 tensors", "tokenizer files: none", "generation defaults"})
    EXPECT_NE(d.find(word), std::string::npos) << word << "\n" << d;
}

TEST_F(PlanLoaderTest, MissingPlanFile) {
  expectRefused(dir_.path() / "nope.fb", {"nope.fb", "cannot open"});
}

TEST_F(PlanLoaderTest, TruncatedPlan) {
  WrittenPlan w = write(tinyPlan());
  fs::resize_file(w.plan, fs::file_size(w.plan) / 2);
  expectRefused(w.plan, {"plan.fb", "verification failed"});
  fs::resize_file(w.plan, 5);
  expectRefused(w.plan, {"plan.fb", "too small"});
}

TEST_F(PlanLoaderTest, CorruptedBytes) {
  WrittenPlan w = write(tinyPlan());
  // The root table offset now points far outside the file.
  patch(w.plan, 0, std::string("\xff\xff\xff\x7f", 4));
  expectRefused(w.plan, {"plan.fb", "verification failed"});
}

TEST_F(PlanLoaderTest, WrongIdentifier) {
  WrittenPlan w = write(tinyPlan());
  patch(w.plan, 4, "XXXX");
  expectRefused(w.plan, {"plan.fb", "identifier", "XXXX", "LLMP"});
}

TEST_F(PlanLoaderTest, WrongMajorVersion) {
  TPlan p = tinyPlan();
  p.schemaMajor = kPlanSchemaMajor + 1;
  p.schemaMinor = 0;
  expectRefused(p, {"version 2.0", "supports", "1.x"});
}

TEST_F(PlanLoaderTest, MissingWeightFile) {
  WrittenPlan w = write(tinyPlan());
  fs::remove(w.weightFiles[0]);
  expectRefused(w.plan, {"weights-0.bin", "missing"});
}

TEST_F(PlanLoaderTest, TruncatedWeightFile) {
  WrittenPlan w = write(tinyPlan());
  fs::resize_file(w.weightFiles[0], fs::file_size(w.weightFiles[0]) - 4096);
  expectRefused(w.plan, {"weights-0.bin", "truncated"});
  fs::resize_file(w.weightFiles[0], 100);
  expectRefused(w.plan, {"weights-0.bin", "too small"});
}

TEST_F(PlanLoaderTest, WeightFileFromAnotherPlan) {
  TPlan p = tinyPlan();
  p.weightFilePlanId = p.planId + 1;
  expectRefused(p, {"weights-0.bin", "another plan"});
}

TEST_F(PlanLoaderTest, WeightFileBadMagic) {
  WrittenPlan w = write(tinyPlan());
  patch(w.weightFiles[0], 0, "NOTWEIGH");
  expectRefused(w.plan, {"weights-0.bin", "magic"});
}

TEST_F(PlanLoaderTest, ChecksumMismatch) {
  WrittenPlan w = write(tinyPlan());
  patch(w.weightFiles[0], w.weightOffsets[1] + 4, "\x01\x02\x03");
  expectRefused(w.plan, {"weights-0.bin", "checksum mismatch", "norm.weight"});
  // Without checksums the same plan loads.
  EXPECT_NO_THROW(LoadedPlan::load(w.plan.string(), LoadOptions{.verifyChecksums = false}));
}

TEST_F(PlanLoaderTest, WeightOutOfBounds) {
  TPlan p = tinyPlan();
  p.weights[2].offsetOverride = 1 << 20;
  expectRefused(p, {"lm_head.weight", "outside"});
}

TEST_F(PlanLoaderTest, WeightMisaligned) {
  TPlan p = tinyPlan();
  p.weights[1].offsetOverride = 4096 + 64;
  expectRefused(p, {"norm.weight", "aligned"});
}

TEST_F(PlanLoaderTest, WeightSizeDisagreesWithShape) {
  TPlan p = tinyPlan();
  p.weights[1].sizeOverride = 12;
  expectRefused(p, {"norm.weight", "size is 12 bytes", "expected 32"});
}

TEST_F(PlanLoaderTest, UnknownKernel) {
  TPlan p = tinyPlan();
  p.calls[1].kernel = "fancy_norm";
  expectRefused(p, {"call 1", "unknown kernel 'fancy_norm'", "rms_norm"});
}

TEST_F(PlanLoaderTest, MissingParam) {
  TPlan p = tinyPlan();
  p.calls[1].params.pop_back(); // eps
  expectRefused(p, {"call 1 'rms_norm'", "missing required parameter 'eps'", "float"});
}

TEST_F(PlanLoaderTest, ExtraParam) {
  TPlan p = tinyPlan();
  p.calls[1].params.push_back(intParam("bogus", 1));
  expectRefused(p, {"call 1 'rms_norm'", "unknown parameter 'bogus'", "hidden, eps"});
}

TEST_F(PlanLoaderTest, WrongParamKind) {
  TPlan p = tinyPlan();
  p.calls[1].params[1] = intParam("eps", 1);
  expectRefused(p, {"parameter 'eps'", "kind int", "expected float"});
}

TEST_F(PlanLoaderTest, WrongInputAndWeightCounts) {
  TPlan p = tinyPlan();
  p.calls[1].inputs.push_back(p.calls[1].inputs[0]);
  expectRefused(p, {"call 1", "2 inputs", "expected 1"});
  p = tinyPlan();
  p.calls[1].weights.clear();
  expectRefused(p, {"call 1", "0 weights", "expected 1"});
  p = tinyPlan();
  p.calls[1].weights = {7};
  expectRefused(p, {"call 1", "weight index 7", "out of range"});
}

TEST_F(PlanLoaderTest, BufferOutOfRange) {
  TPlan p = tinyPlan();
  p.calls[0].inputs[0].inputIndex = 5;
  expectRefused(p, {"call 0", "step input index 5", "3 inputs"});
  p = tinyPlan();
  p.calls[1].outputs[0].offsetPerToken = p.arenaBytesPerToken;
  expectRefused(p, {"call 1", "does not fit in the arena", "bytes/token"});
  // The logits live in the logit-row region, which has its own size.
  p = tinyPlan();
  p.arenaBytesPerLogitRow -= 64;
  expectRefused(p, {"call 2", "does not fit in the arena", "bytes/logit row"});
}

// Flipping any single byte of a plan (a smaller stand-in for the fuzz target) never crashes the
// loader or the executor (binding and a step): each corrupt plan either loads and runs, or is
// refused with an llm::Error. Under ASan/UBSan this also checks that nothing reads out of bounds.
TEST_F(PlanLoaderTest, AnySingleCorruptByteIsRefusedOrHarmless) {
  WrittenPlan w = write(tinyPlan());
  std::vector<char> original(fs::file_size(w.plan));
  std::ifstream(w.plan, std::ios::binary).read(original.data(), original.size());
  int refused = 0;
  for (size_t i = 0; i < original.size(); ++i) {
    std::vector<char> bytes = original;
    bytes[i] = static_cast<char>(bytes[i] ^ 0x5a);
    std::ofstream(w.plan, std::ios::binary | std::ios::trunc).write(bytes.data(), bytes.size());
    try {
      auto plan = LoadedPlan::load(w.plan.string());
      Executor ex(*plan, ExecutorOptions{.threads = 1, .maxSeqLen = 16});
      plan->describe();
      std::vector<int32_t> ids = {1, 2}, pos = {0, 1}, rows = {1};
      ex.forward(ids, pos, rows);
    } catch (const llm::Error &) {
      ++refused;
    }
  }
  EXPECT_GT(refused, static_cast<int>(original.size() / 4));
}

} // namespace
} // namespace llmrt::test
