#include "chat/Value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include <fmt/format.h>

namespace llmrt::chat {

void fault(std::string message) { throw Fault{std::move(message), false}; }

const Value *Dict::find(const Value &key) const {
  for (const auto &[k, v] : entries)
    if (equals(k, key)) return &v;
  return nullptr;
}

const Value *Dict::find(std::string_view key) const {
  for (const auto &[k, v] : entries)
    if (k.isString() && k.asString() == key) return &v;
  return nullptr;
}

void Dict::set(Value key, Value value) {
  for (auto &[k, v] : entries)
    if (equals(k, key)) {
      v = std::move(value);
      return;
    }
  entries.emplace_back(std::move(key), std::move(value));
}

const Value *CallArgs::namedArg(std::string_view name) const {
  for (const auto &[k, v] : named)
    if (k == name) return &v;
  return nullptr;
}

Value Value::undefined(std::string hint) {
  Value v;
  if (!hint.empty()) v.s_ = std::make_shared<const std::string>(std::move(hint));
  return v;
}

Value Value::none() {
  Value v;
  v.kind_ = Kind::None;
  return v;
}

Value Value::boolean(bool b) {
  Value v;
  v.kind_ = Kind::Bool;
  v.b_ = b;
  return v;
}

Value Value::integer(int64_t i) {
  Value v;
  v.kind_ = Kind::Int;
  v.i_ = i;
  return v;
}

Value Value::number(double f) {
  Value v;
  v.kind_ = Kind::Float;
  v.f_ = f;
  return v;
}

Value Value::string(std::string s) {
  Value v;
  v.kind_ = Kind::String;
  v.s_ = std::make_shared<const std::string>(std::move(s));
  return v;
}

Value Value::markup(std::string s) {
  Value v = string(std::move(s));
  v.markup_ = true;
  return v;
}

static uint16_t nestedDepth(int childDepth) {
  if (childDepth + 1 > kMaxValueDepth) fault(fmt::format("lists and dicts nest deeper than {} levels", kMaxValueDepth));
  return uint16_t(childDepth + 1);
}

Value Value::list(ValueList items, bool tuple) {
  Value v;
  v.kind_ = Kind::List;
  v.tuple_ = tuple;
  int d = 0;
  for (const Value &item : items) d = std::max(d, item.depth());
  v.depth_ = nestedDepth(d);
  v.list_ = std::make_shared<const ValueList>(std::move(items));
  return v;
}

Value Value::generator(ValueList items) {
  Value v = list(std::move(items));
  v.generator_ = true;
  return v;
}

Value Value::dict(Dict d) {
  Value v;
  v.kind_ = Kind::Dict;
  int depth = 0;
  for (const auto &[k, x] : d.entries) depth = std::max({depth, k.depth(), x.depth()});
  v.depth_ = nestedDepth(depth);
  v.dict_ = std::make_shared<Dict>(std::move(d));
  return v;
}

Value Value::namespaceOf(Dict d) {
  Value v = dict(std::move(d));
  v.kind_ = Kind::Namespace;
  return v;
}

Value Value::function(std::string name, std::function<Value(CallArgs &)> fn) {
  Value v;
  v.kind_ = Kind::Callable;
  v.fn_ = std::make_shared<const Callable>(Callable{std::move(name), std::move(fn)});
  return v;
}

double Value::asDouble() const {
  switch (kind_) {
  case Kind::Float: return f_;
  case Kind::Int: return double(i_);
  case Kind::Bool: return b_ ? 1.0 : 0.0;
  default: return 0.0;
  }
}

const std::string &Value::undefinedHint() const {
  static const std::string empty;
  return kind_ == Kind::Undefined && s_ ? *s_ : empty;
}

bool Value::truthy() const {
  switch (kind_) {
  case Kind::Undefined:
  case Kind::None: return false;
  case Kind::Bool: return b_;
  case Kind::Int: return i_ != 0;
  case Kind::Float: return f_ != 0.0;
  case Kind::String: return !s_->empty();
  case Kind::List: return generator_ || !list_->empty();
  case Kind::Dict: return !dict_->entries.empty();
  case Kind::Callable:
  case Kind::Namespace: return true;
  }
  return false;
}

std::string pyFloatRepr(double f) {
  if (std::isnan(f)) return "nan";
  if (std::isinf(f)) return f > 0 ? "inf" : "-inf";
  // Shortest round-trip digits, then Python's layout: positional for 1e-4 <= |f| < 1e16,
  // scientific with a two-digit exponent otherwise.
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, f, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  size_t e = sci.find('e');
  std::string mantissa = sci.substr(0, e);
  int exponent = std::stoi(sci.substr(e + 1));
  bool negative = mantissa[0] == '-';
  if (negative) mantissa.erase(0, 1);
  std::string digits;
  for (char c : mantissa)
    if (c != '.') digits += c;
  std::string out = negative ? "-" : "";
  if (exponent >= -4 && exponent < 16) {
    if (exponent < 0) {
      out += "0.";
      out.append(size_t(-exponent - 1), '0');
      out += digits;
    } else if (size_t(exponent) + 1 >= digits.size()) {
      out += digits;
      out.append(exponent + 1 - digits.size(), '0');
      out += ".0";
    } else {
      out.append(digits, 0, size_t(exponent) + 1);
      out += '.';
      out.append(digits, size_t(exponent) + 1);
    }
    return out;
  }
  out += digits[0];
  if (digits.size() > 1) {
    out += '.';
    out.append(digits, 1);
  }
  out += fmt::format("e{}{:02d}", exponent < 0 ? '-' : '+', std::abs(exponent));
  return out;
}

std::string pyStringRepr(std::string_view s) {
  bool hasSingle = s.find('\'') != std::string_view::npos;
  bool hasDouble = s.find('"') != std::string_view::npos;
  char quote = hasSingle && !hasDouble ? '"' : '\'';
  std::string out(1, quote);
  for (unsigned char c : s) {
    if (c == quote || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += char(c);  // non-ASCII passes through (printable in almost all chat text)
    }
  }
  out += quote;
  return out;
}

static std::string reprList(const ValueList &items, bool tuple) {
  std::string out = tuple ? "(" : "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ", ";
    out += items[i].repr();
  }
  if (tuple && items.size() == 1) out += ",";
  out += tuple ? ")" : "]";
  return out;
}

