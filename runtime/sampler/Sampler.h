// The sampler: picks the next token from one row of logits.
//
// temperature == 0: greedy, the argmax (the lowest index among equal maxima), no randomness.
// Otherwise: logits / temperature, keep the top_k largest (0 = all), then the nucleus: the smallest
// prefix of the candidates sorted by probability (descending, ties by index) whose mass reaches
// top_p (at least one token), and draw from what is kept with a std::mt19937_64 seeded by `seed`.
// The same seed and the same logits give the same tokens on every run and machine.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace llmrt {

struct SamplingParams {
  float temperature = 0;
  int topK = 0;   // 0 = no top-k cut
  float topP = 1; // in (0, 1]; 1 = no nucleus cut
  uint64_t seed = 0;
};

class Sampler {
public:
  // Throws llm::Error when a parameter is out of range (temperature < 0, top_k < 0, top_p outside
  // (0, 1]).
  explicit Sampler(SamplingParams params);

  // Throws llm::Error on an empty row or a NaN logit.
  int32_t sample(std::span<const float> logits);

  const SamplingParams &params() const { return params_; }

private:
  int32_t greedy(std::span<const float> logits) const;
  // Sorts (a prefix of) candidates_ by logit descending, index ascending; returns how many lead.
  size_t rankCandidates(std::span<const float> logits);
  double uniform(); // [0, 1), 53 random bits: the same on every standard library

  SamplingParams params_;
  std::mt19937_64 rng_;
  std::vector<int32_t> candidates_; // reused across calls
  std::vector<double> weights_;
};

} // namespace llmrt
