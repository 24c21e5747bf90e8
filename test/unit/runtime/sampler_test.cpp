#include "sampler/Sampler.h"
#include "support/Error.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <set>
#include <string>
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

// Greedy over rows of every length around the vector steps (8 and 16 lanes), with few distinct
// values so that maxima repeat in the vector body and in the tail: the first of equal maxima, as
// a scalar scan finds it. A row of -inf picks 0, -0 and +0 are equal, and a NaN anywhere is
// refused, naming the first one.
TEST(SamplerTest, GreedyMatchesAScalarScanAtEveryLength) {
  Sampler s(sampling(0));
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> level(-3, 3);
  for (int n = 1; n <= 70; ++n)
    for (int rep = 0; rep < 20; ++rep) {
      std::vector<float> row(n);
      for (float &v : row)
        v = 0.5f * static_cast<float>(level(rng));
      int32_t want = 0;
      for (int i = 1; i < n; ++i)
        if (row[i] > row[want])
          want = i;
      ASSERT_EQ(s.sample(row), want) << "length " << n;
    }
  std::vector<float> vocab(49152, -1.0f);
  vocab[49151] = 2.0f;
  EXPECT_EQ(s.sample(vocab), 49151);
  vocab[20000] = 2.0f;
  EXPECT_EQ(s.sample(vocab), 20000);
  EXPECT_EQ(s.sample(std::vector<float>(37, -INFINITY)), 0);
  std::vector<float> zeros(20, -1.0f);
  zeros[3] = -0.0f;
  zeros[17] = 0.0f;
  EXPECT_EQ(s.sample(zeros), 3);
  for (int at : {0, 5, 15, 16, 33, 36}) {
    std::vector<float> row(37, 1.0f);
    row[at] = std::nanf("");
    row[36] = std::nanf("");
    try {
      s.sample(row);
      ADD_FAILURE() << "a NaN at " << at << " was sampled";
    } catch (const llm::Error &e) {
      EXPECT_NE(std::string(e.what()).find("logit " + std::to_string(at) + " is NaN"),
                std::string::npos)
          << e.what();
    }
  }
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

// Repetition penalty: every token seen in the prompt or the output, once, divided when positive,
// multiplied when negative; greedy then picks what wins after the penalty.
TEST(SamplerTest, RepetitionPenaltyDividesPositiveAndMultipliesNegativeLogits) {
  SamplingParams p;
  p.repetitionPenalty = 2;
  Sampler s(p);
  std::vector<float> logits = {3.0f, 2.0f, -1.0f, -1.5f};
  EXPECT_EQ(s.sample(logits), 0);
  std::vector<int32_t> prompt{0, 0, 0}; // 3 / 2 = 1.5 < 2: token 1 wins
  EXPECT_EQ(s.sample(logits, prompt), 1);
  std::vector<int32_t> output{1};       // both penalized once: 1.5 vs 1.0
  EXPECT_EQ(s.sample(logits, prompt, output), 0);
  std::vector<float> negative = {-1.0f, -1.5f};
  std::vector<int32_t> seen{0};         // -1 * 2 = -2 < -1.5
  EXPECT_EQ(s.sample(negative, seen), 1);
}

// Frequency and presence penalties count the output only: logit -= f * count + p * (count > 0).
TEST(SamplerTest, FrequencyAndPresencePenaltiesCountTheOutput) {
  std::vector<float> logits = {5.0f, 4.0f};
  std::vector<int32_t> prompt{0, 0, 0, 0, 0, 0};
  SamplingParams f;
  f.frequencyPenalty = 0.6f;
  Sampler freq(f);
  EXPECT_EQ(freq.sample(logits, prompt, std::vector<int32_t>{0}), 0);       // 4.4 > 4.0
  EXPECT_EQ(freq.sample(logits, prompt, std::vector<int32_t>{0, 0}), 1);    // 3.8 < 4.0
  SamplingParams pr;
  pr.presencePenalty = 1.5f;
  Sampler presence(pr);
  EXPECT_EQ(presence.sample(logits, prompt, std::vector<int32_t>{0}), 1);   // 3.5 < 4.0
  EXPECT_EQ(presence.sample(logits, prompt, std::vector<int32_t>{0, 1}), 0); // 3.5 > 2.5
  SamplingParams negative;
  negative.presencePenalty = -2;
  Sampler encourage(negative);
  EXPECT_EQ(encourage.sample(logits, prompt, std::vector<int32_t>{1}), 1);  // 6.0 > 5.0
}

// min_p keeps the tokens whose probability is at least min_p times the largest.
TEST(SamplerTest, MinPDropsUnlikelyTokens) {
  // Probabilities relative to the first: 1, e^-1 = 0.37, e^-3 = 0.05.
  std::vector<float> logits = {2.0f, 1.0f, -1.0f};
  SamplingParams p;
  p.temperature = 1;
  p.minP = 0.2f;
  std::map<int32_t, int> seen;
  for (uint64_t seed = 0; seed < 400; ++seed) {
    p.seed = seed;
    Sampler s(p);
    ++seen[s.sample(logits)];
  }
  EXPECT_GT(seen[0], 0);
  EXPECT_GT(seen[1], 0);
  EXPECT_EQ(seen.count(2), 0u);
  p.minP = 1; // only the most likely
  for (uint64_t seed = 0; seed < 50; ++seed) {
    p.seed = seed;
    EXPECT_EQ(Sampler(p).sample(logits), 0);
  }
}

// Log-probabilities are the raw distribution's (log_softmax): they exponentiate to 1, the top list
// is sorted, and penalties or temperature do not change them.
TEST(SamplerTest, LogprobsAreTheRawLogSoftmax) {
  std::vector<float> logits = {1.0f, 3.0f, -2.0f, 3.0f, 0.5f};
  TokenLogprobs lp = computeLogprobs(logits, 2, 3);
  double total = 0, maxLogit = 3;
  for (float x : logits)
    total += std::exp(double(x) - maxLogit);
  EXPECT_NEAR(lp.logprob, -2.0 - maxLogit - std::log(total), 1e-6);
  ASSERT_EQ(lp.top.size(), 3u);
  EXPECT_EQ(lp.top[0].first, 1); // ties by index
  EXPECT_EQ(lp.top[1].first, 3);
  EXPECT_EQ(lp.top[2].first, 0);
  double mass = 0;
  for (float x : logits)
    mass += std::exp(double(x) - maxLogit - std::log(total));
  EXPECT_NEAR(mass, 1.0, 1e-12);
  EXPECT_TRUE(computeLogprobs(logits, 0, 0).top.empty());
  EXPECT_EQ(computeLogprobs(logits, 0, 99).top.size(), logits.size());
  EXPECT_THROW(computeLogprobs(logits, 5, 1), llm::Error);
}

TEST(SamplerTest, NewParametersAreValidated) {
  auto bad = [](auto change) {
    SamplingParams p;
    change(p);
    EXPECT_THROW(Sampler{p}, llm::Error);
  };
  bad([](SamplingParams &p) { p.minP = -0.1f; });
  bad([](SamplingParams &p) { p.minP = 1.5f; });
  bad([](SamplingParams &p) { p.presencePenalty = 2.5f; });
  bad([](SamplingParams &p) { p.frequencyPenalty = -3; });
  bad([](SamplingParams &p) { p.repetitionPenalty = 0; });
  bad([](SamplingParams &p) { p.logprobs = 21; });
  bad([](SamplingParams &p) { p.logprobs = -2; });
}

} // namespace
} // namespace llmrt
