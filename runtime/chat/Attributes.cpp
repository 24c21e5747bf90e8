// Attribute and item access, and the methods of str, dict and list that templates call
// (message.content.split('</think>'), tool.get('name'), messages[1:], ...).
#include "chat/Builtins.h"
#include "chat/Operators.h"
#include "chat/PyString.h"

#include <algorithm>
#include <optional>

#include <fmt/format.h>

namespace llmrt::chat {

Value argument(const CallArgs &args, size_t index, std::string_view name, const Value &dflt) {
  if (index < args.positional.size()) return args.positional[index];
  if (const Value *v = args.namedArg(name)) return *v;
  return dflt;
}

namespace {

const Value kNone = Value::none();
const Value kUndefined = Value::undefined();

std::string missingAttr(const Value &obj, std::string_view name) {
  if (obj.isNone()) return fmt::format("'None' has no attribute '{}'", name);
  return fmt::format("'{} object' has no attribute '{}'", obj.typeName(), name);
}

[[noreturn]] void unsafe(const Value &obj, std::string_view name) {
  fault(fmt::format("access to attribute '{}' of '{}' object is unsafe.", name, obj.typeName()));
}

std::optional<std::string> optString(const Value &v, std::string_view what) {
  if (v.isNone() || v.isUndefined()) return std::nullopt;
  if (!v.isString()) fault(fmt::format("{} must be None or str, not {}", what, v.typeName()));
  return v.asString();
}

int64_t intArg(const Value &v, int64_t dflt) {
  if (v.isUndefined() || v.isNone()) return dflt;
  if (!v.isInt() && !v.isBool()) fault(fmt::format("'{}' object cannot be interpreted as an integer", v.typeName()));
  return v.asInt();
}

const std::string &strArg(const Value &v, std::string_view method) {
  if (!v.isString()) fault(fmt::format("{}() argument must be str, not {}", method, v.typeName()));
  return v.asString();
}

Value stringList(std::vector<std::string> parts) {
  ValueList items;
  items.reserve(parts.size());
  for (auto &p : parts) items.push_back(Value::string(std::move(p)));
  return Value::list(std::move(items));
}

bool affix(const std::string &s, const Value &arg, bool prefix, std::string_view method) {
  auto one = [&](const Value &a) {
    const std::string &x = strArg(a, method);
    if (x.size() > s.size()) return false;
    return prefix ? s.compare(0, x.size(), x) == 0 : s.compare(s.size() - x.size(), x.size(), x) == 0;
  };
  if (arg.isList() && arg.isTuple()) return std::any_of(arg.asList().begin(), arg.asList().end(), one);
  if (!arg.isString())
    fault(fmt::format("{} first arg must be str or a tuple of str, not {}", method, arg.typeName()));
  return one(arg);
}

template <typename Pred>
bool allChars(const std::string &s, Pred pred) {
  if (s.empty()) return false;
  auto cps = pystr::decode(s);
  return std::all_of(cps.begin(), cps.end(), pred);
}

using Method = Value (*)(const Value &self, CallArgs &args);

Value strMethod(const std::string &name, const Value &self, CallArgs &a) {
  const std::string &s = self.asString();
  auto arg = [&](size_t i, std::string_view n) { return argument(a, i, n, kUndefined); };
  if (name == "strip" || name == "lstrip" || name == "rstrip")
    return Value::string(pystr::strip(s, optString(arg(0, "chars"), name), name != "rstrip", name != "lstrip"));
  if (name == "split" || name == "rsplit") {
    auto sep = optString(arg(0, "sep"), "sep");
    if (sep && sep->empty()) fault("empty separator");
    int64_t maxsplit = intArg(arg(1, "maxsplit"), -1);
    return stringList(name == "split" ? pystr::split(s, sep, maxsplit) : pystr::rsplit(s, sep, maxsplit));
  }
  if (name == "splitlines") return stringList(pystr::splitlines(s, arg(0, "keepends").truthy()));
  if (name == "startswith" || name == "endswith") return Value::boolean(affix(s, arg(0, "prefix"), name == "startswith", name));
  if (name == "upper") return Value::string(pystr::upper(s));
  if (name == "lower") return Value::string(pystr::lower(s));
  if (name == "title") return Value::string(pystr::title(s));
  if (name == "capitalize") return Value::string(pystr::capitalize(s));
  if (name == "replace")
    return Value::string(pystr::replace(s, strArg(arg(0, "old"), name), strArg(arg(1, "new"), name), intArg(arg(2, "count"), -1)));
  if (name == "find" || name == "index" || name == "rfind" || name == "rindex") {
    const std::string &sub = strArg(arg(0, "sub"), name);
    int64_t i = name[0] == 'r' ? pystr::rfind(s, sub) : pystr::find(s, sub);
    if (i < 0 && (name == "index" || name == "rindex")) fault("substring not found");
    return Value::integer(i);
  }
  if (name == "count") return Value::integer(pystr::count(s, strArg(arg(0, "sub"), name)));
  if (name == "format") return Value::string(strFormat(s, a));
  if (name == "join") {
    std::string out;
    bool first = true;
    for (const Value &v : iterate(arg(0, "iterable"))) {
      if (!v.isString()) fault(fmt::format("sequence item: expected str instance, {} found", v.typeName()));
      if (!first) out += s;
      first = false;
      out += v.asString();
    }
    return Value::string(std::move(out));
  }
  if (name == "removeprefix" || name == "removesuffix") {
    const std::string &x = strArg(arg(0, "prefix"), name);
    bool pre = name == "removeprefix";
    if (!affix(s, Value::string(x), pre, name)) return self;
    return Value::string(pre ? s.substr(x.size()) : s.substr(0, s.size() - x.size()));
  }
  if (name == "isdigit") return Value::boolean(allChars(s, [](uint32_t c) { return c >= '0' && c <= '9'; }));
  if (name == "isalpha")
    return Value::boolean(allChars(s, [](uint32_t c) { return (c | 32) >= 'a' && (c | 32) <= 'z'; }));
  if (name == "isalnum")
    return Value::boolean(allChars(s, [](uint32_t c) { return ((c | 32) >= 'a' && (c | 32) <= 'z') || (c >= '0' && c <= '9'); }));
  if (name == "isspace") return Value::boolean(allChars(s, pystr::isSpace));
  if (name == "islower" || name == "isupper") {
    bool lowerTest = name == "islower";
    bool cased = false;
    for (char c : s) {
      if (c >= 'a' && c <= 'z') {
        if (!lowerTest) return Value::boolean(false);
        cased = true;
      } else if (c >= 'A' && c <= 'Z') {
        if (lowerTest) return Value::boolean(false);
        cased = true;
      }
    }
    return Value::boolean(cased);
  }
  fault("unreachable string method");
}

bool isStrMethod(const std::string &n) {
  static const char *names[] = {"strip", "lstrip", "rstrip", "split", "rsplit", "splitlines", "startswith",
                                "endswith", "upper", "lower", "title", "capitalize", "replace", "find", "rfind",
                                "index", "rindex", "count", "format", "join", "removeprefix", "removesuffix",
                                "isdigit", "isalpha", "isalnum", "isspace", "islower", "isupper"};
  return std::find(std::begin(names), std::end(names), n) != std::end(names);
}

Value dictMethod(const std::string &name, const Value &self, CallArgs &a) {
  const Dict &d = self.asDict();
  if (name == "get") {
    const Value *v = d.find(argument(a, 0, "key", kUndefined));
    return v ? *v : argument(a, 1, "default", kNone);
  }
  if (name == "items") {
    ValueList items;
    for (const auto &[k, v] : d.entries) items.push_back(Value::list({k, v}, true));
    return Value::list(std::move(items));
  }
  ValueList items;
  for (const auto &[k, v] : d.entries) items.push_back(name == "keys" ? k : v);
  if (name == "copy") return self;
  return Value::list(std::move(items));
}

Value listMethod(const std::string &name, const Value &self, CallArgs &a) {
  const ValueList &items = self.asList();
  if (name == "copy") return self;
  Value x = argument(a, 0, "value", kUndefined);
  if (name == "count") return Value::integer(std::count_if(items.begin(), items.end(), [&](const Value &v) { return equals(v, x); }));
  for (size_t i = 0; i < items.size(); ++i)
    if (equals(items[i], x)) return Value::integer(int64_t(i));
  fault(fmt::format("{} is not in list", x.repr()));
}

Value bind(const Value &self, const std::string &name, Value (*method)(const std::string &, const Value &, CallArgs &)) {
  return Value::function(self.typeName() + "." + name, [self, name, method](CallArgs &args) { return method(name, self, args); });
}

// The attribute named `name` that Python objects of this kind have, if any (a bound method).
std::optional<Value> pythonAttribute(const Value &obj, const std::string &name) {
  static const char *dictUnsafe[] = {"pop", "popitem", "setdefault", "update", "clear", "fromkeys"};
  static const char *listUnsafe[] = {"append", "extend", "insert", "pop", "remove", "reverse", "sort", "clear"};
  if (obj.isString() && isStrMethod(name)) return bind(obj, name, strMethod);
  if (obj.isDict()) {
    if (name == "get" || name == "items" || name == "keys" || name == "values" || name == "copy")
      return bind(obj, name, dictMethod);
    if (std::find(std::begin(dictUnsafe), std::end(dictUnsafe), name) != std::end(dictUnsafe)) unsafe(obj, name);
  }
  if (obj.isList()) {
    if (name == "index" || name == "count" || (name == "copy" && !obj.isTuple())) return bind(obj, name, listMethod);
    if (!obj.isTuple() && std::find(std::begin(listUnsafe), std::end(listUnsafe), name) != std::end(listUnsafe))
      unsafe(obj, name);
  }
  if (!name.empty() && name[0] == '_') unsafe(obj, name);  // dunders and private attributes
  return std::nullopt;
}

} // namespace

Value getAttr(const Value &obj, const std::string &name) {
  if (obj.isUndefined()) fault(undefinedMessage(obj));
  if (auto attr = pythonAttribute(obj, name)) return *attr;
  if (obj.isDict() || obj.isNamespace()) {
    if (const Value *v = obj.asDict().find(name)) return *v;
  }
  return Value::undefined(missingAttr(obj, name));
}

Value getItem(const Value &obj, const Value &key) {
  if (obj.isUndefined()) fault(undefinedMessage(obj));
  if (obj.isDict()) {
    if (const Value *v = obj.asDict().find(key)) return *v;
  } else if ((obj.isList() || obj.isString()) && (key.isInt() || key.isBool())) {
    return subscript(obj, key.asInt());
  }
  if (key.isString()) {
    if (obj.isNamespace()) {
      if (const Value *v = obj.asDict().find(key.asString())) return *v;
    }
    if (auto attr = pythonAttribute(obj, key.asString())) return *attr;
    return Value::undefined(missingAttr(obj, key.asString()));
  }
  if (obj.isDict()) return Value::undefined(fmt::format("'dict object' has no attribute {}", key.repr()));
  return Value::undefined(fmt::format("'{} object' has no element {}", obj.typeName(), key.repr()));
}

} // namespace llmrt::chat