static std::string reprDict(const Dict &d) {
  std::string out = "{";
  bool first = true;
  for (const auto &[k, v] : d.entries) {
    if (!first) out += ", ";
    first = false;
    out += k.repr() + ": " + v.repr();
  }
  return out + "}";
}

std::string Value::str() const {
  switch (kind_) {
  case Kind::Undefined: return "";
  case Kind::String: return *s_;
  default: return repr();
  }
}

std::string Value::repr() const {
  switch (kind_) {
  case Kind::Undefined: return "";
  case Kind::None: return "None";
  case Kind::Bool: return b_ ? "True" : "False";
  case Kind::Int: return std::to_string(i_);
  case Kind::Float: return pyFloatRepr(f_);
  case Kind::String: return pyStringRepr(*s_);
  case Kind::List: return generator_ ? "<generator object>" : reprList(*list_, tuple_);
  case Kind::Dict: return reprDict(*dict_);
  case Kind::Namespace: return "<Namespace " + reprDict(*dict_) + ">";
  case Kind::Callable: return "<function " + fn_->name + ">";
  }
  return "";
}

std::string Value::typeName() const {
  switch (kind_) {
  case Kind::Undefined: return "Undefined";
  case Kind::None: return "NoneType";
  case Kind::Bool: return "bool";
  case Kind::Int: return "int";
  case Kind::Float: return "float";
  case Kind::String: return "str";
  case Kind::List: return generator_ ? "generator" : tuple_ ? "tuple" : "list";
  case Kind::Dict: return "dict";
  case Kind::Namespace: return "Namespace";
  case Kind::Callable: return "function";
  }
  return "object";
}

std::string undefinedMessage(const Value &v) {
  const std::string &hint = v.undefinedHint();
  if (hint.empty()) return "an undefined value was used";
  if (hint.find(' ') != std::string::npos) return hint;
  return "'" + hint + "' is undefined";
}

bool equals(const Value &a, const Value &b) {
  using K = Value::Kind;
  if (a.isNumber() && b.isNumber()) {
    if (a.isFloat() || b.isFloat()) return a.asDouble() == b.asDouble();
    return a.asInt() == b.asInt();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
  case K::Undefined:
  case K::None: return true;
  case K::String: return a.asString() == b.asString();
  case K::List: {
    if (a.isGenerator() || b.isGenerator()) return &a.asList() == &b.asList();
    if (a.isTuple() != b.isTuple()) return false;
    const auto &x = a.asList(), &y = b.asList();
    if (x.size() != y.size()) return false;
    for (size_t i = 0; i < x.size(); ++i)
      if (!equals(x[i], y[i])) return false;
    return true;
  }
  case K::Dict: {
    const auto &x = a.asDict(), &y = b.asDict();
    if (x.entries.size() != y.entries.size()) return false;
    for (const auto &[k, v] : x.entries) {
      const Value *w = y.find(k);
      if (!w || !equals(v, *w)) return false;
    }
    return true;
  }
  case K::Namespace: return &a.namespaceDict() == &b.namespaceDict();
  case K::Callable: return &a.asCallable() == &b.asCallable();
  default: return false;
  }
}

int compare(const Value &a, const Value &b) {
  if (a.isNumber() && b.isNumber()) {
    if (a.isFloat() || b.isFloat()) {
      double x = a.asDouble(), y = b.asDouble();
      return x < y ? -1 : (x > y ? 1 : 0);
    }
    int64_t x = a.asInt(), y = b.asInt();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.isString() && b.isString()) {
    int c = a.asString().compare(b.asString());  // UTF-8 byte order is code point order
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (a.isList() && b.isList() && a.isTuple() == b.isTuple() && !a.isGenerator() && !b.isGenerator()) {
    const auto &x = a.asList(), &y = b.asList();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i)
      if (!equals(x[i], y[i])) return compare(x[i], y[i]);
    return x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
  }
  if (a.isUndefined() || b.isUndefined()) fault(undefinedMessage(a.isUndefined() ? a : b));
  fault(fmt::format("'<' not supported between instances of '{}' and '{}'", a.typeName(),
                    b.typeName()));
}

} // namespace llmrt::chat
