// Helpers shared by the parity tests (test/parity): a fixture's reference logits, their distance
// from ours, and the check that a prefill in chunks gives the one-step prefill's bits.
#pragma once

#include "engine/Executor.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <numeric>
#include <vector>

namespace llmtest {

// start, start + 1, ..., start + n - 1 (positions and logit rows of a step).
inline std::vector<int32_t> iota(size_t n, int32_t start = 0) {
  std::vector<int32_t> v(n);
  std::iota(v.begin(), v.end(), start);
  return v;
}

// The prompt and transformers' logits of every position (a fixture's reference.json).
struct LogitReference {
  std::vector<int32_t> ids;
  std::vector<std::vector<float>> logits;
};

inline LogitReference readLogitReference(const std::filesystem::path &dir) {
  std::ifstream in(dir / "reference.json");
  nlohmann::json j = nlohmann::json::parse(in);
  return {j.at("input_ids").get<std::vector<int32_t>>(),
          j.at("logits").get<std::vector<std::vector<float>>>()};
}

// Largest |got - want| over want's rows (got: rows of V logits), and the largest |want|.
struct LogitDiff {
  double worst = 0, scale = 0;
};
inline LogitDiff compareLogits(const std::vector<float> &got,
                               const std::vector<std::vector<float>> &want, size_t V) {
  LogitDiff d;
  for (size_t t = 0; t < want.size(); ++t)
    for (size_t v = 0; v < V; ++v) {
      d.worst = std::max(d.worst, double(std::fabs(got[t * V + v] - want[t][v])));
      d.scale = std::max(d.scale, double(std::fabs(want[t][v])));
    }
  return d;
}

// After a reset, `ids` prefilled in chunks of the given sizes (the last as far as it goes) give
// the one-step prefill's `logits` bit for bit (the KV cache carries over).
inline void expectChunkedPrefillBitwise(llmrt::Executor &exec, const std::vector<int32_t> &ids,
                                        const std::vector<float> &logits, size_t V,
                                        std::initializer_list<size_t> chunks) {
  exec.reset();
  size_t T = ids.size(), begin = 0;
  for (size_t chunk : chunks) {
    size_t end = std::min(T, begin + chunk);
    if (begin == end)
      break;
    std::vector<int32_t> part(ids.begin() + begin, ids.begin() + end);
    std::vector<float> got = exec.forward(part, iota(end - begin, static_cast<int32_t>(begin)),
                                          iota(end - begin));
    ASSERT_EQ(0, std::memcmp(got.data(), logits.data() + begin * V, got.size() * sizeof(float)))
        << "rows [" << begin << ", " << end << ") differ from the one-step prefill";
    begin = end;
  }
}

} // namespace llmtest
