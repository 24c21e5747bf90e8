#include "chat/Operators.h"

#include "chat/PyString.h"

#include <cmath>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace llmrt::chat {
namespace {

[[noreturn]] void unsupported(std::string_view op, const Value &a, const Value &b) {
  if (a.isUndefined()) fault(undefinedMessage(a));
  if (b.isUndefined()) fault(undefinedMessage(b));
  fault(fmt::format("unsupported operand type(s) for {}: '{}' and '{}'", op, a.typeName(), b.typeName()));
}

void checkOverflow(bool overflow) {
  if (overflow) fault("integer overflow: the result does not fit in 64 bits");
}

// Python's float divmod (Objects/floatobject.c), for // and % on floats.
std::pair<double, double> floatDivmod(double x, double y) {
  double mod = std::fmod(x, y);
  double div = (x - mod) / y;
  if (mod != 0) {
    if ((y < 0) != (mod < 0)) {
      mod += y;
      div -= 1.0;
    }
  } else {
    mod = std::copysign(0.0, y);
  }
  double floordiv;
  if (div != 0) {
    floordiv = std::floor(div);
    if (div - floordiv > 0.5) floordiv += 1.0;
  } else {
    floordiv = std::copysign(0.0, x / y);
  }
  return {floordiv, mod};
}

Value arithmetic(std::string_view op, const Value &a, const Value &b) {
  bool ints = !a.isFloat() && !b.isFloat();
  if (op == "/") {
    if (b.asDouble() == 0) fault("division by zero");
    return Value::number(a.asDouble() / b.asDouble());
  }
  if (ints) {
    int64_t x = a.asInt(), y = b.asInt(), r = 0;
    if (op == "+" || op == "-" || op == "*") {
      checkOverflow(op == "+" ? __builtin_add_overflow(x, y, &r)
                              : op == "-" ? __builtin_sub_overflow(x, y, &r) : __builtin_mul_overflow(x, y, &r));
      return Value::integer(r);
    }
    if (op == "//" || op == "%") {
      if (y == 0) fault("integer division or modulo by zero");
      if (x == std::numeric_limits<int64_t>::min() && y == -1) fault("integer overflow");
      int64_t q = x / y, m = x % y;
      if (m != 0 && ((m < 0) != (y < 0))) {
        --q;
        m += y;
      }
      return Value::integer(op == "//" ? q : m);
    }
    if (op == "**") {
      if (y < 0) return Value::number(std::pow(double(x), double(y)));
      int64_t result = 1;
      for (int64_t base = x, e = y; e > 0; e >>= 1) {
        if (e & 1) checkOverflow(__builtin_mul_overflow(result, base, &result));
        if (e > 1) checkOverflow(__builtin_mul_overflow(base, base, &base));
      }
      return Value::integer(result);
    }
  }
  double x = a.asDouble(), y = b.asDouble();
  if (op == "+") return Value::number(x + y);
  if (op == "-") return Value::number(x - y);
  if (op == "*") return Value::number(x * y);
  if (op == "//" || op == "%") {
    if (y == 0) fault("float floor division or modulo by zero");
    auto [q, m] = floatDivmod(x, y);
    return Value::number(op == "//" ? q : m);
  }
  if (op == "**") {
    if (x == 0 && y < 0) fault("0.0 cannot be raised to a negative power");
    return Value::number(std::pow(x, y));
  }
  fault(fmt::format("unknown operator {}", op));
}

Value repeat(const Value &seq, int64_t n, size_t maxBytes) {
  if (n <= 0) return seq.isString() ? Value::string("") : Value::list({}, seq.isTuple());
  if (seq.isString()) {
    const std::string &s = seq.asString();
    if (!s.empty() && uint64_t(n) > maxBytes / s.size()) fault("the repeated string would exceed the output limit");
    std::string out;
    out.reserve(s.size() * n);
    for (int64_t i = 0; i < n; ++i) out += s;
    return seq.isMarkup() ? Value::markup(std::move(out)) : Value::string(std::move(out));
  }
  const ValueList &items = seq.asList();
  if (!items.empty() && uint64_t(n) > maxBytes / (items.size() * sizeof(Value))) fault("the repeated list is too long");
  ValueList out;
  for (int64_t i = 0; i < n; ++i) out.insert(out.end(), items.begin(), items.end());
  return Value::list(std::move(out), seq.isTuple());
}

} // namespace

Value binaryOp(std::string_view op, const Value &a, const Value &b, size_t maxBytes) {
  if (op == "~") {
    std::string s = a.str();
    s += b.str();
    return Value::string(std::move(s));
  }
  if (a.isNumber() && b.isNumber()) return arithmetic(op, a, b);
  if (op == "+") {
    if (a.isString() && b.isString() && (a.isMarkup() || b.isMarkup())) {
      // Markup + str escapes the plain side (markupsafe), and stays Markup.
      auto safe = [](const Value &v) { return v.isMarkup() ? v.asString() : pystr::htmlEscape(v.asString()); };
      return Value::markup(safe(a) + safe(b));
    }
    if (a.isString() && b.isString()) {
      if (a.asString().size() + b.asString().size() > maxBytes) fault("the string would exceed the output limit");
      return Value::string(a.asString() + b.asString());
    }
    if (a.isList() && b.isList() && a.isTuple() == b.isTuple() && !a.isGenerator() && !b.isGenerator()) {
      ValueList out = a.asList();
      out.insert(out.end(), b.asList().begin(), b.asList().end());
      return Value::list(std::move(out), a.isTuple());
    }
  }
  if (op == "*") {
    bool seqA = a.isString() || (a.isList() && !a.isGenerator()), seqB = b.isString() || (b.isList() && !b.isGenerator());
    if (seqA && (b.isInt() || b.isBool())) return repeat(a, b.asInt(), maxBytes);
    if (seqB && (a.isInt() || a.isBool())) return repeat(b, a.asInt(), maxBytes);
  }
  if (op == "%" && a.isString()) fault("internal: string formatting is handled by the interpreter");
  std::string_view shown = op == "**" ? "** or pow()" : op;
  unsupported(shown, a, b);
}

