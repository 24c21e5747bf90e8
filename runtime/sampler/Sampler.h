// The sampler: picks the next token from one row of logits.
//
// In order (vLLM's order):
//  1. penalties, on a copy of the row, given the request's tokens: repetition (HF/CTRL style: a
//     logit of a token seen in the prompt or the output is divided by the penalty when positive,
//     multiplied when negative), then frequency and presence (OpenAI: logit -= frequency * count in
//     the output + presence * [count > 0]);
//  2. temperature == 0: greedy, the argmax (the lowest index among equal maxima), no randomness;
//  3. otherwise: logits / temperature, keep the top_k largest (0 = all), drop tokens whose
//     probability is below min_p times the largest probability, then the nucleus: the smallest
//     prefix of the candidates sorted by probability (descending, ties by index) whose mass reaches
//     top_p (at least one token), and draw from what is kept with a std::mt19937_64 seeded by
//     `seed`.
// The same seed, the same logits and the same history give the same tokens on every run and
// machine.
//
// Log-probabilities (logprobs()) are those of the model's raw distribution, log_softmax of the
// logits before penalties and temperature (what vLLM returns by default).
#pragma once

#include <cstdint>
#include <random>
#include <utility>
#include <span>
#include <vector>

namespace llmrt {

struct SamplingParams {
  float temperature = 0;
  int topK = 0;   // 0 = no top-k cut
  float topP = 1; // in (0, 1]; 1 = no nucleus cut
  float minP = 0; // in [0, 1]; 0 = no cut
  float presencePenalty = 0;  // in [-2, 2]
  float frequencyPenalty = 0; // in [-2, 2]
  float repetitionPenalty = 1; // > 0; 1 = none
  uint64_t seed = 0;
  int logprobs = -1; // -1: none; k >= 0: the sampled token's log-probability and the top k (<= 20)

  bool hasPenalties() const {
    return presencePenalty != 0 || frequencyPenalty != 0 || repetitionPenalty != 1;
  }
};

// The log-probability of a sampled token and the most likely alternatives.
struct TokenLogprobs {
  float logprob = 0;                            // of the sampled token
  std::vector<std::pair<int32_t, float>> top;   // by log-probability descending, ties by index
};

// Log-probabilities of `logits` (log_softmax): the one of `token` and the top k.
TokenLogprobs computeLogprobs(std::span<const float> logits, int32_t token, int k);

class Sampler {
public:
  // Throws llm::Error when a parameter is out of range (temperature < 0, top_k < 0, top_p outside
  // (0, 1], min_p outside [0, 1], a penalty out of its range, logprobs above 20).
  explicit Sampler(SamplingParams params);

  // `prompt` and `output` are the request's tokens so far (penalties read them). Throws llm::Error
  // on an empty row or a NaN logit.
  int32_t sample(std::span<const float> logits, std::span<const int32_t> prompt = {},
                 std::span<const int32_t> output = {});

  const SamplingParams &params() const { return params_; }

private:
  int32_t greedy(std::span<const float> logits) const;
  // Sorts (a prefix of) candidates_ by logit descending, index ascending; returns how many lead.
  size_t rankCandidates(std::span<const float> logits);
  double uniform(); // [0, 1), 53 random bits: the same on every standard library
  // The row with penalties applied (in penalized_), or `logits` itself when there are none.
  std::span<const float> penalize(std::span<const float> logits, std::span<const int32_t> prompt,
                                  std::span<const int32_t> output);

  SamplingParams params_;
  std::mt19937_64 rng_;
  std::vector<int32_t> candidates_; // reused across calls
  std::vector<double> weights_;
  std::vector<float> penalized_;
  std::vector<int32_t> counts_; // output occurrences per token (cleared after each use)
};

} // namespace llmrt
