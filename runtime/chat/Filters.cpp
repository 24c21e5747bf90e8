// jinja2's builtin filters (and transformers' tojson), with jinja2's defaults: sort, dictsort,
// unique, min and max ignore case unless case_sensitive=True; attribute="a.b.0" walks items.
#include "chat/Builtins.h"
#include "chat/Interpreter.h"
#include "chat/Operators.h"
#include "chat/PyJson.h"
#include "chat/PyString.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string_view>
#include <unordered_map>

#include <fmt/format.h>

namespace llmrt::chat {
namespace {

const Value kUndefined = Value::undefined();
const Value kNone = Value::none();
const Value kFalse = Value::boolean(false);

Value arg(const CallArgs &a, size_t i, std::string_view name, const Value &dflt = kUndefined) {
  return argument(a, i, name, dflt);
}

// jinja2's make_attrgetter: "a.b.0" looks up items (then attributes) one part at a time.
Value attributeOf(const Value &item, const Value &attribute) {
  if (attribute.isInt()) return getItem(item, attribute);
  Value cur = item;
  std::string path = attribute.str();
  size_t b = 0;
  while (true) {
    size_t e = path.find('.', b);
    std::string part = path.substr(b, e == std::string::npos ? std::string::npos : e - b);
    bool digits = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    cur = getItem(cur, digits ? Value::integer(std::stoll(part)) : Value::string(part));
    if (e == std::string::npos) return cur;
    b = e + 1;
  }
}

Value ignoreCase(const Value &v, bool caseSensitive) {
  return !caseSensitive && v.isString() ? Value::string(pystr::lower(v.asString())) : v;
}

Value keyOf(const Value &item, const Value &attribute, bool caseSensitive) {
  Value k = attribute.isUndefined() || attribute.isNone() ? item : attributeOf(item, attribute);
  return ignoreCase(k, caseSensitive);
}

std::string softStr(const Value &v) { return v.str(); }

// ---- strings ----

// str methods of a Markup return Markup (markupsafe), so filters built on them keep the flag.
Value like(const Value &v, std::string s) { return v.isMarkup() ? Value::markup(std::move(s)) : Value::string(std::move(s)); }

Value fTrim(Interpreter &, const Value &v, CallArgs &a) {
  const Value &chars = arg(a, 0, "chars", kNone);
  return like(v, pystr::strip(softStr(v), chars.isString() ? std::optional<std::string>(chars.asString()) : std::nullopt, true, true));
}
Value fUpper(Interpreter &, const Value &v, CallArgs &) { return like(v, pystr::upper(softStr(v))); }
Value fLower(Interpreter &, const Value &v, CallArgs &) { return like(v, pystr::lower(softStr(v))); }
Value fCapitalize(Interpreter &, const Value &v, CallArgs &) { return like(v, pystr::capitalize(softStr(v))); }

Value fTitle(Interpreter &, const Value &v, CallArgs &) {
  // jinja2: split before runs of [-\s({[<], then upper-case the first character of each piece
  // and lower-case the rest.
  std::string out;
  bool start = true;
  for (uint32_t cp : pystr::decode(softStr(v))) {
    std::string one;
    pystr::append(one, cp);
    if (cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<' || pystr::isSpace(cp)) {
      out += one;
      start = true;
    } else {
      out += start ? pystr::upper(one) : pystr::lower(one);
      start = false;
    }
  }
  return like(v, std::move(out));
}

Value fString(Interpreter &, const Value &v, CallArgs &) { return v.isMarkup() ? v : Value::string(softStr(v)); }
Value fSafe(Interpreter &, const Value &v, CallArgs &) { return Value::markup(softStr(v)); }

Value fEscape(Interpreter &, const Value &v, CallArgs &) {
  return v.isMarkup() ? v : Value::markup(pystr::htmlEscape(softStr(v)));
}


Value fReplace(Interpreter &, const Value &v, CallArgs &a) {
  const Value &count = arg(a, 2, "count", kNone);
  return Value::string(pystr::replace(softStr(v), arg(a, 0, "old").str(), arg(a, 1, "new").str(),
                                      count.isNone() ? -1 : count.asInt()));
}

Value fIndent(Interpreter &, const Value &v, CallArgs &a) {
  const Value &width = arg(a, 0, "width", Value::integer(4));
  std::string indention = width.isString() ? width.asString() : std::string(size_t(std::max<int64_t>(0, width.asInt())), ' ');
  bool first = arg(a, 1, "first", kFalse).truthy(), blank = arg(a, 2, "blank", kFalse).truthy();
  std::vector<std::string> lines = pystr::splitlines(softStr(v) + "\n", false);
  std::string rv;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) {
      rv += '\n';
      if (blank || !lines[i].empty()) rv += indention;
    }
    rv += lines[i];
  }
  return Value::string(first ? indention + rv : rv);
}

