#include "metrics/Family.h"

#include "metrics/TextFormat.h"
#include "support/Error.h"

#include <algorithm>
#include <numeric>

namespace llmrt::metrics {

FamilyBase::FamilyBase(std::string name, std::string help, std::string type,
                       std::vector<std::string> labelNames)
    : name_(std::move(name)), help_(std::move(help)), type_(std::move(type)),
      labelNames_(std::move(labelNames)), labelOrder_(labelNames_.size()) {
  std::iota(labelOrder_.begin(), labelOrder_.end(), size_t{0});
  std::sort(labelOrder_.begin(), labelOrder_.end(),
            [&](size_t a, size_t b) { return labelNames_[a] < labelNames_[b]; });
}

void FamilyBase::checkLabelCount(size_t count) const {
  if (count != labelNames_.size())
    llm::fail("metric {}: {} label value(s) given, but the family has {} label(s)", name_, count,
              labelNames_.size());
}

void FamilyBase::render(std::string &out) const {
  out += "# HELP ";
  out += name_;
  out += ' ';
  appendEscapedHelp(out, help_);
  out += "\n# TYPE ";
  out += name_;
  out += ' ';
  out += type_;
  out += '\n';
  renderChildren(out);
}

} // namespace llmrt::metrics
