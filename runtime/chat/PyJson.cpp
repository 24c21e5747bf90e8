#include "chat/PyJson.h"

#include "chat/PyString.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace llmrt::chat {
namespace {

Value fromJsonAt(const nlohmann::ordered_json &j, int depth) {
  if (depth > kMaxDataDepth) fault(fmt::format("the input data nests deeper than {} levels", kMaxDataDepth));
  using T = nlohmann::ordered_json::value_t;
  switch (j.type()) {
  case T::null: return Value::none();
  case T::boolean: return Value::boolean(j.get<bool>());
  case T::number_integer: return Value::integer(j.get<int64_t>());
  case T::number_unsigned: {
    uint64_t u = j.get<uint64_t>();
    return u <= uint64_t(INT64_MAX) ? Value::integer(int64_t(u)) : Value::number(double(u));
  }
  case T::number_float: return Value::number(j.get<double>());
  case T::string: return Value::string(j.get<std::string>());
  case T::array: {
    ValueList items;
    items.reserve(j.size());
    for (const auto &e : j) items.push_back(fromJsonAt(e, depth + 1));
    return Value::list(std::move(items));
  }
  case T::object: {
    Dict d;
    d.entries.reserve(j.size());
    for (const auto &[k, v] : j.items()) d.entries.emplace_back(Value::string(k), fromJsonAt(v, depth + 1));
    return Value::dict(std::move(d));
  }
  default: fault("binary values are not supported in chat template data");
  }
}

void appendEscaped(std::string &out, std::string_view s, bool ensureAscii) {
  out += '"';
  for (uint32_t cp : pystr::decode(s)) {
    switch (cp) {
    case '"': out += "\\\""; continue;
    case '\\': out += "\\\\"; continue;
    case '\n': out += "\\n"; continue;
    case '\r': out += "\\r"; continue;
    case '\t': out += "\\t"; continue;
    case '\b': out += "\\b"; continue;
    case '\f': out += "\\f"; continue;
    default: break;
    }
    if (cp < 0x20 || (ensureAscii && cp > 0x7e)) {
      if (cp > 0xFFFF) {
        uint32_t v = cp - 0x10000;
        out += fmt::format("\\u{:04x}\\u{:04x}", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
      } else {
        out += fmt::format("\\u{:04x}", cp);
      }
    } else {
      pystr::append(out, cp);
    }
  }
  out += '"';
}

std::string floatJson(double f) {
  if (std::isnan(f)) return "NaN";
  if (std::isinf(f)) return f > 0 ? "Infinity" : "-Infinity";
  return pyFloatRepr(f);
}

std::string keyString(const Value &k) {
  switch (k.kind()) {
  case Value::Kind::String: return k.asString();
  case Value::Kind::Int: return std::to_string(k.asInt());
  case Value::Kind::Float: return floatJson(k.asDouble());
  case Value::Kind::Bool: return k.asBool() ? "true" : "false";
  case Value::Kind::None: return "null";
  default: fault(fmt::format("keys must be str, int, float, bool or None, not {}", k.typeName()));
  }
}

class Dumper {
public:
  explicit Dumper(const JsonDumpOptions &o) : o_(o) {
    itemSep_ = o.itemSeparator.value_or(o.indent ? "," : ", ");
    keySep_ = o.keySeparator.value_or(": ");
  }

  void dump(const Value &v, int level) {
    if (level > kMaxDataDepth) fault("the value nests too deeply for tojson");
    switch (v.kind()) {
    case Value::Kind::None: out += "null"; return;
    case Value::Kind::Bool: out += v.asBool() ? "true" : "false"; return;
    case Value::Kind::Int: out += std::to_string(v.asInt()); return;
    case Value::Kind::Float: out += floatJson(v.asDouble()); return;
    case Value::Kind::String: appendEscaped(out, v.asString(), o_.ensureAscii); return;
    case Value::Kind::List:
      if (v.isGenerator()) fault("Object of type generator is not JSON serializable");
      dumpList(v.asList(), level);
      return;
    case Value::Kind::Dict: dumpDict(v.asDict(), level); return;
    default: fault(fmt::format("Object of type {} is not JSON serializable", v.typeName()));
    }
  }

  std::string out;

private:
  const JsonDumpOptions &o_;
  std::string itemSep_, keySep_;

  void newline(int level) {
    if (!o_.indent) return;
    out += '\n';
    for (int i = 0; i < level; ++i) out += *o_.indent;
  }

  void dumpList(const ValueList &items, int level) {
    if (items.empty()) {
      out += "[]";
      return;
    }
    out += '[';
    for (size_t i = 0; i < items.size(); ++i) {
      if (i) out += itemSep_;
      newline(level + 1);
      dump(items[i], level + 1);
    }
    newline(level);
    out += ']';
  }

  void dumpDict(const Dict &d, int level) {
    if (d.entries.empty()) {
      out += "{}";
      return;
    }
    std::vector<std::pair<std::string, const Value *>> entries;
    for (const auto &[k, v] : d.entries) entries.emplace_back(keyString(k), &v);
    if (o_.sortKeys) {
      for (const auto &[k, _] : d.entries)
        if (!k.isString()) fault("sort_keys needs string keys");
      std::stable_sort(entries.begin(), entries.end(), [](auto &a, auto &b) { return a.first < b.first; });
    }
    out += '{';
    for (size_t i = 0; i < entries.size(); ++i) {
      if (i) out += itemSep_;
      newline(level + 1);
      appendEscaped(out, entries[i].first, o_.ensureAscii);
      out += keySep_;
      dump(*entries[i].second, level + 1);
    }
    newline(level);
    out += '}';
  }
};

} // namespace

Value fromJson(const nlohmann::ordered_json &j) { return fromJsonAt(j, 0); }

std::string jsonDumps(const Value &v, const JsonDumpOptions &options) {
  Dumper d(options);
  d.dump(v, 0);
  return std::move(d.out);
}

} // namespace llmrt::chat
