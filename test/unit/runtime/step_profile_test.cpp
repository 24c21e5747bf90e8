// StepProfile (LLMRT_PROFILE): grouping of calls by kernel and format, phase split, shares and
// times per call in the report, the environment switch, and the executor's report of a real run.
#include "TestPlanWriter.h"
#include "engine/Executor.h"
#include "engine/StepProfile.h"
#include "plan/PlanLoader.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <numeric>
#include <sstream>

namespace llmrt::test {
namespace {

using std::chrono::microseconds;
using Phase = StepProfile::Phase;

// The report's row for `label` in the block of `phase` ("decode" / "prefill"), or "".
std::string rowOf(const std::string &report, const std::string &phase, const std::string &label) {
  std::istringstream in(report);
  std::string line;
  bool inPhase = false;
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] != ' ')
      inPhase = line.rfind(phase + ":", 0) == 0;
    else if (inPhase && line.rfind("  " + label + " ", 0) == 0)
      return line;
  }
  return "";
}

// The numbers of a report row after its label: calls, total ms, share %, us/call.
std::vector<double> numbers(const std::string &row, const std::string &label) {
  std::istringstream in(row.substr(label.size() + 2));
  std::vector<double> v;
  std::string word;
  while (in >> word)
    v.push_back(std::stod(word)); // stod stops at the '%'
  return v;
}

TEST(StepProfileTest, GroupsCallsByKernelAndFormatPerPhase) {
  EXPECT_EQ(StepProfile::label("linear", "q4_0"), "linear q4_0");
  EXPECT_EQ(StepProfile::label("rms_norm", ""), "rms_norm");
  EXPECT_EQ(StepProfile::label("linear", "q4_0", {3072, 576}), "linear q4_0 3072x576");
  EXPECT_EQ(StepProfile::label("rms_norm", "", {576}), "rms_norm 576");
  // Calls 0 and 2 share a group.
  StepProfile p({"linear q4_0", "attention_qkv", "linear q4_0"});
  for (int step = 0; step < 2; ++step) { // two decode steps of 1 ms
    p.addCall(Phase::Decode, 0, microseconds(100));
    p.addCall(Phase::Decode, 1, microseconds(500));
    p.addCall(Phase::Decode, 2, microseconds(300));
    p.addStep(Phase::Decode, 1, microseconds(1000));
  }
  const std::string r = p.report();
  EXPECT_NE(r.find("decode: 2 steps, 2 tokens, 1.000 ms/step (90.0% in kernel calls)"),
            std::string::npos)
      << r;
  EXPECT_EQ(r.find("prefill"), std::string::npos) << "no prefill step ran:\n" << r;
  std::vector<double> lin = numbers(rowOf(r, "decode", "linear q4_0"), "linear q4_0");
  ASSERT_EQ(lin.size(), 4u) << r;
  EXPECT_EQ(lin[0], 4);        // 2 calls x 2 steps
  EXPECT_NEAR(lin[1], 0.8, 1e-9);  // ms
  EXPECT_NEAR(lin[2], 40.0, 1e-9); // % of step time
  EXPECT_NEAR(lin[3], 200, 1e-9);  // us per call
  std::vector<double> att = numbers(rowOf(r, "decode", "attention_qkv"), "attention_qkv");
  ASSERT_EQ(att.size(), 4u) << r;
  EXPECT_EQ(att[0], 2);
  EXPECT_NEAR(att[3], 500, 1e-9);
  // Largest total first.
  EXPECT_LT(r.find("attention_qkv"), r.find("linear q4_0")) << r;

  p.addCall(Phase::Prefill, 1, microseconds(4000));
  p.addStep(Phase::Prefill, 64, microseconds(5000));
  const std::string both = p.report();
  EXPECT_NE(both.find("prefill: 1 steps, 64 tokens, 5.000 ms/step"), std::string::npos) << both;
  EXPECT_NEAR(numbers(rowOf(both, "prefill", "attention_qkv"), "attention_qkv")[2], 80.0, 1e-9);
  EXPECT_THROW(p.addCall(Phase::Decode, 3, microseconds(1)), std::out_of_range);
}

TEST(StepProfileTest, EnvironmentSwitch) {
  const char *saved = std::getenv("LLMRT_PROFILE");
  std::string keep = saved ? saved : "";
  unsetenv("LLMRT_PROFILE");
  EXPECT_FALSE(StepProfile::requested());
  setenv("LLMRT_PROFILE", "0", 1);
  EXPECT_FALSE(StepProfile::requested());
  setenv("LLMRT_PROFILE", "", 1);
  EXPECT_FALSE(StepProfile::requested());
  setenv("LLMRT_PROFILE", "1", 1);
  EXPECT_TRUE(StepProfile::requested());
  EXPECT_FALSE(StepProfile::byShape());
  setenv("LLMRT_PROFILE", "shapes", 1);
  EXPECT_TRUE(StepProfile::requested());
  EXPECT_TRUE(StepProfile::byShape());
  if (saved)
    setenv("LLMRT_PROFILE", keep.c_str(), 1);
  else
    unsetenv("LLMRT_PROFILE");
}

// An executor made while LLMRT_PROFILE is set reports every kernel of its plan, per phase, when
// it is destroyed; one made without it reports nothing.
TEST(StepProfileTest, ExecutorReportsItsSteps) {
  TempDir dir;
  auto plan = LoadedPlan::load(writePlan(tinyPlan(11, 8), dir.path()).plan.string());
  std::vector<int32_t> ids = {4, 0, 10, 4}, pos(4);
  std::iota(pos.begin(), pos.end(), 0);
  setenv("LLMRT_PROFILE", "1", 1);
  testing::internal::CaptureStderr();
  {
    Executor ex(*plan);
    ex.forward(ids, pos, std::vector<int32_t>{3});                     // prefill
    ex.forward(std::vector<int32_t>{5}, std::vector<int32_t>{4}, std::vector<int32_t>{0}); // decode
  }
  std::string err = testing::internal::GetCapturedStderr();
  unsetenv("LLMRT_PROFILE");
  EXPECT_NE(err.find("LLMRT_PROFILE"), std::string::npos) << err;
  EXPECT_NE(err.find("decode: 1 steps, 1 tokens"), std::string::npos) << err;
  EXPECT_NE(err.find("prefill: 1 steps, 4 tokens"), std::string::npos) << err;
  for (const char *kernel : {"embedding", "rms_norm"})
    EXPECT_NE(rowOf(err, "decode", kernel), "") << kernel << "\n" << err;

  testing::internal::CaptureStderr();
  {
    Executor ex(*plan);
    ex.forward(ids, pos, std::vector<int32_t>{3});
  }
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");

  // LLMRT_PROFILE=shapes: groups also by the first weight's shape.
  setenv("LLMRT_PROFILE", "shapes", 1);
  testing::internal::CaptureStderr();
  {
    Executor ex(*plan);
    ex.forward(ids, pos, std::vector<int32_t>{3});
  }
  err = testing::internal::GetCapturedStderr();
  unsetenv("LLMRT_PROFILE");
  EXPECT_NE(rowOf(err, "prefill", "embedding 11x8"), "") << err;
}

} // namespace
} // namespace llmrt::test
