// jinja2's builtin tests (`x is defined`, `x is string`, `n is divisibleby 3`, ...), with
// Python's type rules: a bool is a number (but not an integer), a dict is a sequence, an
// undefined value is iterable (as an empty sequence).
#include "chat/Builtins.h"
#include "chat/Operators.h"
#include "chat/PyString.h"

#include <unordered_map>

#include <fmt/format.h>

namespace llmrt::chat {
namespace {

const Value kUndefined = Value::undefined();

const Value &other(const CallArgs &a) {
  if (a.positional.empty()) fault("the test needs an argument");
  return a.positional[0];
}

bool tDefined(Interpreter &, const Value &v, CallArgs &) { return !v.isUndefined(); }
bool tUndefined(Interpreter &, const Value &v, CallArgs &) { return v.isUndefined(); }
bool tNone(Interpreter &, const Value &v, CallArgs &) { return v.isNone(); }
bool tBoolean(Interpreter &, const Value &v, CallArgs &) { return v.isBool(); }
bool tTrue(Interpreter &, const Value &v, CallArgs &) { return v.isBool() && v.asBool(); }
bool tFalse(Interpreter &, const Value &v, CallArgs &) { return v.isBool() && !v.asBool(); }
bool tNumber(Interpreter &, const Value &v, CallArgs &) { return v.isNumber(); }
bool tInteger(Interpreter &, const Value &v, CallArgs &) { return v.isInt(); }
bool tFloat(Interpreter &, const Value &v, CallArgs &) { return v.isFloat(); }
bool tString(Interpreter &, const Value &v, CallArgs &) { return v.isString(); }
bool tMapping(Interpreter &, const Value &v, CallArgs &) { return v.isDict(); }
bool tSequence(Interpreter &, const Value &v, CallArgs &) { return v.isString() || v.isList() || v.isDict(); }
bool tIterable(Interpreter &, const Value &v, CallArgs &) {
  return v.isString() || v.isList() || v.isDict() || v.isUndefined();
}
bool tCallable(Interpreter &, const Value &v, CallArgs &) { return v.isCallable(); }
bool tEq(Interpreter &, const Value &v, CallArgs &a) { return equals(v, other(a)); }
bool tNe(Interpreter &, const Value &v, CallArgs &a) { return !equals(v, other(a)); }
bool tLt(Interpreter &, const Value &v, CallArgs &a) { return compare(v, other(a)) < 0; }
bool tLe(Interpreter &, const Value &v, CallArgs &a) { return compare(v, other(a)) <= 0; }
bool tGt(Interpreter &, const Value &v, CallArgs &a) { return compare(v, other(a)) > 0; }
bool tGe(Interpreter &, const Value &v, CallArgs &a) { return compare(v, other(a)) >= 0; }
bool tIn(Interpreter &, const Value &v, CallArgs &a) { return contains(other(a), v); }

bool tSameas(Interpreter &, const Value &v, CallArgs &a) {
  const Value &o = other(a);
  if (v.kind() != o.kind()) return false;
  if (v.isNone() || v.isUndefined()) return true;
  if (v.isBool()) return v.asBool() == o.asBool();
  return equals(v, o) && (v.isInt() || v.isNamespace() || v.isCallable());
}

int64_t intOf(const Value &v, const char *test) {
  if (!v.isInt() && !v.isBool()) fault(fmt::format("the '{}' test needs an integer, not {}", test, v.typeName()));
  return v.asInt();
}
bool tOdd(Interpreter &, const Value &v, CallArgs &) { return intOf(v, "odd") % 2 != 0; }
bool tEven(Interpreter &, const Value &v, CallArgs &) { return intOf(v, "even") % 2 == 0; }
bool tDivisibleby(Interpreter &, const Value &v, CallArgs &a) {
  int64_t d = intOf(other(a), "divisibleby");
  if (d == 0) fault("integer division or modulo by zero");
  return intOf(v, "divisibleby") % d == 0;
}

bool tLower(Interpreter &, const Value &v, CallArgs &) {
  std::string s = v.str();
  return pystr::lower(s) == s && pystr::upper(s) != s;
}
bool tUpper(Interpreter &, const Value &v, CallArgs &) {
  std::string s = v.str();
  return pystr::upper(s) == s && pystr::lower(s) != s;
}
bool tFilter(Interpreter &, const Value &v, CallArgs &) { return v.isString() && findFilter(v.asString()); }
bool tTest(Interpreter &, const Value &v, CallArgs &) { return v.isString() && findTest(v.asString()); }

} // namespace

TestFn findTest(std::string_view name) {
  static const std::unordered_map<std::string_view, TestFn> tests = {
      {"defined", tDefined},   {"undefined", tUndefined}, {"none", tNone},       {"boolean", tBoolean},
      {"true", tTrue},         {"false", tFalse},         {"number", tNumber},   {"integer", tInteger},
      {"float", tFloat},       {"string", tString},       {"mapping", tMapping}, {"sequence", tSequence},
      {"iterable", tIterable}, {"callable", tCallable},   {"eq", tEq},           {"equalto", tEq},
      {"==", tEq},             {"ne", tNe},               {"!=", tNe},           {"lt", tLt},
      {"lessthan", tLt},       {"<", tLt},                {"le", tLe},           {"<=", tLe},
      {"gt", tGt},             {"greaterthan", tGt},      {">", tGt},            {"ge", tGe},
      {">=", tGe},             {"in", tIn},               {"sameas", tSameas},   {"odd", tOdd},
      {"even", tEven},         {"divisibleby", tDivisibleby}, {"lower", tLower}, {"upper", tUpper},
      {"filter", tFilter},     {"test", tTest},
  };
  auto it = tests.find(name);
  return it == tests.end() ? nullptr : it->second;
}

} // namespace llmrt::chat
