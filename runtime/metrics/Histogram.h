// A Prometheus histogram with fixed buckets (given when its family is created): per bucket a
// count of observations <= its upper bound, their sum, their count. Rendered as cumulative
// name_bucket{le="..."} lines ending with le="+Inf", then name_count and name_sum.
//
// NOTE: observe() finds the bucket by binary search and does two relaxed atomic updates (the
// bucket's count, the sum), so it is cheap and safe from any thread. name_count is the sum of the
// bucket counts read at render time, so a scrape always sees count == the +Inf bucket; the sum may
// be read a moment apart from the counts (as in every Prometheus client).
#pragma once

#include "metrics/SampleWriter.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace llmrt::metrics {

class Histogram {
public:
  static constexpr const char *kType = "histogram";

  // bounds: strictly increasing upper bounds ending with +Inf (checkedBounds() makes them).
  explicit Histogram(std::shared_ptr<const std::vector<double>> bounds);

  // Throws llm::Error unless buckets are strictly increasing and not NaN (metricName names the
  // histogram in the message); appends +Inf when the last bound is not +Inf already.
  static std::vector<double> checkedBounds(std::vector<double> buckets,
                                           const std::string &metricName);

  // A NaN observation is ignored (it would belong to no bucket).
  void observe(double value);

  const std::vector<double> &bounds() const { return *bounds_; }
  std::vector<uint64_t> bucketCounts() const; // per bucket, not cumulative
  uint64_t count() const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }

  void appendSamples(SampleWriter &writer) const;

private:
  std::shared_ptr<const std::vector<double>> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::atomic<double> sum_{0.0};
};

} // namespace llmrt::metrics
