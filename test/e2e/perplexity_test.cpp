// `llmrt perplexity` (runtime/tools/Perplexity.h) against transformers: the perplexity of tiny
// fixture models compiled by llmc, on seeded token ids (disjoint and overlapping windows) and on
// the fixed English text encoded by the plan's tokenizer. Reference: test/fixtures/perplexity/
// reference.json, made by make_reference.py there.
//
// Tolerance: the parity tests bound |our logit - transformers' logit| by 1e-4 (fp32, eager). A
// log-softmax entry x_t - logsumexp(x) moves by at most 2 max|dx|, so each token's -log p, their
// mean, and log(perplexity) are within 2e-4: a relative 2e-4 on the perplexity (exp is monotone,
// e^{2e-4} - 1 < 2.1e-4). Every scored value is checked, not only the total.
#include "common/CompilePlan.h"
#include "engine/Executor.h"
#include "plan/PlanLoader.h"
#include "support/Error.h"
#include "support/ThreadPool.h"
#include "tokenizer/PlanTokenizer.h"
#include "tools/Perplexity.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include <unistd.h>

namespace fs = std::filesystem;

namespace llmrt {
namespace {

constexpr double kLogTolerance = 2e-4; // see the header comment

std::string readText(const fs::path &path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

const nlohmann::json &reference() {
  static const nlohmann::json j =
      nlohmann::json::parse(readText(fs::path(FIXTURES_DIR) / "perplexity/reference.json"));
  return j;
}

fs::path tempRoot() {
  return fs::temp_directory_path() / ("llm-perplexity-" + std::to_string(::getpid()));
}

class PerplexityTest : public ::testing::Test {
protected:
  // The fixture's plan, compiled once per process.
  static const LoadedPlan &plan(const std::string &model) {
    static std::map<std::string, std::unique_ptr<LoadedPlan>> plans;
    std::unique_ptr<LoadedPlan> &p = plans[model];
    if (!p) {
      llmrt::ThreadPool::global().setThreads(1);
      fs::path out = tempRoot() / model / "plan.fb";
      EXPECT_EQ(
          llmtest::compilePlan(LLMC_PATH, std::string(FIXTURES_DIR) + "/" + model, out.string()),
          "");
      p = LoadedPlan::load(out.string());
    }
    return *p;
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(tempRoot(), ec);
  }
};

TEST_F(PerplexityTest, MatchesTransformers) {
  for (const nlohmann::json &c : reference()["cases"]) {
    SCOPED_TRACE(c["model"].get<std::string>() + " stride " +
                 std::to_string(c["stride"].get<int>()));
    const LoadedPlan &p = plan(c["model"]);
    int context = c["context"];
    Executor executor(p, {1, context});
    std::vector<int32_t> ids = c["ids"];
    tools::PerplexityResult r = tools::perplexity(executor, ids, context, c["stride"]);
    std::vector<double> want = c["window_nll"];
    ASSERT_EQ(r.windowNll.size(), want.size());
    for (size_t w = 0; w < want.size(); ++w)
      EXPECT_NEAR(r.windowNll[w], want[w], kLogTolerance) << "window " << w;
    EXPECT_EQ(r.scoredTokens, c["scored_tokens"].get<int64_t>());
    EXPECT_EQ(r.textTokens, static_cast<int64_t>(ids.size()));
    EXPECT_NEAR(std::log(r.perplexity), std::log(c["perplexity"].get<double>()), kLogTolerance);
  }
}

// The command encodes its text with the plan's tokenizer as transformers does.
TEST_F(PerplexityTest, TextEncodesAsTransformers) {
  for (const nlohmann::json &c : reference()["cases"]) {
    if (!c.contains("text_chars"))
      continue;
    std::string text = readText(fs::path(FIXTURES_DIR) / "perplexity/pride-and-prejudice.txt")
                           .substr(0, c["text_chars"].get<size_t>()); // ASCII: chars = bytes
    std::unique_ptr<Tokenizer> tokenizer = tokenizerFromPlan(plan(c["model"]));
    ASSERT_TRUE(tokenizer);
    EXPECT_EQ(tokenizer->encode(text), c["ids"].get<std::vector<int32_t>>());
  }
}

// Windows are fresh sequences: a window's score does not depend on what ran before it.
TEST_F(PerplexityTest, MaxWindowsScoresAPrefixOfTheWindows) {
  const nlohmann::json &c = reference()["cases"][1]; // overlapping windows
  Executor executor(plan(c["model"]), {1, 64});
  std::vector<int32_t> ids = c["ids"];
  tools::PerplexityResult all = tools::perplexity(executor, ids, 64, 24);
  tools::PerplexityResult two = tools::perplexity(executor, ids, 64, 24, 2);
  ASSERT_EQ(two.windowNll.size(), 2u);
  EXPECT_EQ(two.windowNll[0], all.windowNll[0]);
  EXPECT_EQ(two.windowNll[1], all.windowNll[1]);
  EXPECT_EQ(two.scoredTokens, 2 * (64 - 1 - 32));
}

TEST_F(PerplexityTest, RefusesBadWindows) {
  const nlohmann::json &c = reference()["cases"][0];
  Executor executor(plan(c["model"]), {1, 64});
  std::vector<int32_t> ids = c["ids"];
  EXPECT_THROW(tools::perplexity(executor, std::span(ids).first(63), 64, 64), llm::Error);
  EXPECT_THROW(tools::perplexity(executor, ids, 65, 65), llm::Error); // above the KV cache
  EXPECT_THROW(tools::perplexity(executor, ids, 1, 1), llm::Error);
  EXPECT_THROW(tools::perplexity(executor, ids, 64, 0), llm::Error);
  EXPECT_THROW(tools::perplexity(executor, ids, 64, 65), llm::Error);
  try {
    tools::perplexity(executor, std::span(ids).first(10), 64, 64);
  } catch (const llm::Error &e) {
    EXPECT_NE(std::string(e.what()).find("the text has 10 tokens"), std::string::npos) << e.what();
  }
}

} // namespace
} // namespace llmrt
