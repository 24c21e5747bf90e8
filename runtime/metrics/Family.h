// A metric family: one name, one help text, one type, a fixed list of label names, and one child
// metric per distinct list of label values (llmrt_requests_finished_total{reason="stop"} and
// {reason="length"} are two children of one family). A family without labels has exactly one
// child, created with the family (so it is exported as 0 before its first update).
//
// NOTE: labels() looks the child up under the family's mutex; the reference it returns stays valid
// for the registry's lifetime, so hot paths look a child up once and keep the reference. Children
// render in creation order, each with its labels sorted by name.
#pragma once

#include "metrics/SampleWriter.h"

#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace llmrt::metrics {

class FamilyBase {
public:
  FamilyBase(std::string name, std::string help, std::string type,
             std::vector<std::string> labelNames);
  virtual ~FamilyBase() = default;
  FamilyBase(const FamilyBase &) = delete;
  FamilyBase &operator=(const FamilyBase &) = delete;

  const std::string &name() const { return name_; } // the exposition name
  const std::vector<std::string> &labelNames() const { return labelNames_; }

  // Appends the HELP and TYPE lines and every child's samples.
  void render(std::string &out) const;

protected:
  virtual void renderChildren(std::string &out) const = 0;
  // Throws llm::Error unless values has one value per label name.
  void checkLabelCount(size_t count) const;

  std::string name_, help_, type_;
  std::vector<std::string> labelNames_;
  std::vector<size_t> labelOrder_; // indices of labelNames_ sorted by name
};

template <class Metric> class Family final : public FamilyBase {
public:
  using Factory = std::function<std::unique_ptr<Metric>()>;

  Family(std::string name, std::string help, std::vector<std::string> labelNames, Factory make)
      : FamilyBase(std::move(name), std::move(help), Metric::kType, std::move(labelNames)),
        make_(std::move(make)) {
    if (labelNames_.empty())
      labels(std::vector<std::string>{});
  }

  // The child with these label values (one per label name, in the family's label order), created
  // at its first use. Throws llm::Error when the number of values is wrong.
  Metric &labels(const std::vector<std::string> &values) {
    checkLabelCount(values.size());
    std::lock_guard lock(mutex_);
    auto it = index_.find(values);
    if (it != index_.end())
      return *it->second;
    children_.push_back({values, make_()});
    index_.emplace(values, children_.back().metric.get());
    return *children_.back().metric;
  }
  Metric &labels(std::initializer_list<std::string_view> values) {
    return labels(std::vector<std::string>(values.begin(), values.end()));
  }

private:
  struct Child {
    std::vector<std::string> values;
    std::unique_ptr<Metric> metric;
  };

  void renderChildren(std::string &out) const override {
    std::lock_guard lock(mutex_);
    for (const Child &child : children_) {
      SampleWriter writer(out, name_, labelNames_, child.values, labelOrder_);
      child.metric->appendSamples(writer);
    }
  }

  Factory make_;
  mutable std::mutex mutex_;
  std::vector<Child> children_; // creation order; metrics never move (unique_ptr)
  std::map<std::vector<std::string>, Metric *> index_;
};

} // namespace llmrt::metrics
