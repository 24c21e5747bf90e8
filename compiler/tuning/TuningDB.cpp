#include "tuning/TuningDB.h"

#include "registry/KernelRegistry.h"
#include "support/Error.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace llmc {

namespace reg = llm::registry;
using json = nlohmann::json;

bool TuningDB::TokenRange::overlaps(const TokenRange &o) const {
  bool belowO = max != 0 && max < o.min;
  bool aboveO = o.max != 0 && o.max < min;
  return !belowO && !aboveO;
}

std::string TuningDB::TokenRange::str() const {
  if (max == 0)
    return fmt::format("{}+", min);
  return min == max ? fmt::format("{}", min) : fmt::format("{}-{}", min, max);
}

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

namespace {

TuningDB::Params intObject(const json &o, const std::string &where, const char *field) {
  TuningDB::Params out;
  for (auto &[name, v] : o.items()) {
    if (!v.is_number_integer())
      llm::fail("{}: {} field '{}' must be an integer, got {}", where, field, name, v.dump());
    out[name] = v.get<int64_t>();
  }
  return out;
}

TuningDB::TokenRange tokenRange(const json &t, const std::string &where) {
  auto bad = [&] {
    llm::fail("{}: \"tokens\" must be {{\"min\": N}} or {{\"min\": N, \"max\": M}} with "
              "1 <= N <= M, got {}",
              where, t.dump());
  };
  if (!t.is_object() || !t.contains("min") || !t["min"].is_number_integer())
    bad();
  for (auto &[k, v] : t.items())
    if ((k != "min" && k != "max") || !v.is_number_integer())
      bad();
  TuningDB::TokenRange r{t["min"].get<int64_t>(), t.value("max", int64_t{0})};
  if (r.min < 1 || (t.contains("max") && r.max < r.min))
    bad();
  return r;
}

} // namespace

TuningDB TuningDB::parse(std::string_view text, const std::string &source) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    llm::fail("{}: not a JSON object (expected a tuning database)", source);
  if (j.value("format", "") != "llmc-tuning-db")
    llm::fail("{}: \"format\" must be \"llmc-tuning-db\"", source);
  if (!j.contains("version") || (j["version"] != 1 && j["version"] != 2))
    llm::fail("{}: unsupported version {} (this llmc reads versions 1 and 2)", source,
              j.contains("version") ? j["version"].dump() : "(missing)");
  int version = j["version"].get<int>();
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
    Entry entry;
    entry.target = e["target"];
    entry.kernel = e["kernel"];
    entry.shape = intObject(e["shape"], where, "shape");
    entry.params = intObject(e["params"], where, "params");
    if (e.contains("tokens")) {
      if (version < 2)
        llm::fail("{}: \"tokens\" needs version 2 (the file says version 1)", where);
      entry.tokens = tokenRange(e["tokens"], where);
    }
    if (e.contains("time_us") && e["time_us"].is_number())
      entry.timeUs = e["time_us"].get<double>();
    if (e.contains("default_time_us") && e["default_time_us"].is_number())
      entry.defaultTimeUs = e["default_time_us"].get<double>();
    if (e.contains("note") && e["note"].is_string())
      entry.note = e["note"];
    db.add(std::move(entry), where);
  }
  return db;
}

