// The Prometheus registry: render output byte-for-byte against prometheus_client's
// generate_latest() for the same registry (fixtures by tools/fixtures/make_metrics_fixture.py),
// number formatting against prometheus_client's floatToGoString, registration errors, and exact
// sums under concurrent updates.
#include "metrics/Registry.h"
#include "metrics/TextFormat.h"
#include "support/Error.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>
#include <variant>

using namespace llmrt::metrics;

namespace {

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << "cannot open " << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string fixture(const char *name) { return std::string(LLM_METRICS_FIXTURES) + "/" + name; }

double number(const nlohmann::json &v) {
  if (v.is_string())
    return std::strtod(v.get<std::string>().c_str(), nullptr); // "+Inf"
  return v.get<double>();
}

} // namespace

TEST(MetricsRender, MatchesPrometheusClient) {
  auto ops = nlohmann::json::parse(readFile(fixture("registry_ops.json")));
  Registry registry;
  using AnyFamily = std::variant<Family<Counter> *, Family<Gauge> *, Family<Histogram> *>;
  std::map<std::string, AnyFamily> families;
  for (const auto &op : ops) {
    std::string kind = op["op"], name = op["name"];
    auto labels = op["labels"].get<std::vector<std::string>>();
    if (kind == "counter") {
      families[name] = &registry.counterFamily(name, op["help"], labels);
    } else if (kind == "gauge") {
      families[name] = &registry.gaugeFamily(name, op["help"], labels);
    } else if (kind == "histogram") {
      families[name] = &registry.histogramFamily(name, op["help"], labels,
                                                 op["buckets"].get<std::vector<double>>());
    } else {
      double value = number(op["value"]);
      AnyFamily family = families.at(name);
      if (kind == "inc" && std::holds_alternative<Family<Counter> *>(family))
        std::get<Family<Counter> *>(family)->labels(labels).inc(value);
      else if (kind == "inc")
        std::get<Family<Gauge> *>(family)->labels(labels).inc(value);
      else if (kind == "dec")
        std::get<Family<Gauge> *>(family)->labels(labels).dec(value);
      else if (kind == "set")
        std::get<Family<Gauge> *>(family)->labels(labels).set(value);
      else if (kind == "observe")
        std::get<Family<Histogram> *>(family)->labels(labels).observe(value);
      else
        FAIL() << "unknown op " << kind;
    }
  }
  EXPECT_EQ(registry.render(), readFile(fixture("registry.txt")));
}

TEST(MetricsRender, NumbersMatchFloatToGoString) {
  auto pairs = nlohmann::json::parse(readFile(fixture("values.json")));
  ASSERT_GT(pairs.size(), 400u);
  for (const auto &pair : pairs) {
    std::string hex = pair[0];
    double value = std::strtod(hex.c_str(), nullptr);
    if (hex == "nan")
      value = NAN;
    else if (hex == "inf" || hex == "-inf")
      value = hex[0] == '-' ? -INFINITY : INFINITY;
    EXPECT_EQ(formatValue(value), pair[1].get<std::string>()) << "for " << hex;
  }
}

TEST(MetricsRender, EmptyRegistryRendersNothing) { EXPECT_EQ(Registry().render(), ""); }

TEST(MetricsRegistry, RejectsBadNamesAndDuplicates) {
  Registry registry;
  registry.counter("a_total", "A.");
  registry.histogram("h", "H.", {1, 2});
  EXPECT_THROW(registry.counter("a", "the same exposition name a_total"), llm::Error);
  EXPECT_THROW(registry.gauge("h_bucket", "a histogram's line"), llm::Error);
  EXPECT_THROW(registry.gauge("h_sum", "a histogram's line"), llm::Error);
  EXPECT_THROW(registry.gauge("1abc", "starts with a digit"), llm::Error);
  EXPECT_THROW(registry.gauge("a-b", "a dash"), llm::Error);
  EXPECT_THROW(registry.gaugeFamily("g1", "bad label", {"__reserved"}), llm::Error);
  EXPECT_THROW(registry.gaugeFamily("g2", "bad label", {"a.b"}), llm::Error);
  EXPECT_THROW(registry.gaugeFamily("g3", "label twice", {"x", "x"}), llm::Error);
  EXPECT_THROW(registry.histogramFamily("h2", "le label", {"le"}, {1}), llm::Error);
  EXPECT_THROW(registry.histogram("h3", "not increasing", {1, 1}), llm::Error);
  EXPECT_THROW(registry.histogram("h4", "decreasing", {2, 1}), llm::Error);
  EXPECT_THROW(registry.histogram("h5", "nan", {1, NAN}), llm::Error);
  auto &family = registry.counterFamily("c_total", "C.", {"a", "b"});
  EXPECT_THROW(family.labels({"only one"}), llm::Error);
  // Failed registrations reserve nothing.
  EXPECT_NO_THROW(registry.gauge("g1", "now fine"));
}

// Children render in creation order.
TEST(MetricsRegistry, ChildrenAreStableAndShared) {
  Registry registry;
  auto &family = registry.counterFamily("c_total", "C.", {"reason"});
  Counter &stop = family.labels({"stop"});
  family.labels({"length"}).inc();
  EXPECT_EQ(&family.labels({"stop"}), &stop);
  stop.inc(2);
  EXPECT_EQ(family.labels({"stop"}).value(), 2.0);
  EXPECT_EQ(registry.render(), "# HELP c_total C.\n# TYPE c_total counter\n"
                               "c_total{reason=\"stop\"} 2.0\nc_total{reason=\"length\"} 1.0\n");
}

TEST(MetricsConcurrency, IncrementsFromThreadsSumExactly) {
  Registry registry;
  Counter &counter = registry.counter("events_total", "Events.");
  Gauge &gauge = registry.gauge("level", "Level.");
  Histogram &histogram = registry.histogram("latency", "Latency.", {0.5, 1.5, 2.5});
  auto &family = registry.counterFamily("by_thread_total", "Per thread.", {"thread"});
  constexpr int kThreads = 8, kIterations = 100000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      Counter &mine = family.labels({std::to_string(t % 2)});
      for (int i = 0; i < kIterations; ++i) {
        counter.inc();
        mine.inc();
        gauge.inc(2);
        gauge.dec();
        histogram.observe(i % 3); // 0, 1, 2: one per finite bucket
        if (i % 1000 == 0)
          (void)registry.render(); // scrapes while updating
      }
    });
  for (auto &thread : threads)
    thread.join();
  EXPECT_EQ(counter.value(), double(kThreads) * kIterations);
  EXPECT_EQ(gauge.value(), double(kThreads) * kIterations);
  EXPECT_EQ(family.labels({"0"}).value() + family.labels({"1"}).value(),
            double(kThreads) * kIterations);
  EXPECT_EQ(histogram.count(), uint64_t(kThreads) * kIterations);
  auto counts = histogram.bucketCounts();
  ASSERT_EQ(counts.size(), 4u);
  uint64_t perBucket = 0;
  for (int i = 0; i < kIterations; ++i)
    perBucket += (i % 3 == 0);
  EXPECT_EQ(counts[0], perBucket * kThreads);
  EXPECT_EQ(counts[3], 0u);
  // Sum of 0, 1, 2 values: integers, exact in a double.
  double expectedSum = 0;
  for (int i = 0; i < kIterations; ++i)
    expectedSum += i % 3;
  EXPECT_EQ(histogram.sum(), expectedSum * kThreads);
}
