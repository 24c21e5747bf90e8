#include "sampler/Sampler.h"

#include "support/Error.h"

#include <immintrin.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <numeric>

namespace llmrt {
using llm::fail;

namespace {
constexpr int kMaxLogprobs = 20;

// The index of the first maximum of a row (what a scalar loop keeping the first of equal maxima
// finds), or -1 when the row holds a NaN. Eight lanes at a time: a max and an "unordered" test
// per vector, then a scan for the first lane equal to the maximum. As two scalar passes (the NaN
// check and the argmax) a greedy pick over a 49152-token vocabulary took about 80 us of each
// decode step, while the kernels' other threads waited.
int64_t firstMax(std::span<const float> x) {
  const int64_t n = static_cast<int64_t>(x.size());
  const float *p = x.data();
  __m256 mx[2] = {_mm256_set1_ps(-INFINITY), _mm256_set1_ps(-INFINITY)};
  __m256 nan[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int u = 0; u < 2; ++u) {
      const __m256 v = _mm256_loadu_ps(p + i + 8 * u);
      nan[u] = _mm256_or_ps(nan[u], _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
      mx[u] = _mm256_max_ps(mx[u], v);
    }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, _mm256_max_ps(mx[0], mx[1]));
  bool anyNan = _mm256_movemask_ps(_mm256_or_ps(nan[0], nan[1])) != 0;
  float best = *std::max_element(lanes, lanes + 8);
  for (; i < n; ++i) {
    anyNan |= std::isnan(p[i]);
    best = std::max(best, p[i]);
  }
  if (anyNan)
    return -1;
  const __m256 b = _mm256_set1_ps(best);
  for (i = 0; i + 8 <= n; i += 8)
    if (int m = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(p + i), b, _CMP_EQ_OQ)))
      return i + std::countr_zero(static_cast<unsigned>(m));
  for (; i < n; ++i)
    if (p[i] == best)
      return i;
  return 0; // not reached: the maximum is an element
}
} // namespace

Sampler::Sampler(SamplingParams params) : params_(params), rng_(params.seed) {
  if (!(params.temperature >= 0) || !std::isfinite(params.temperature))
    fail("sampling: temperature is {}, expected a finite value >= 0", params.temperature);
  if (params.topK < 0)
    fail("sampling: top_k is {}, expected >= 0 (0 disables it)", params.topK);
  if (!(params.topP > 0 && params.topP <= 1))
    fail("sampling: top_p is {}, expected a value in (0, 1]", params.topP);
  if (!(params.minP >= 0 && params.minP <= 1))
    fail("sampling: min_p is {}, expected a value in [0, 1]", params.minP);
  if (!(params.presencePenalty >= -2 && params.presencePenalty <= 2))
    fail("sampling: presence_penalty is {}, expected a value in [-2, 2]", params.presencePenalty);
  if (!(params.frequencyPenalty >= -2 && params.frequencyPenalty <= 2))
    fail("sampling: frequency_penalty is {}, expected a value in [-2, 2]", params.frequencyPenalty);
  if (!(params.repetitionPenalty > 0) || !std::isfinite(params.repetitionPenalty))
    fail("sampling: repetition_penalty is {}, expected a finite value > 0",
         params.repetitionPenalty);
  if (params.logprobs < -1 || params.logprobs > kMaxLogprobs)
    fail("sampling: logprobs is {}, expected -1 (none) or 0..{}", params.logprobs, kMaxLogprobs);
}

