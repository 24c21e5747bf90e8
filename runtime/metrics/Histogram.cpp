#include "metrics/Histogram.h"

#include "metrics/TextFormat.h"
#include "support/Error.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace llmrt::metrics {

Histogram::Histogram(std::shared_ptr<const std::vector<double>> bounds)
    : bounds_(std::move(bounds)), counts_(new std::atomic<uint64_t>[bounds_->size()]) {
  for (size_t i = 0; i < bounds_->size(); ++i)
    counts_[i].store(0, std::memory_order_relaxed);
}

std::vector<double> Histogram::checkedBounds(std::vector<double> buckets,
                                             const std::string &metricName) {
  for (size_t i = 0; i < buckets.size(); ++i) {
    if (std::isnan(buckets[i]))
      llm::fail("histogram {}: bucket bound {} is NaN; bounds must be numbers", metricName, i);
    if (i > 0 && !(buckets[i - 1] < buckets[i]))
      llm::fail("histogram {}: bucket bounds must be strictly increasing, but bound {} ({}) "
                "follows {}",
                metricName, i, buckets[i], buckets[i - 1]);
  }
  const double inf = std::numeric_limits<double>::infinity();
  if (buckets.empty() || buckets.back() != inf)
    buckets.push_back(inf);
  return buckets;
}

void Histogram::observe(double value) {
  if (std::isnan(value))
    return;
  // The first bound >= value (le semantics); +Inf is last, so there always is one.
  auto it = std::lower_bound(bounds_->begin(), bounds_->end(), value);
  counts_[it - bounds_->begin()].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::bucketCounts() const {
  std::vector<uint64_t> counts(bounds_->size());
  for (size_t i = 0; i < counts.size(); ++i)
    counts[i] = counts_[i].load(std::memory_order_relaxed);
  return counts;
}

uint64_t Histogram::count() const {
  uint64_t total = 0;
  for (size_t i = 0; i < bounds_->size(); ++i)
    total += counts_[i].load(std::memory_order_relaxed);
  return total;
}

void Histogram::appendSamples(SampleWriter &writer) const {
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_->size(); ++i) {
    cumulative += counts_[i].load(std::memory_order_relaxed);
    writer.write("_bucket", static_cast<double>(cumulative), "le", formatValue((*bounds_)[i]));
  }
  writer.write("_count", static_cast<double>(cumulative));
  // As prometheus_client: no _sum when a bound is negative (a sum of signed values is useless).
  if (bounds_->front() >= 0)
    writer.write("_sum", sum());
}

} // namespace llmrt::metrics
