#include "tuning/TuningDB.h"

#include "registry/KernelRegistry.h"
#include "support/Error.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace llmc {

namespace reg = llm::registry;

std::string TuningDB::shapeKey(std::string_view kernel, const Params &shape) {
  std::string key;
  const reg::KernelSpec *spec = reg::findKernel(kernel);
  if (!spec)
    return key;
  for (std::string_view name : spec->shapeKey) {
    auto it = shape.find(std::string(name));
    key += (key.empty() ? "" : ",") + std::string(name) + "=" +
           (it == shape.end() ? std::string("?") : std::to_string(it->second));
  }
  return key;
}

TuningDB TuningDB::load(const std::string &path) {
  std::ifstream in(path);
  if (!in)
    llm::fail("cannot read the tuning database '{}'", path);
  std::stringstream s;
  s << in.rdbuf();
  return parse(s.str(), path);
}

TuningDB TuningDB::parse(std::string_view text, const std::string &source) {
  using json = nlohmann::json;
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    llm::fail("{}: not a JSON object (expected a tuning database)", source);
  if (j.value("format", "") != "llmc-tuning-db")
    llm::fail("{}: \"format\" must be \"llmc-tuning-db\"", source);
  if (!j.contains("version") || j["version"] != 1)
    llm::fail("{}: unsupported version {} (this llmc reads version 1)", source,
              j.contains("version") ? j["version"].dump() : "(missing)");
  if (!j.contains("entries") || !j["entries"].is_array())
    llm::fail("{}: \"entries\" must be a list", source);
  TuningDB db;
  size_t index = 0;
  for (const json &e : j["entries"]) {
    std::string where = fmt::format("{}: entry {}", source, index++);
    if (!e.is_object() || !e.contains("target") || !e["target"].is_string() ||
        !e.contains("kernel") || !e["kernel"].is_string() || !e.contains("shape") ||
        !e["shape"].is_object() || !e.contains("params") || !e["params"].is_object())
      llm::fail("{}: needs \"target\", \"kernel\" (strings), \"shape\" and \"params\" (objects)",
                where);
    std::string target = e["target"], kernel = e["kernel"];
    const reg::TargetInfo *t = reg::findTarget(target);
    if (!t)
      llm::fail("{}: unknown target '{}' (known: {})", where, target, reg::targetNames());
    const reg::KernelSpec *spec = reg::findKernel(kernel);
    if (!spec)
      llm::fail("{}: unknown kernel '{}'", where, kernel);
    Params shape, params;
    for (auto &[name, v] : e["shape"].items()) {
      if (std::find(spec->shapeKey.begin(), spec->shapeKey.end(), name) == spec->shapeKey.end() ||
          !v.is_number_integer())
        llm::fail("{}: shape field '{}' is not an integer shape parameter of '{}'", where, name,
                  kernel);
      shape[name] = v.get<int64_t>();
    }
    if (shape.size() != spec->shapeKey.size())
      llm::fail("{}: the shape must give every one of '{}''s shape parameters", where, kernel);
    for (auto &[name, v] : e["params"].items()) {
      const reg::TunableSpec *tunable = reg::findTunable(*spec, t->family, name);
      if (!tunable)
        llm::fail("{}: '{}' is not a tunable of '{}' on {}", where, name, kernel, target);
      if (!v.is_number_integer() ||
          std::find(tunable->choices.begin(), tunable->choices.end(), v.get<int64_t>()) ==
              tunable->choices.end())
        llm::fail("{}: '{}' = {} is not one of its registered choices", where, name, v.dump());
      params[name] = v.get<int64_t>();
    }
    db.entries_[target + "|" + kernel + "|" + shapeKey(kernel, shape)] = std::move(params);
  }
  return db;
}

const TuningDB::Params *TuningDB::lookup(std::string_view target, std::string_view kernel,
                                         const std::string &key) const {
  auto it = entries_.find(std::string(target) + "|" + std::string(kernel) + "|" + key);
  return it == entries_.end() ? nullptr : &it->second;
}

} // namespace llmc
