#include "metrics/Registry.h"

#include "metrics/TextFormat.h"
#include "support/Error.h"

#include <algorithm>

namespace llmrt::metrics {

void Registry::reserveNames(const std::string &name, const std::vector<std::string> &labelNames,
                            const std::vector<std::string> &sampleNames) {
  if (!isValidMetricName(name))
    llm::fail("metric name '{}' is invalid: expected [a-zA-Z_:][a-zA-Z0-9_:]*", name);
  for (size_t i = 0; i < labelNames.size(); ++i) {
    if (!isValidLabelName(labelNames[i]))
      llm::fail("metric {}: label name '{}' is invalid: expected [a-zA-Z_][a-zA-Z0-9_]* not "
                "starting with '__'",
                name, labelNames[i]);
    if (std::find(labelNames.begin(), labelNames.begin() + i, labelNames[i]) !=
        labelNames.begin() + i)
      llm::fail("metric {}: label name '{}' appears twice", name, labelNames[i]);
  }
  for (const std::string &sample : sampleNames)
    if (sampleNames_.count(sample))
      llm::fail("metric {}: the name {} is already registered", name, sample);
  sampleNames_.insert(sampleNames.begin(), sampleNames.end());
}

Family<Counter> &Registry::counterFamily(std::string name, std::string help,
                                         std::vector<std::string> labelNames) {
  if (!name.ends_with("_total"))
    name += "_total";
  std::lock_guard lock(mutex_);
  reserveNames(name, labelNames, {name});
  auto family = std::make_unique<Family<Counter>>(name, std::move(help), std::move(labelNames),
                                                  [] { return std::make_unique<Counter>(); });
  auto &ref = *family;
  families_.push_back(std::move(family));
  return ref;
}

Family<Gauge> &Registry::gaugeFamily(std::string name, std::string help,
                                     std::vector<std::string> labelNames) {
  std::lock_guard lock(mutex_);
  reserveNames(name, labelNames, {name});
  auto family = std::make_unique<Family<Gauge>>(name, std::move(help), std::move(labelNames),
                                                [] { return std::make_unique<Gauge>(); });
  auto &ref = *family;
  families_.push_back(std::move(family));
  return ref;
}

Family<Histogram> &Registry::histogramFamily(std::string name, std::string help,
                                             std::vector<std::string> labelNames,
                                             std::vector<double> buckets) {
  if (std::find(labelNames.begin(), labelNames.end(), "le") != labelNames.end())
    llm::fail("histogram {}: 'le' is reserved for the bucket bounds and cannot be a label", name);
  auto bounds = std::make_shared<const std::vector<double>>(
      Histogram::checkedBounds(std::move(buckets), name));
  std::lock_guard lock(mutex_);
  reserveNames(name, labelNames, {name, name + "_bucket", name + "_count", name + "_sum"});
  auto family = std::make_unique<Family<Histogram>>(
      name, std::move(help), std::move(labelNames),
      [bounds] { return std::make_unique<Histogram>(bounds); });
  auto &ref = *family;
  families_.push_back(std::move(family));
  return ref;
}

Counter &Registry::counter(std::string name, std::string help) {
  return counterFamily(std::move(name), std::move(help), {}).labels(std::vector<std::string>{});
}

Gauge &Registry::gauge(std::string name, std::string help) {
  return gaugeFamily(std::move(name), std::move(help), {}).labels(std::vector<std::string>{});
}

Histogram &Registry::histogram(std::string name, std::string help, std::vector<double> buckets) {
  return histogramFamily(std::move(name), std::move(help), {}, std::move(buckets))
      .labels(std::vector<std::string>{});
}

std::string Registry::render() const {
  std::string out;
  std::lock_guard lock(mutex_);
  for (const auto &family : families_)
    family->render(out);
  return out;
}

} // namespace llmrt::metrics