Value fWordcount(Interpreter &, const Value &v, CallArgs &) {
  int64_t n = 0;
  bool in = false;
  for (char c : softStr(v)) {
    unsigned char u = c;
    bool word = u >= 0x80 || c == '_' || (c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'z');
    if (word && !in) ++n;
    in = word;
  }
  return Value::integer(n);
}

Value fFormat(Interpreter &, const Value &v, CallArgs &a) {
  if (!a.named.empty()) {
    Dict d;
    for (const auto &[k, x] : a.named) d.set(Value::string(k), x);
    return Value::string(percentFormat(softStr(v), Value::dict(std::move(d))));
  }
  return Value::string(percentFormat(softStr(v), Value::list(a.positional, true)));
}

Value fTojson(Interpreter &, const Value &v, CallArgs &a) {
  JsonDumpOptions o;
  o.ensureAscii = arg(a, 0, "ensure_ascii", kFalse).truthy();
  const Value &indent = arg(a, 1, "indent", kNone);
  if (indent.isInt() || indent.isBool()) o.indent = std::string(size_t(std::max<int64_t>(0, indent.asInt())), ' ');
  else if (indent.isString()) o.indent = indent.asString();
  const Value &seps = arg(a, 2, "separators", kNone);
  if (seps.isList()) {
    if (seps.asList().size() != 2) fault("separators must be a pair of strings");
    o.itemSeparator = seps.asList()[0].str();
    o.keySeparator = seps.asList()[1].str();
  }
  o.sortKeys = arg(a, 3, "sort_keys", kFalse).truthy();
  return Value::string(jsonDumps(v, o));
}

// ---- numbers ----

Value fInt(Interpreter &, const Value &v, CallArgs &a) {
  const Value &dflt = arg(a, 0, "default", Value::integer(0));
  int base = int(arg(a, 1, "base", Value::integer(10)).asInt());
  if (v.isInt() || v.isBool()) return Value::integer(v.asInt());
  if (v.isFloat()) {
    if (!std::isfinite(v.asDouble())) return dflt;
    return Value::integer(int64_t(std::trunc(v.asDouble())));
  }
  if (v.isString()) {
    std::string s = pystr::strip(v.asString(), std::nullopt, true, true);
    s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
    if (!s.empty()) {
      char *end = nullptr;
      errno = 0;
      long long i = std::strtoll(s.c_str(), &end, base);
      if (*end == 0 && errno == 0) return Value::integer(i);
      double d = std::strtod(s.c_str(), &end);
      if (*end == 0 && std::isfinite(d)) return Value::integer(int64_t(std::trunc(d)));
    }
  }
  return dflt;
}

Value fFloat(Interpreter &, const Value &v, CallArgs &a) {
  const Value &dflt = arg(a, 0, "default", Value::number(0.0));
  if (v.isNumber()) return Value::number(v.asDouble());
  if (v.isString()) {
    std::string s = pystr::strip(v.asString(), std::nullopt, true, true);
    char *end = nullptr;
    double d = std::strtod(s.c_str(), &end);
    if (!s.empty() && *end == 0) return Value::number(d);
  }
  return dflt;
}

