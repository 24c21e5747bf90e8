// A Prometheus gauge: a value that goes up and down (running requests, KV cache usage).
// Every update is one relaxed atomic operation, safe from any thread.
#pragma once

#include "metrics/SampleWriter.h"

#include <atomic>

namespace llmrt::metrics {

class Gauge {
public:
  static constexpr const char *kType = "gauge";

  void set(double value) { value_.store(value, std::memory_order_relaxed); }
  void inc(double amount = 1.0) { value_.fetch_add(amount, std::memory_order_relaxed); }
  void dec(double amount = 1.0) { value_.fetch_sub(amount, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

  void appendSamples(SampleWriter &writer) const { writer.write("", value()); }

private:
  std::atomic<double> value_{0.0};
};

} // namespace llmrt::metrics
