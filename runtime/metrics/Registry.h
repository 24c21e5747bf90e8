// The Prometheus metrics registry: families of counters, gauges and histograms, rendered in the
// text exposition format 0.0.4 for GET /metrics.
//
//   metrics::Registry registry;
//   auto &finished = registry.counterFamily("llmrt_requests_finished_total",
//                                           "Requests finished, by reason.", {"reason"});
//   metrics::Counter &stopped = finished.labels({"stop"}); // keep: updates are then one atomic op
//   stopped.inc();
//   std::string text = registry.render();
//
// Registration throws llm::Error on an invalid metric or label name, a name already taken
// (including a histogram's _bucket/_count/_sum lines), or bad histogram buckets. Counter names end
// in "_total" (appended when missing, as prometheus_client does).
//
// NOTE: every method is thread-safe. Families render in registration order; references returned
// by the registry and by Family::labels() stay valid for the registry's lifetime. The output is
// byte-for-byte what prometheus_client's generate_latest() writes for the same registry (with
// _created series disabled), which the render tests check.
#pragma once

#include "metrics/Counter.h"
#include "metrics/Family.h"
#include "metrics/Gauge.h"
#include "metrics/Histogram.h"

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace llmrt::metrics {

class Registry {
public:
  // The Content-Type of render()'s output.
  static constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

  Family<Counter> &counterFamily(std::string name, std::string help,
                                 std::vector<std::string> labelNames);
  Family<Gauge> &gaugeFamily(std::string name, std::string help,
                             std::vector<std::string> labelNames);
  // buckets: strictly increasing upper bounds; +Inf is appended when missing.
  Family<Histogram> &histogramFamily(std::string name, std::string help,
                                     std::vector<std::string> labelNames,
                                     std::vector<double> buckets);

  // Families without labels: their single metric.
  Counter &counter(std::string name, std::string help);
  Gauge &gauge(std::string name, std::string help);
  Histogram &histogram(std::string name, std::string help, std::vector<double> buckets);

  std::string render() const;

private:
  // Checks the names and reserves every sample name the family will write.
  void reserveNames(const std::string &name, const std::vector<std::string> &labelNames,
                    const std::vector<std::string> &sampleNames);

  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<FamilyBase>> families_; // registration order
  std::set<std::string> sampleNames_;
};

} // namespace llmrt::metrics