Value fRound(Interpreter &, const Value &v, CallArgs &a) {
  int64_t precision = arg(a, 0, "precision", Value::integer(0)).asInt();
  std::string method = arg(a, 1, "method", Value::string("common")).str();
  if (!v.isNumber()) fault(fmt::format("type {} doesn't define __round__ method", v.typeName()));
  double x = v.asDouble();
  if (method == "floor" || method == "ceil") {
    double scale = std::pow(10.0, double(precision));
    return Value::number((method == "floor" ? std::floor(x * scale) : std::ceil(x * scale)) / scale);
  }
  if (method != "common") fault("method must be common, ceil or floor");
  if (precision == 0 || !std::isfinite(x)) return Value::number(std::nearbyint(x));
  // Python rounds the exact binary value half-to-even, as printf does.
  std::string s = fmt::format("{:.{}f}", x, std::max<int64_t>(0, precision));
  double r = std::strtod(s.c_str(), nullptr);
  if (precision < 0) {
    double scale = std::pow(10.0, double(-precision));
    r = std::nearbyint(x / scale) * scale;
  }
  return Value::number(r);
}

Value fAbs(Interpreter &, const Value &v, CallArgs &) {
  if (v.isFloat()) return Value::number(std::fabs(v.asDouble()));
  if (v.isInt() || v.isBool()) return Value::integer(std::llabs(v.asInt()));
  fault(fmt::format("bad operand type for abs(): '{}'", v.typeName()));
}

// ---- sequences ----

Value fLength(Interpreter &, const Value &v, CallArgs &) {
  switch (v.kind()) {
  case Value::Kind::Undefined: return Value::integer(0);
  case Value::Kind::String: return Value::integer(int64_t(pystr::length(v.asString())));
  case Value::Kind::List:
    if (v.isGenerator()) fault("object of type 'generator' has no len()");
    return Value::integer(int64_t(v.asList().size()));
  case Value::Kind::Dict: return Value::integer(int64_t(v.asDict().entries.size()));
  default: fault(fmt::format("object of type '{}' has no len()", v.typeName()));
  }
}

Value fList(Interpreter &, const Value &v, CallArgs &) { return Value::list(iterate(v)); }

Value fFirst(Interpreter &, const Value &v, CallArgs &) {
  ValueList items = iterate(v);
  return items.empty() ? Value::undefined("No first item, sequence was empty.") : items.front();
}

Value fLast(Interpreter &, const Value &v, CallArgs &) {
  if (v.isDict() || v.isGenerator()) fault(fmt::format("'{}' object is not reversible", v.typeName()));
  ValueList items = iterate(v);
  return items.empty() ? Value::undefined("No last item, sequence was empty.") : items.back();
}

Value fReverse(Interpreter &, const Value &v, CallArgs &) {
  if (v.isString()) return sliceOf(v, kNone, kNone, Value::integer(-1));
  ValueList items = iterate(v);
  std::reverse(items.begin(), items.end());
  return Value::generator(std::move(items));  // reversed(): an iterator
}

Value fItems(Interpreter &, const Value &v, CallArgs &) {
  if (v.isUndefined()) return Value::list({});
  if (!v.isDict()) fault("Can only get item pairs from a mapping.");
  ValueList items;
  for (const auto &[k, x] : v.asDict().entries) items.push_back(Value::list({k, x}, true));
  return Value::generator(std::move(items));
}

Value fJoin(Interpreter &, const Value &v, CallArgs &a) {
  std::string sep = arg(a, 0, "d", Value::string("")).str();
  const Value &attribute = arg(a, 1, "attribute", kNone);
  std::string out;
  bool first = true;
  for (const Value &item : iterate(v)) {
    if (!first) out += sep;
    first = false;
    out += (attribute.isNone() ? item : attributeOf(item, attribute)).str();
  }
  return Value::string(std::move(out));
}

Value fDefault(Interpreter &, const Value &v, CallArgs &a) {
  const Value &dflt = arg(a, 0, "default_value", Value::string(""));
  bool boolean = arg(a, 1, "boolean", kFalse).truthy();
  if (v.isUndefined() || (boolean && !v.truthy())) return dflt;
  return v;
}

void sortValues(ValueList &items, const std::function<Value(const Value &)> &key, bool reverse) {
  std::vector<std::pair<Value, Value>> keyed;
  for (Value &item : items) keyed.emplace_back(key(item), std::move(item));
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto &x, const auto &y) {
    return reverse ? compare(y.first, x.first) < 0 : compare(x.first, y.first) < 0;
  });
  items.clear();
  for (auto &[k, item] : keyed) items.push_back(std::move(item));
}

