// A Prometheus counter: a value that only goes up (requests served, tokens generated).
//
// NOTE: inc() is one relaxed atomic add (a compare-exchange loop on a double): cheap enough for the
// engine's per-step updates from any thread; integer increments sum exactly up to 2^53.
#pragma once

#include "metrics/SampleWriter.h"

#include <atomic>
#include <cassert>

namespace llmrt::metrics {

class Counter {
public:
  static constexpr const char *kType = "counter";

  void inc(double amount = 1.0) {
    assert(amount >= 0 && "a counter only goes up");
    value_.fetch_add(amount, std::memory_order_relaxed);
  }
  double value() const { return value_.load(std::memory_order_relaxed); }

  void appendSamples(SampleWriter &writer) const { writer.write("", value()); }

private:
  std::atomic<double> value_{0.0};
};

} // namespace llmrt::metrics
