// The globals a chat template sees: jinja2's (range, dict, namespace, joiner) as transformers
// restricts them, and transformers' own raise_exception and strftime_now.
#include "chat/Builtins.h"
#include "chat/Interpreter.h"
#include "chat/Operators.h"

#include <memory>

#include <fmt/format.h>

namespace llmrt::chat {
namespace {

constexpr int64_t kMaxRange = 100000;  // jinja2's sandbox refuses larger ranges

Value range(CallArgs &a) {
  if (!a.named.empty()) fault("range() takes no keyword arguments");
  std::vector<int64_t> n;
  for (const Value &v : a.positional) {
    if (!v.isInt() && !v.isBool()) fault(fmt::format("'{}' object cannot be interpreted as an integer", v.typeName()));
    n.push_back(v.asInt());
  }
  if (n.empty() || n.size() > 3) fault(fmt::format("range expected 1 to 3 arguments, got {}", n.size()));
  int64_t start = n.size() == 1 ? 0 : n[0], stop = n.size() == 1 ? n[0] : n[1], step = n.size() == 3 ? n[2] : 1;
  if (step == 0) fault("range() arg 3 must not be zero");
  __int128 count = step > 0 ? (stop > start ? (__int128(stop) - start + step - 1) / step : 0)
                            : (start > stop ? (__int128(start) - stop - step - 1) / -step : 0);
  if (count > kMaxRange)
    fault(fmt::format("Range too big. The sandbox blocks ranges larger than MAX_RANGE ({}).", kMaxRange));
  ValueList out;
  for (int64_t i = 0; i < int64_t(count); ++i) out.push_back(Value::integer(start + i * step));
  return Value::list(std::move(out));
}

// dict(mapping_or_pairs, **kwargs), as Python's dict() builds it.
Dict dictFrom(CallArgs &a) {
  Dict d;
  if (a.positional.size() > 1) fault(fmt::format("dict expected at most 1 argument, got {}", a.positional.size()));
  if (!a.positional.empty()) {
    const Value &src = a.positional[0];
    if (src.isDict() || src.isNamespace()) {
      d = src.asDict();
    } else {
      for (const Value &pair : iterate(src)) {
        ValueList kv = iterate(pair);
        if (kv.size() != 2) fault("dictionary update sequence element has the wrong length; 2 is required");
        d.set(kv[0], kv[1]);
      }
    }
  }
  for (auto &[k, v] : a.named) d.set(Value::string(k), v);
  return d;
}

Value makeNamespace(CallArgs &a) {
  Dict d = dictFrom(a);
  for (const auto &[k, _] : d.entries)
    if (k.isString() && !k.asString().empty() && k.asString()[0] == '_')
      fault(fmt::format("Chat templates cannot store underscore-prefixed attributes on a namespace, but got {}. "
                        "Please rename the attribute.",
                        k.repr()));
  return Value::namespaceOf(std::move(d));
}

Value joiner(CallArgs &a) {
  std::string sep = argument(a, 0, "sep", Value::string(", ")).str();
  auto used = std::make_shared<bool>(false);
  return Value::function("joiner", [sep, used](CallArgs &) {
    if (!*used) {
      *used = true;
      return Value::string("");
    }
    return Value::string(sep);
  });
}

} // namespace

void installGlobals(Scope &globals, std::function<std::tm()> now) {
  auto &g = globals.vars;
  g["range"] = Value::function("range", range);
  g["dict"] = Value::function("dict", [](CallArgs &a) { return Value::dict(dictFrom(a)); });
  g["namespace"] = Value::function("namespace", makeNamespace);
  g["joiner"] = Value::function("joiner", joiner);
  g["raise_exception"] = Value::function("raise_exception", [](CallArgs &a) -> Value {
    throw Fault{argument(a, 0, "message", Value::string("")).str(), true};
  });
  g["strftime_now"] = Value::function("strftime_now", [now](CallArgs &a) -> Value {
    std::string format = argument(a, 0, "format", Value()).str();
    std::tm t = now();
    std::string out(format.size() * 4 + 64, '\0');
    size_t n = format.empty() ? 0 : std::strftime(out.data(), out.size(), format.c_str(), &t);
    if (n == 0 && !format.empty()) fault("strftime_now: the format produced no text or too much text");
    out.resize(n);
    return Value::string(out);
  });
}

} // namespace llmrt::chat
