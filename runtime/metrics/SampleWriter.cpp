#include "metrics/SampleWriter.h"

#include "metrics/TextFormat.h"

namespace llmrt::metrics {

void SampleWriter::write(std::string_view suffix, double value, std::string_view extraName,
                         std::string_view extraValue) {
  out_ += name_;
  out_ += suffix;
  bool any = !order_.empty() || !extraName.empty();
  if (any) {
    out_ += '{';
    bool first = true;
    auto label = [&](std::string_view name, std::string_view v) {
      if (!first)
        out_ += ',';
      first = false;
      out_ += name;
      out_ += "=\"";
      appendEscapedLabelValue(out_, v);
      out_ += '"';
    };
    bool extraDone = extraName.empty();
    for (size_t i : order_) {
      if (!extraDone && extraName < names_[i]) {
        label(extraName, extraValue);
        extraDone = true;
      }
      label(names_[i], values_[i]);
    }
    if (!extraDone)
      label(extraName, extraValue);
    out_ += '}';
  }
  out_ += ' ';
  out_ += formatValue(value);
  out_ += '\n';
}

} // namespace llmrt::metrics
