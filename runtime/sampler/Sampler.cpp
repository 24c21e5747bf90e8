#include "sampler/Sampler.h"

#include "support/Error.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace llmrt {
using llm::fail;

Sampler::Sampler(SamplingParams params) : params_(params), rng_(params.seed) {
  if (!(params.temperature >= 0) || !std::isfinite(params.temperature))
    fail("sampling: temperature is {}, expected a finite value >= 0", params.temperature);
  if (params.topK < 0)
    fail("sampling: top_k is {}, expected >= 0 (0 disables it)", params.topK);
  if (!(params.topP > 0 && params.topP <= 1))
    fail("sampling: top_p is {}, expected a value in (0, 1]", params.topP);
}

double Sampler::uniform() { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; }

int32_t Sampler::greedy(std::span<const float> logits) const {
  size_t best = 0;
  for (size_t i = 1; i < logits.size(); ++i)
    if (logits[i] > logits[best]) // strict: the first of equal maxima wins
      best = i;
  return static_cast<int32_t>(best);
}

size_t Sampler::rankCandidates(std::span<const float> logits) {
  size_t n = logits.size();
  candidates_.resize(n);
  std::iota(candidates_.begin(), candidates_.end(), 0);
  auto before = [&logits](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  };
  size_t keep = params_.topK > 0 ? std::min<size_t>(n, params_.topK) : n;
  if (keep < n)
    std::partial_sort(candidates_.begin(), candidates_.begin() + keep, candidates_.end(), before);
  else if (params_.topP < 1)
    std::sort(candidates_.begin(), candidates_.end(), before);
  // Without a cut the order does not matter: the draw scans candidates in index order.
  return keep;
}

int32_t Sampler::sample(std::span<const float> logits) {
  if (logits.empty())
    fail("sampling: empty logits row");
  for (size_t i = 0; i < logits.size(); ++i)
    if (std::isnan(logits[i]))
      fail("sampling: logit {} is NaN", i);
  if (params_.temperature == 0)
    return greedy(logits);

  size_t keep = rankCandidates(logits);
  // Softmax weights of the kept candidates, relative to the largest (double: the sums stay exact
  // enough over 100k+ tokens).
  float maxLogit = logits[greedy(logits)];
  if (std::isinf(maxLogit) && maxLogit < 0)
    fail("sampling: every logit is -inf");
  double invT = 1.0 / params_.temperature;
  weights_.resize(keep);
  double total = 0;
  for (size_t i = 0; i < keep; ++i) {
    weights_[i] = std::exp((static_cast<double>(logits[candidates_[i]]) - maxLogit) * invT);
    total += weights_[i];
  }
  if (params_.topP < 1) {
    // The smallest prefix (sorted by probability) whose mass reaches top_p.
    double target = params_.topP * total, mass = 0;
    size_t nucleus = 0;
    while (nucleus < keep && (nucleus == 0 || mass < target))
      mass += weights_[nucleus++];
    keep = nucleus;
    total = mass;
  }
  double u = uniform() * total, acc = 0;
  for (size_t i = 0; i < keep; ++i) {
    acc += weights_[i];
    if (u < acc)
      return candidates_[i];
  }
  return candidates_[keep - 1]; // u rounded up to the total
}

} // namespace llmrt