Value fSort(Interpreter &, const Value &v, CallArgs &a) {
  bool reverse = arg(a, 0, "reverse", kFalse).truthy();
  bool caseSensitive = arg(a, 1, "case_sensitive", kFalse).truthy();
  const Value &attribute = arg(a, 2, "attribute", kNone);
  ValueList items = iterate(v);
  sortValues(items, [&](const Value &x) { return keyOf(x, attribute, caseSensitive); }, reverse);
  return Value::list(std::move(items));
}

Value fDictsort(Interpreter &, const Value &v, CallArgs &a) {
  bool caseSensitive = arg(a, 0, "case_sensitive", kFalse).truthy();
  std::string by = arg(a, 1, "by", Value::string("key")).str();
  bool reverse = arg(a, 2, "reverse", kFalse).truthy();
  if (!v.isDict()) fault("dictsort needs a mapping");
  ValueList items;
  for (const auto &[k, x] : v.asDict().entries) items.push_back(Value::list({k, x}, true));
  size_t pos = by == "value" ? 1 : 0;
  if (by != "key" && by != "value") fault("You can only sort by either \"key\" or \"value\"");
  sortValues(items, [&](const Value &x) { return ignoreCase(x.asList()[pos], caseSensitive); }, reverse);
  return Value::list(std::move(items));
}

Value fUnique(Interpreter &, const Value &v, CallArgs &a) {
  bool caseSensitive = arg(a, 0, "case_sensitive", kFalse).truthy();
  const Value &attribute = arg(a, 1, "attribute", kNone);
  ValueList out, seen;
  for (const Value &item : iterate(v)) {
    Value k = keyOf(item, attribute, caseSensitive);
    if (std::none_of(seen.begin(), seen.end(), [&](const Value &s) { return equals(s, k); })) {
      seen.push_back(k);
      out.push_back(item);
    }
  }
  return Value::generator(std::move(out));
}

Value extreme(const Value &v, CallArgs &a, bool wantMax) {
  bool caseSensitive = arg(a, 0, "case_sensitive", kFalse).truthy();
  const Value &attribute = arg(a, 1, "attribute", kNone);
  ValueList items = iterate(v);
  if (items.empty()) return Value::undefined(wantMax ? "No aggregated item, sequence was empty." : "No aggregated item, sequence was empty.");
  size_t best = 0;
  Value bestKey = keyOf(items[0], attribute, caseSensitive);
  for (size_t i = 1; i < items.size(); ++i) {
    Value k = keyOf(items[i], attribute, caseSensitive);
    int c = compare(k, bestKey);
    if (wantMax ? c > 0 : c < 0) {
      best = i;
      bestKey = k;
    }
  }
  return items[best];
}
Value fMin(Interpreter &, const Value &v, CallArgs &a) { return extreme(v, a, false); }
Value fMax(Interpreter &, const Value &v, CallArgs &a) { return extreme(v, a, true); }

Value fSum(Interpreter &, const Value &v, CallArgs &a) {
  const Value &attribute = arg(a, 0, "attribute", kNone);
  Value total = arg(a, 1, "start", Value::integer(0));
  for (const Value &item : iterate(v))
    total = binaryOp("+", total, attribute.isNone() ? item : attributeOf(item, attribute), size_t(-1));
  return total;
}

Value fBatch(Interpreter &, const Value &v, CallArgs &a) {
  int64_t n = arg(a, 0, "linecount").asInt();
  const Value &fill = arg(a, 1, "fill_with", kNone);
  if (n <= 0) fault("batch size must be positive");
  ValueList out, cur;
  for (const Value &item : iterate(v)) {
    cur.push_back(item);
    if (int64_t(cur.size()) == n) {
      out.push_back(Value::list(std::move(cur)));
      cur.clear();
    }
  }
  if (!cur.empty()) {
    if (!fill.isNone())
      while (int64_t(cur.size()) < n) cur.push_back(fill);
    out.push_back(Value::list(std::move(cur)));
  }
  return Value::generator(std::move(out));
}

