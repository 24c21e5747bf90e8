// llmc tune: the space enumeration honours the constraints, a candidate with wrong output never
// wins, and a sweep stopped after K entries then resumed writes the same database as one that
// ran through (deterministic timings through the fake-clock hook: real timings are noisy).
#include "support/Error.h"
#include "tune/Tuner.h"
#include "tuning/TuningDB.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <set>

using namespace llmc::tune;
namespace reg = llm::registry;
namespace fs = std::filesystem;

namespace {

const reg::TargetInfo &target(const char *name) { return *reg::findTarget(name); }

int64_t smallestCovering(std::span<const int64_t> choices, int64_t need) {
  int64_t best = 0;
  for (int64_t c : choices)
    if (c >= need && (best == 0 || c < best))
      best = c;
  return best ? best : *std::max_element(choices.begin(), choices.end());
}

TEST(TuneSpace, CpuGemmPrunesEquivalentBlocks) {
  const reg::KernelSpec &linear = *reg::findKernel("linear");
  const reg::TargetInfo &cpu = target("cpu");
  auto cols = reg::findTunable(linear, cpu.family, "block_cols")->choices;
  auto rows = reg::findTunable(linear, cpu.family, "block_rows")->choices;
  for (int64_t n : {8, 24, 1536})
    for (int64_t r : {1, 5, 8, 64, 512}) {
      Params shape{{"in_features", 64}, {"out_features", n}, {"has_bias", 0}};
      std::vector<Params> space = enumerateSpace(linear, cpu, shape, r);
      ASSERT_FALSE(space.empty());
      EXPECT_EQ(space.front(), defaultTunables(linear, cpu)) << "defaults come first";
      std::set<Params> seen(space.begin(), space.end());
      EXPECT_EQ(seen.size(), space.size()) << "no candidate twice";
      for (size_t i = 1; i < space.size(); ++i) {
        const Params &c = space[i];
        EXPECT_LE(c.at("block_cols"), smallestCovering(cols, (n + 3) / 4 * 4)) << n << " " << r;
        EXPECT_LE(c.at("block_rows"), smallestCovering(rows, r)) << n << " " << r;
        EXPECT_NE(std::find(cols.begin(), cols.end(), c.at("block_cols")), cols.end());
        EXPECT_NE(std::find(rows.begin(), rows.end(), c.at("block_rows")), rows.end());
      }
    }
  // Decode of a wide GEMM: every row block >= 3 is the same, so only block_cols varies.
  Params wide{{"in_features", 576}, {"out_features", 1536}, {"has_bias", 0}};
  EXPECT_EQ(enumerateSpace(linear, cpu, wide, 1).size(), 1u + cols.size());
  EXPECT_EQ(enumerateSpace(linear, cpu, wide, 512).size(), cols.size() * rows.size());
}

TEST(TuneSpace, CudaGemmRespectsSharedMemoryAndWarps) {
  const reg::KernelSpec &linear = *reg::findKernel("linear");
  for (const char *name : {"cuda-sm80", "cuda-sm90"}) {
    const reg::TargetInfo &t = target(name);
    int64_t smem = std::string(name) == "cuda-sm90" ? 227 * 1024 : 163 * 1024;
    Params shape{{"in_features", 4096}, {"out_features", 4096}, {"has_bias", 0}};
    for (int64_t r : {1, 64, 4096}) {
      std::vector<Params> space = enumerateSpace(linear, t, shape, r);
      EXPECT_LT(space.size(), fullSpaceSize(linear, t));
      for (size_t i = 1; i < space.size(); ++i) {
        const Params &c = space[i];
        EXPECT_LE((c.at("block_m") + c.at("block_n")) * c.at("block_k") * c.at("num_stages") * 2,
                  smem);
        EXPECT_GE(c.at("block_m") * c.at("block_n"), 128 * c.at("num_warps"));
        EXPECT_LE(c.at("block_m"), std::max<int64_t>(16, r));
      }
    }
  }
}

TEST(TuneSpace, BucketsFromPoints) {
  std::vector<Bucket> b = bucketsFromPoints({512, 1, 64, 8, 8});
  ASSERT_EQ(b.size(), 4u);
  EXPECT_EQ(b[0].min, 1);
  EXPECT_EQ(b[0].max, 1);
  EXPECT_EQ(b[1].min, 2);
  EXPECT_EQ(b[1].max, 8);
  EXPECT_EQ(b[2].min, 9);
  EXPECT_EQ(b[2].max, 64);
  EXPECT_EQ(b[3].min, 65);
  EXPECT_EQ(b[3].max, 0);
  EXPECT_EQ(b[3].measureRows, 512);
  EXPECT_THROW(bucketsFromPoints({}), llm::Error);
  EXPECT_THROW(bucketsFromPoints({0, 4}), llm::Error);
}

// Two linear shapes (one of them twice) and a logits call of a tiny model.
std::vector<CallSite> tinyCalls() {
  std::vector<CallSite> calls;
  auto linear = [&](int64_t k, int64_t n) {
    CallSite c{"linear", {}, {{"in_features", k}, {"out_features", n}, {"has_bias", 0}}};
    for (auto &[name, v] : c.ints)
      c.params.setInt(name, v);
    calls.push_back(c);
  };
  linear(32, 24);
  linear(24, 32);
  linear(32, 24);
  CallSite logits{"logits", {}, {{"hidden", 32}, {"vocab", 40}}};
  for (auto &[name, v] : logits.ints)
    logits.params.setInt(name, v);
  calls.push_back(logits);
  calls.push_back(CallSite{"add", {}, {{"width", 32}}}); // no tunables: not tuned
  return calls;
}

// A deterministic "time": a hash of the problem and the candidate.
double fakeTime(const Problem &p, const Params &c, int run) {
  size_t h = std::hash<std::string>()(p.kernel + p.shapeKey) ^ (p.bucket.measureRows * 7919);
  for (const auto &[k, v] : c)
    h = h * 31 + std::hash<std::string>()(k) + static_cast<size_t>(v);
  return 1e-6 * static_cast<double>(10 + h % 1000);
}

struct TempDir {
  fs::path path = fs::temp_directory_path() /
                  ("llmc_tune_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
                   "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
  TempDir() {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

TuneOptions fastOptions(const std::string &output) {
  TuneOptions o;
  o.output = output;
  o.tokens = {1, 4, 16};
  o.warmupRuns = 1;
  o.minRuns = 3;
  o.maxRuns = 3;
  o.fakeSeconds = fakeTime;
  return o;
}

TEST(Tuner, CoversEveryDistinctShapeAndBucket) {
  TempDir dir;
  TuneOptions o = fastOptions((dir.path / "db.json").string());
  TuneReport r = runTune(tinyCalls(), o);
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(r.calls, 4u);
  EXPECT_EQ(r.problems, 9u); // 3 shapes x 3 buckets
  llmc::TuningDB db = llmc::TuningDB::load(o.output);
  EXPECT_EQ(db.size(), 9u);
  EXPECT_EQ(db.buckets("cpu", "linear", "in_features=32,out_features=24").size(), 3u);
  EXPECT_EQ(db.buckets("cpu", "logits", "hidden=32,vocab=40").size(), 3u);
}

TEST(Tuner, WrongOutputNeverWins) {
  TempDir dir;
  TuneOptions o = fastOptions((dir.path / "db.json").string());
  o.tokens = {4};
  // The planted candidate is by far the fastest; its kernel then perturbs one output element.
  Params planted{{"block_cols", 8}, {"block_rows", 3}};
  o.fakeSeconds = [&](const Problem &p, const Params &c, int run) {
    return c == planted ? 1e-9 : fakeTime(p, c, run);
  };
  TuneReport honest = runTune(tinyCalls(), o);
  llmc::TuningDB db = llmc::TuningDB::load(o.output);
  for (const auto &e : db.entries())
    EXPECT_EQ(e.params, planted) << "without the fault the planted candidate wins";
  EXPECT_EQ(honest.rejected, 0u);

  fs::remove(o.output);
  o.afterRun = [&](const Problem &, const Params &c, std::vector<std::span<float>> &outs) {
    if (c == planted)
      outs[0][outs[0].size() / 2] += 1e-3f;
  };
  TuneReport faulty = runTune(tinyCalls(), o);
  EXPECT_EQ(faulty.rejected, 3u); // once per problem
  for (const auto &e : llmc::TuningDB::load(o.output).entries())
    EXPECT_NE(e.params, planted) << e.kernel;
}

TEST(Tuner, ResumeAfterStopGivesTheSameDatabase) {
  TempDir dir;
  TuneOptions full = fastOptions((dir.path / "full.json").string());
  ASSERT_TRUE(runTune(tinyCalls(), full).complete);
  std::string expected = llmc::TuningDB::load(full.output).toJson();

  for (size_t k : {1u, 4u, 8u}) {
    TuneOptions part = fastOptions((dir.path / ("part" + std::to_string(k) + ".json")).string());
    part.stopAfterEntries = k;
    TuneReport first = runTune(tinyCalls(), part);
    EXPECT_FALSE(first.complete);
    EXPECT_EQ(first.stopReason, "entry limit");
    EXPECT_EQ(llmc::TuningDB::load(part.output).size(), k) << "a valid file after the stop";
    EXPECT_THROW(runTune(tinyCalls(), part), llm::Error) << "an existing file needs --resume";
    part.stopAfterEntries = 0;
    part.resume = true;
    TuneReport second = runTune(tinyCalls(), part);
    EXPECT_TRUE(second.complete);
    EXPECT_EQ(second.resumed, k);
    EXPECT_EQ(llmc::TuningDB::load(part.output).toJson(), expected) << "stopped after " << k;
  }
}

TEST(Tuner, BudgetStopsCleanly) {
  TempDir dir;
  TuneOptions o = fastOptions((dir.path / "db.json").string());
  o.budgetSeconds = 1e-9;
  TuneReport r = runTune(tinyCalls(), o);
  EXPECT_FALSE(r.complete);
  EXPECT_EQ(r.stopReason, "budget");
  EXPECT_EQ(llmc::TuningDB::load(o.output).size(), 0u);
}

TEST(Tuner, CudaTargetsSayTheyNeedAGpu) {
  TempDir dir;
  TuneOptions o = fastOptions((dir.path / "db.json").string());
  o.target = "cuda-sm90";
  try {
    runTune(tinyCalls(), o);
    FAIL() << "expected an error";
  } catch (const llm::Error &e) {
    EXPECT_NE(std::string(e.what()).find("NVIDIA GPU"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(o.output));
  // The same machinery enumerates the CUDA space.
  std::vector<PlannedProblem> plan = planSweep(tinyCalls(), o);
  ASSERT_EQ(plan.size(), 9u);
  EXPECT_GT(plan[0].candidates, 1u);
}

} // namespace
