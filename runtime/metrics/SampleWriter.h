// Writes the sample lines of one child of a metric family:
//   name_suffix{label="value",...} 1.5
// Labels appear sorted by name (as prometheus_client writes them), the histogram's "le" among
// them. Used by Family<M>::render and the metric classes' appendSamples().
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace llmrt::metrics {

class SampleWriter {
public:
  // names and values: the child's labels, parallel; order: indices of names sorted by name.
  SampleWriter(std::string &out, std::string_view name, std::span<const std::string> names,
               std::span<const std::string> values, std::span<const size_t> order)
      : out_(out), name_(name), names_(names), values_(values), order_(order) {}

  // One line; extraName/extraValue add one more label (a histogram bucket's "le").
  void write(std::string_view suffix, double value, std::string_view extraName = {},
             std::string_view extraValue = {});

private:
  std::string &out_;
  std::string_view name_;
  std::span<const std::string> names_, values_;
  std::span<const size_t> order_;
};

} // namespace llmrt::metrics