Value fAttr(Interpreter &, const Value &v, CallArgs &a) { return getAttr(v, arg(a, 0, "name").str()); }

// map(attribute=...) or map('filter', args...)
Value fMap(Interpreter &in, const Value &v, CallArgs &a) {
  ValueList out;
  if (!v.truthy()) return Value::generator({});  // jinja2 maps nothing over a falsy value (None, '')
  if (const Value *attribute = a.namedArg("attribute")) {
    const Value *dflt = a.namedArg("default");
    for (const Value &item : iterate(v)) {
      Value x = attributeOf(item, *attribute);
      out.push_back(x.isUndefined() && dflt ? *dflt : x);
    }
    return Value::generator(std::move(out));
  }
  if (a.positional.empty()) fault("map requires a filter argument");
  std::string name = a.positional[0].str();
  CallArgs rest;
  rest.positional.assign(a.positional.begin() + 1, a.positional.end());
  rest.named = a.named;
  for (const Value &item : iterate(v)) {
    CallArgs copy = rest;
    out.push_back(in.applyFilter(name, item, copy));
  }
  return Value::generator(std::move(out));
}

// select/reject(test, args...) and selectattr/rejectattr(attribute, test, args...)
Value selectImpl(Interpreter &in, const Value &v, CallArgs &a, bool byAttr, bool keepIfTrue) {
  if (!v.truthy()) return Value::generator({});  // jinja2 selects nothing from a falsy value (None, '')
  size_t testAt = byAttr ? 1 : 0;
  Value attribute = byAttr ? arg(a, 0, "attribute") : Value();
  bool hasTest = a.positional.size() > testAt;
  std::string test = hasTest ? a.positional[testAt].str() : "";
  CallArgs rest;
  if (hasTest) rest.positional.assign(a.positional.begin() + testAt + 1, a.positional.end());
  rest.named = a.named;
  ValueList out;
  for (const Value &item : iterate(v)) {
    Value x = byAttr ? attributeOf(item, attribute) : item;
    bool r;
    if (hasTest) {
      CallArgs copy = rest;
      r = in.applyTest(test, x, copy);
    } else {
      r = x.truthy();
    }
    if (r == keepIfTrue) out.push_back(item);
  }
  return Value::generator(std::move(out));
}
Value fSelect(Interpreter &in, const Value &v, CallArgs &a) { return selectImpl(in, v, a, false, true); }
Value fReject(Interpreter &in, const Value &v, CallArgs &a) { return selectImpl(in, v, a, false, false); }
Value fSelectattr(Interpreter &in, const Value &v, CallArgs &a) { return selectImpl(in, v, a, true, true); }
Value fRejectattr(Interpreter &in, const Value &v, CallArgs &a) { return selectImpl(in, v, a, true, false); }

} // namespace

FilterFn findFilter(std::string_view name) {
  static const std::unordered_map<std::string_view, FilterFn> filters = {
      {"trim", fTrim},       {"upper", fUpper},       {"lower", fLower},         {"capitalize", fCapitalize},
      {"title", fTitle},     {"string", fString},     {"safe", fSafe},           {"escape", fEscape},
      {"e", fEscape},        {"replace", fReplace},   {"indent", fIndent},       {"wordcount", fWordcount},
      {"format", fFormat},   {"tojson", fTojson},     {"int", fInt},             {"float", fFloat},
      {"round", fRound},     {"abs", fAbs},           {"length", fLength},       {"count", fLength},
      {"list", fList},       {"first", fFirst},       {"last", fLast},           {"reverse", fReverse},
      {"items", fItems},     {"join", fJoin},         {"default", fDefault},     {"d", fDefault},
      {"sort", fSort},       {"dictsort", fDictsort}, {"unique", fUnique},       {"min", fMin},
      {"max", fMax},         {"sum", fSum},           {"batch", fBatch},         {"attr", fAttr},
      {"map", fMap},         {"select", fSelect},     {"reject", fReject},       {"selectattr", fSelectattr},
      {"rejectattr", fRejectattr},
  };
  auto it = filters.find(name);
  return it == filters.end() ? nullptr : it->second;
}

} // namespace llmrt::chat