std::span<const float> Sampler::penalize(std::span<const float> logits,
                                         std::span<const int32_t> prompt,
                                         std::span<const int32_t> output) {
  if (!params_.hasPenalties())
    return logits;
  penalized_.assign(logits.begin(), logits.end());
  const auto inRange = [&](int32_t t) { return t >= 0 && size_t(t) < logits.size(); };
  if (params_.repetitionPenalty != 1) {
    const float p = params_.repetitionPenalty;
    // NOTE: each seen token is penalized once, however often it occurs: mark with counts_.
    counts_.assign(logits.size(), 0);
    for (std::span<const int32_t> part : {prompt, output})
      for (int32_t t : part)
        if (inRange(t) && counts_[t]++ == 0)
          penalized_[t] = penalized_[t] > 0 ? penalized_[t] / p : penalized_[t] * p;
  }
  if (params_.presencePenalty != 0 || params_.frequencyPenalty != 0) {
    counts_.assign(logits.size(), 0);
    for (int32_t t : output)
      if (inRange(t))
        ++counts_[t];
    for (int32_t t : output)
      if (inRange(t) && counts_[t] > 0) {
        penalized_[t] -= params_.frequencyPenalty * float(counts_[t]) + params_.presencePenalty;
        counts_[t] = 0; // once per distinct token
      }
  }
  return penalized_;
}

TokenLogprobs computeLogprobs(std::span<const float> logits, int32_t token, int k) {
  if (logits.empty() || token < 0 || size_t(token) >= logits.size())
    fail("logprobs: token {} outside a row of {} logits", token, logits.size());
  float maxLogit = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float x : logits)
    sum += std::exp(double(x) - maxLogit);
  const double logZ = maxLogit + std::log(sum);
  TokenLogprobs out;
  out.logprob = static_cast<float>(logits[token] - logZ);
  size_t keep = std::min<size_t>(std::max(k, 0), logits.size());
  if (keep > 0) {
    std::vector<int32_t> ids(logits.size());
    std::iota(ids.begin(), ids.end(), 0);
    std::partial_sort(ids.begin(), ids.begin() + keep, ids.end(), [&](int32_t a, int32_t b) {
      return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
    });
    for (size_t i = 0; i < keep; ++i)
      out.top.emplace_back(ids[i], static_cast<float>(logits[ids[i]] - logZ));
  }
  return out;
}

double Sampler::uniform() { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; }

int32_t Sampler::greedy(std::span<const float> logits) const {
  return static_cast<int32_t>(firstMax(logits)); // the first of equal maxima wins
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

int32_t Sampler::sample(std::span<const float> rawLogits, std::span<const int32_t> prompt,
                        std::span<const int32_t> output) {
  if (rawLogits.empty())
    fail("sampling: empty logits row");
  const int64_t rawBest = firstMax(rawLogits);
  if (rawBest < 0)
    fail("sampling: logit {} is NaN",
         std::find_if(rawLogits.begin(), rawLogits.end(), [](float v) { return std::isnan(v); }) -
             rawLogits.begin());
  // NOTE: penalties keep a NaN-free row free of NaN (finite divisors and subtrahends).
  std::span<const float> logits = penalize(rawLogits, prompt, output);
  // The row's first maximum: the raw row's unless penalties changed it.
  const int32_t best = logits.data() == rawLogits.data() ? static_cast<int32_t>(rawBest)
                                                         : greedy(logits);
  if (params_.temperature == 0)
    return best;

  size_t keep = rankCandidates(logits);
  // Softmax weights of the kept candidates, relative to the largest (double: the sums stay exact
  // enough over 100k+ tokens).
  float maxLogit = logits[best];
  if (std::isinf(maxLogit) && maxLogit < 0)
    fail("sampling: every logit is -inf");
  double invT = 1.0 / params_.temperature;
  weights_.resize(keep);
  double total = 0;
  for (size_t i = 0; i < keep; ++i) {
    weights_[i] = std::exp((static_cast<double>(logits[candidates_[i]]) - maxLogit) * invT);
    total += weights_[i];
  }
  if (params_.minP > 0) {
    // Relative to the most likely token, whose weight is 1 (exp(0)). Candidates are sorted when a
    // cut is active, so the kept ones stay a prefix; otherwise drop in place.
    const double threshold = params_.minP;
    size_t kept = 0;
    for (size_t i = 0; i < keep; ++i)
      if (weights_[i] >= threshold) {
        candidates_[kept] = candidates_[i];
        weights_[kept++] = weights_[i];
      }
    keep = kept; // >= 1: the maximum has weight 1 >= min_p
    total = std::accumulate(weights_.begin(), weights_.begin() + keep, 0.0);
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