void TuningDB::add(Entry e, const std::string &where) {
  const reg::TargetInfo *t = reg::findTarget(e.target);
  if (!t)
    llm::fail("{}: unknown target '{}' (known: {})", where, e.target, reg::targetNames());
  const reg::KernelSpec *spec = reg::findKernel(e.kernel);
  if (!spec)
    llm::fail("{}: unknown kernel '{}'", where, e.kernel);
  for (const auto &[name, v] : e.shape)
    if (std::find(spec->shapeKey.begin(), spec->shapeKey.end(), name) == spec->shapeKey.end())
      llm::fail("{}: shape field '{}' is not an integer shape parameter of '{}'", where, name,
                e.kernel);
  if (e.shape.size() != spec->shapeKey.size())
    llm::fail("{}: the shape must give every one of '{}''s shape parameters", where, e.kernel);
  for (const auto &[name, v] : e.params) {
    const reg::TunableSpec *tunable = reg::findTunable(*spec, t->family, name);
    if (!tunable)
      llm::fail("{}: '{}' is not a tunable of '{}' on {}", where, name, e.kernel, e.target);
    if (std::find(tunable->choices.begin(), tunable->choices.end(), v) == tunable->choices.end())
      llm::fail("{}: '{}' = {} is not one of its registered choices", where, name, v);
  }
  std::string key = shapeKey(e.kernel, e.shape);
  for (Entry &old : entries_) {
    if (old.target != e.target || old.kernel != e.kernel || shapeKey(old.kernel, old.shape) != key)
      continue;
    if (old.tokens == e.tokens) {
      old = std::move(e);
      return;
    }
    if (old.tokens && e.tokens && old.tokens->overlaps(*e.tokens))
      llm::fail("{}: tokens {} overlap the bucket {} of another entry for {} '{}' {}", where,
                e.tokens->str(), old.tokens->str(), e.target, e.kernel, key);
  }
  entries_.push_back(std::move(e));
}

const TuningDB::Entry *TuningDB::find(std::string_view target, std::string_view kernel,
                                      const std::string &key,
                                      const std::optional<TokenRange> &tokens) const {
  for (const Entry &e : entries_)
    if (e.target == target && e.kernel == kernel && e.tokens == tokens &&
        shapeKey(e.kernel, e.shape) == key)
      return &e;
  return nullptr;
}

const TuningDB::Params *TuningDB::lookup(std::string_view target, std::string_view kernel,
                                         const std::string &key) const {
  const Entry *e = find(target, kernel, key, std::nullopt);
  return e ? &e->params : nullptr;
}

std::vector<const TuningDB::Entry *> TuningDB::buckets(std::string_view target,
                                                       std::string_view kernel,
                                                       const std::string &key) const {
  std::vector<const Entry *> out;
  for (const Entry &e : entries_)
    if (e.tokens && e.target == target && e.kernel == kernel && shapeKey(e.kernel, e.shape) == key)
      out.push_back(&e);
  std::sort(out.begin(), out.end(),
            [](const Entry *a, const Entry *b) { return a->tokens->min < b->tokens->min; });
  return out;
}

std::string TuningDB::toJson() const {
  std::string out = fmt::format("{{\"format\": \"llmc-tuning-db\", \"version\": {}, \"entries\": [",
                                kVersion);
  for (size_t i = 0; i < entries_.size(); ++i) {
    const Entry &e = entries_[i];
    // ordered_json keeps the fields in the documented order.
    nlohmann::ordered_json o;
    o["target"] = e.target;
    o["kernel"] = e.kernel;
    o["shape"] = e.shape;
    if (e.tokens) {
      o["tokens"]["min"] = e.tokens->min;
      if (e.tokens->max)
        o["tokens"]["max"] = e.tokens->max;
    }
    o["params"] = e.params;
    if (e.timeUs > 0)
      o["time_us"] = std::round(e.timeUs * 100) / 100;
    if (e.defaultTimeUs > 0)
      o["default_time_us"] = std::round(e.defaultTimeUs * 100) / 100;
    if (!e.note.empty())
      o["note"] = e.note;
    out += (i ? ",\n  " : "\n  ") + o.dump();
  }
  return out + "\n]}\n";
}

void TuningDB::save(const std::string &path) const {
  namespace fs = std::filesystem;
  fs::path target(path);
  fs::path tmp = target;
  tmp += fmt::format(".tmp.{}", getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out)
      llm::fail("cannot write the tuning database '{}' (temporary file '{}')", path, tmp.string());
    out << toJson();
    out.flush();
    if (!out)
      llm::fail("cannot write the tuning database '{}': write to '{}' failed", path, tmp.string());
  }
  std::error_code ec;
  fs::rename(tmp, target, ec);
  if (ec) {
    fs::remove(tmp, ec);
    llm::fail("cannot write the tuning database '{}': rename failed", path);
  }
}

} // namespace llmc
