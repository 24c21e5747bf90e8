#include "sampler/Sampler.h"
#include "support/Error.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>
#include <vector>

namespace llmrt {
namespace {

SamplingParams sampling(float temperature, int topK = 0, float topP = 1, uint64_t seed = 7) {
  SamplingParams p;
  p.temperature = temperature;
  p.topK = topK;
  p.topP = topP;
  p.seed = seed;
  return p;
}

TEST(SamplerTest, GreedyPicksArgmax) {
  Sampler s(sampling(0));
  std::vector<float> logits = {0.1f, -3.0f, 2.5f, 1.0f};
  EXPECT_EQ(s.sample(logits), 2);
  std::vector<float> negatives = {-5.0f, -1.0f, -2.0f};
  EXPECT_EQ(s.sample(negatives), 1);
}

TEST(SamplerTest, GreedyTiesPickLowestIndex) {
  Sampler s(sampling(0));
  std::vector<float> logits = {1.0f, 4.0f, 0.0f, 4.0f, 4.0f};
  EXPECT_EQ(s.sample(logits), 1);
}

TEST(SamplerTest, TopKOneEqualsGreedy) {
  Sampler s(sampling(1.5f, 1, 1, 123));
  std::vector<float> logits = {0.3f, 0.9f, 0.2f, 0.9f, -1.0f};
  for (int i = 0; i < 50; ++i)
    EXPECT_EQ(s.sample(logits), 1);
}

TEST(SamplerTest, SameSeedSameTokens) {
  std::vector<float> logits = {0.5f, 0.4f, 0.3f, 0.2f, 0.1f, 0.0f, -0.1f};
  for (SamplingParams p : {sampling(1.0f, 0, 1, 42), sampling(0.8f, 4, 0.9f, 42)}) {
    Sampler a(p), b(p);
    std::vector<int32_t> ta, tb;
    for (int i = 0; i < 200; ++i) {
      ta.push_back(a.sample(logits));
      tb.push_back(b.sample(logits));
    }
    EXPECT_EQ(ta, tb);
    EXPECT_GT(std::set<int32_t>(ta.begin(), ta.end()).size(), 2u); // it does sample
  }
  Sampler c(sampling(1.0f, 0, 1, 43)), d(sampling(1.0f, 0, 1, 42));
  std::vector<int32_t> tc, td;
  for (int i = 0; i < 200; ++i) {
    tc.push_back(c.sample(logits));
    td.push_back(d.sample(logits));
  }
  EXPECT_NE(tc, td);
}

// Draw frequencies match softmax(logits / T) within a few standard errors.
TEST(SamplerTest, DistributionMatchesSoftmax) {
  std::vector<float> logits = {1.0f, 0.0f, 2.0f, -1.0f};
  const float temperature = 0.7f;
  const int draws = 200000;
  Sampler s(sampling(temperature, 0, 1, 2024));
  std::vector<int> counts(logits.size());
  for (int i = 0; i < draws; ++i)
    ++counts[s.sample(logits)];
  double z = 0;
  for (float l : logits)
    z += std::exp(l / temperature);
  for (size_t i = 0; i < logits.size(); ++i) {
    double p = std::exp(logits[i] / temperature) / z;
    double sigma = std::sqrt(p * (1 - p) / draws);
    EXPECT_NEAR(counts[i] / double(draws), p, 5 * sigma + 1e-4) << "token " << i;
  }
}

TEST(SamplerTest, TopKRestrictsAndRenormalizes) {
  std::vector<float> logits = {3.0f, 0.0f, 2.0f, 2.5f, -1.0f};
  Sampler s(sampling(1.0f, 2, 1, 5));
  std::map<int32_t, int> counts;
  const int draws = 20000;
  for (int i = 0; i < draws; ++i)
    ++counts[s.sample(logits)];
  EXPECT_EQ(counts.size(), 2u);
  double p0 = std::exp(3.0) / (std::exp(3.0) + std::exp(2.5));
  EXPECT_NEAR(counts[0] / double(draws), p0, 0.02);
  EXPECT_NEAR(counts[3] / double(draws), 1 - p0, 0.02);
}

// Probabilities 0.5, 0.25, 0.125, 0.0625, 0.0625 (by construction from logs).
std::vector<float> halvingLogits() {
  return {std::log(0.0625f), std::log(0.5f), std::log(0.125f), std::log(0.25f), std::log(0.0625f)};
}

TEST(SamplerTest, TopPKeepsMinimalNucleus) {
  auto tokensWith = [](float topP) {
    Sampler s(sampling(1.0f, 0, topP, 11));
    std::set<int32_t> seen;
    std::vector<float> logits = halvingLogits();
    for (int i = 0; i < 5000; ++i)
      seen.insert(s.sample(logits));
    return seen;
  };
  EXPECT_EQ(tokensWith(0.45f), (std::set<int32_t>{1}));      // 0.5 reaches 0.45 alone
  EXPECT_EQ(tokensWith(0.6f), (std::set<int32_t>{1, 3}));    // 0.75 >= 0.6
  EXPECT_EQ(tokensWith(0.8f), (std::set<int32_t>{1, 3, 2})); // 0.875 >= 0.8
  EXPECT_EQ(tokensWith(0.01f), (std::set<int32_t>{1}));      // always at least one
  EXPECT_EQ(tokensWith(1.0f).size(), 5u);
}

TEST(SamplerTest, TopKThenTopP) {
  Sampler s(sampling(1.0f, 3, 0.7f, 3));
  std::set<int32_t> seen;
  std::vector<float> logits = halvingLogits();
  for (int i = 0; i < 5000; ++i)
    seen.insert(s.sample(logits));
  // Top 3 hold 0.5, 0.25, 0.125 (mass 0.875); 0.7 of that is reached by 0.5 + 0.25.
  EXPECT_EQ(seen, (std::set<int32_t>{1, 3}));
}

TEST(SamplerTest, InvalidParamsRefused) {
  EXPECT_THROW(Sampler(sampling(-0.1f)), llm::Error);
  EXPECT_THROW(Sampler(sampling(1.0f, -1)), llm::Error);
  EXPECT_THROW(Sampler(sampling(1.0f, 0, 0.0f)), llm::Error);
  EXPECT_THROW(Sampler(sampling(1.0f, 0, 1.5f)), llm::Error);
  EXPECT_THROW(Sampler(sampling(1.0f, 0, std::nanf(""))), llm::Error);
  try {
    Sampler bad(sampling(1.0f, 0, 1.5f));
  } catch (const llm::Error &e) {
    EXPECT_NE(std::string(e.what()).find("top_p"), std::string::npos);
  }
}

TEST(SamplerTest, BadLogitsRefused) {
  Sampler s(sampling(1.0f));
  EXPECT_THROW(s.sample({}), llm::Error);
  std::vector<float> nan = {0.0f, std::nanf("")};
  EXPECT_THROW(s.sample(nan), llm::Error);
}

} // namespace
} // namespace llmrt