Value unaryOp(std::string_view op, const Value &a) {
  if (op == "not") return Value::boolean(!a.truthy());
  if (a.isUndefined()) fault(undefinedMessage(a));
  if (!a.isNumber()) fault(fmt::format("bad operand type for unary {}: '{}'", op, a.typeName()));
  if (op == "+") return a.isBool() ? Value::integer(a.asInt()) : a;
  if (a.isFloat()) return Value::number(-a.asDouble());
  if (a.asInt() == std::numeric_limits<int64_t>::min()) fault("integer overflow");
  return Value::integer(-a.asInt());
}

bool contains(const Value &container, const Value &item) {
  switch (container.kind()) {
  case Value::Kind::Undefined: return false;
  case Value::Kind::String:
    if (!item.isString())
      fault(fmt::format("'in <string>' requires string as left operand, not {}", item.typeName()));
    return container.asString().find(item.asString()) != std::string::npos;
  case Value::Kind::List:
    for (const Value &v : container.asList())
      if (equals(v, item)) return true;
    return false;
  case Value::Kind::Dict: return container.asDict().find(item) != nullptr;
  default: fault(fmt::format("argument of type '{}' is not iterable", container.typeName()));
  }
}

Value subscript(const Value &seq, int64_t index) {
  if (seq.isGenerator()) return Value::undefined("'generator' object is not subscriptable");
  if (seq.isList()) {
    const ValueList &items = seq.asList();
    int64_t n = int64_t(items.size());
    if (index < 0) index += n;
    if (index < 0 || index >= n) return Value::undefined("list index out of range");
    return items[size_t(index)];
  }
  if (seq.isString()) {
    const std::string &s = seq.asString();
    if (pystr::isAscii(s)) {
      int64_t n = int64_t(s.size());
      if (index < 0) index += n;
      if (index < 0 || index >= n) return Value::undefined("string index out of range");
      return Value::string(std::string(1, s[size_t(index)]));
    }
    auto cps = pystr::decode(s);
    int64_t n = int64_t(cps.size());
    if (index < 0) index += n;
    if (index < 0 || index >= n) return Value::undefined("string index out of range");
    return Value::string(pystr::encode(cps, size_t(index), size_t(index) + 1));
  }
  return Value::undefined(fmt::format("'{}' object is not subscriptable", seq.typeName()));
}

// Python's PySlice_AdjustIndices: the positions a slice visits in a sequence of length n.
static std::vector<int64_t> slicePositions(int64_t n, const Value &start, const Value &stop, const Value &step) {
  auto asIndex = [](const Value &v, const char *what) -> std::optional<int64_t> {
    if (v.isNone() || v.isUndefined()) return std::nullopt;
    if (!v.isInt() && !v.isBool()) fault(fmt::format("slice {} must be an integer or None", what));
    return v.asInt();
  };
  int64_t st = asIndex(step, "step").value_or(1);
  if (st == 0) fault("slice step cannot be zero");
  auto clamp = [&](std::optional<int64_t> v, int64_t dflt) {
    if (!v) return dflt;
    int64_t i = *v;
    if (i < 0) {
      i += n;
      if (i < 0) i = st < 0 ? -1 : 0;
    } else if (i >= n) {
      i = st < 0 ? n - 1 : n;
    }
    return i;
  };
  int64_t b = clamp(asIndex(start, "start"), st < 0 ? n - 1 : 0);
  int64_t e = clamp(asIndex(stop, "stop"), st < 0 ? -1 : n);
  std::vector<int64_t> out;
  for (int64_t i = b; st > 0 ? i < e : i > e; i += st) out.push_back(i);
  return out;
}

Value sliceOf(const Value &seq, const Value &start, const Value &stop, const Value &step) {
  if (seq.isGenerator()) return Value::undefined("'generator' object is not subscriptable");
  if (seq.isList()) {
    const ValueList &items = seq.asList();
    ValueList out;
    for (int64_t i : slicePositions(int64_t(items.size()), start, stop, step)) out.push_back(items[size_t(i)]);
    return Value::list(std::move(out), seq.isTuple());
  }
  if (seq.isString()) {
    auto cps = pystr::decode(seq.asString());
    std::string out;
    for (int64_t i : slicePositions(int64_t(cps.size()), start, stop, step)) pystr::append(out, cps[size_t(i)]);
    return Value::string(std::move(out));
  }
  if (seq.isUndefined()) fault(undefinedMessage(seq));
  return Value::undefined(fmt::format("'{}' object is not subscriptable", seq.typeName()));
}

ValueList iterate(const Value &v) {
  switch (v.kind()) {
  case Value::Kind::Undefined: return {};
  case Value::Kind::List: return v.asList();
  case Value::Kind::Dict: {
    ValueList keys;
    for (const auto &[k, _] : v.asDict().entries) keys.push_back(k);
    return keys;
  }
  case Value::Kind::String: {
    ValueList chars;
    auto cps = pystr::decode(v.asString());
    for (size_t i = 0; i < cps.size(); ++i) chars.push_back(Value::string(pystr::encode(cps, i, i + 1)));
    return chars;
  }
  default: fault(fmt::format("'{}' object is not iterable", v.typeName()));
  }
}

} // namespace llmrt::chat
