// The dynamic value a chat template computes with: the subset of Python's object model that
// Jinja templates see (jinja2 evaluates templates over Python objects, so exact output depends on
// Python's semantics: truthiness, str() and repr(), == across int/float/bool, ordering).
//
// NOTE: strings, lists and dicts are shared and immutable once built (transformers renders in an
// ImmutableSandboxedEnvironment, where list.append and dict.update are refused), so copying a
// Value is cheap and never aliases a mutation. The one mutable kind is Namespace, which has
// reference semantics on purpose: `{% set ns.x = ... %}` must be seen through every copy.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace llmrt::chat {

class Value;
using ValueList = std::vector<Value>;

// Insertion-ordered mapping (Python dicts keep insertion order; tojson and items() show it).
struct Dict {
  std::vector<std::pair<Value, Value>> entries;

  const Value *find(const Value &key) const;
  const Value *find(std::string_view key) const;
  void set(Value key, Value value);  // replaces in place, or appends
};

// Arguments of a call: positional then keyword, as written.
struct CallArgs {
  ValueList positional;
  std::vector<std::pair<std::string, Value>> named;

  const Value *namedArg(std::string_view name) const;
};

// A function visible to templates: a global (range, namespace, ...), a bound method
// (str.split, dict.get, ...), a macro or `caller`.
struct Callable {
  std::string name;
  std::function<Value(CallArgs &)> call;
};

// An error in evaluation that does not know where in the template it happened; the interpreter
// adds the line and column of the expression being evaluated. `raised` marks raise_exception().
struct Fault {
  std::string message;
  bool raised = false;
};
[[noreturn]] void fault(std::string message);

class Value {
public:
  enum class Kind : uint8_t { Undefined, None, Bool, Int, Float, String, List, Dict, Callable, Namespace };

  Value() = default;  // undefined
  static Value undefined(std::string hint = {});
  static Value none();
  static Value boolean(bool b);
  static Value integer(int64_t i);
  static Value number(double f);
  static Value string(std::string s);
  static Value markup(std::string s);  // a markupsafe.Markup: `|safe` or `|escape` output
  static Value list(ValueList items, bool tuple = false);
  // What jinja2's map, select, reject, selectattr, rejectattr, unique, batch and items filters
  // return: a Python generator. It iterates like a list, but is always true, has no len(), no
  // items by index and no JSON form (so `x|select(...)|tojson` fails as it does in jinja2).
  static Value generator(ValueList items);
  static Value dict(Dict d);
  static Value namespaceOf(Dict d);
  static Value function(std::string name, std::function<Value(CallArgs &)> fn);

  Kind kind() const { return kind_; }
  int depth() const { return depth_; }
  bool isUndefined() const { return kind_ == Kind::Undefined; }
  bool isNone() const { return kind_ == Kind::None; }
  bool isBool() const { return kind_ == Kind::Bool; }
  bool isInt() const { return kind_ == Kind::Int; }  // bool is not an int here (Python's is)
  bool isFloat() const { return kind_ == Kind::Float; }
  bool isNumber() const { return kind_ == Kind::Int || kind_ == Kind::Float || kind_ == Kind::Bool; }
  bool isString() const { return kind_ == Kind::String; }
  bool isMarkup() const { return kind_ == Kind::String && markup_; }
  bool isList() const { return kind_ == Kind::List; }
  bool isTuple() const { return kind_ == Kind::List && tuple_; }
  bool isGenerator() const { return kind_ == Kind::List && generator_; }
  bool isDict() const { return kind_ == Kind::Dict; }
  bool isCallable() const { return kind_ == Kind::Callable; }
  bool isNamespace() const { return kind_ == Kind::Namespace; }

  bool asBool() const { return b_; }
  int64_t asInt() const { return kind_ == Kind::Bool ? int64_t(b_) : i_; }  // Int or Bool
  double asDouble() const;                                                  // any number
  const std::string &asString() const { return *s_; }
  const ValueList &asList() const { return *list_; }
  const Dict &asDict() const { return *dict_; }  // Dict or Namespace
  Dict &namespaceDict() const { return *dict_; }
  const Callable &asCallable() const { return *fn_; }
  const std::string &undefinedHint() const;  // what was looked up, for error messages

  bool truthy() const;               // Python bool()
  std::string str() const;           // Python str() (what {{ }} prints); undefined -> ""
  std::string repr() const;          // Python repr()
  std::string typeName() const;      // Python type name: 'str', 'dict', 'NoneType', ...

private:
  Kind kind_ = Kind::Undefined;
  bool tuple_ = false;
  bool markup_ = false;
  bool generator_ = false;
  uint16_t depth_ = 0;  // nesting of lists and dicts, bounded so that no recursion runs deep
  union {
    bool b_;
    int64_t i_ = 0;
    double f_;
  };
  std::shared_ptr<const std::string> s_;  // String; Undefined's hint
  std::shared_ptr<const ValueList> list_;
  std::shared_ptr<Dict> dict_;            // Dict (never mutated once shared) or Namespace
  std::shared_ptr<const Callable> fn_;
};

// jinja2's UndefinedError text for using `v`: "'name' is undefined", or the recorded reason
// ("'dict object' has no attribute 'x'").
std::string undefinedMessage(const Value &v);

// Lists and dicts nest at most this deep (repr, tojson, == and destruction recurse).
inline constexpr int kMaxValueDepth = 512;

bool equals(const Value &a, const Value &b);      // Python ==
int compare(const Value &a, const Value &b);      // Python <, >: -1, 0, 1; faults when unordered
std::string pyFloatRepr(double f);                // Python repr(float): 1.0, 1e-05, 1e+16, inf
std::string pyStringRepr(std::string_view s);     // Python repr(str): 'a', "it's"

} // namespace llmrt::chat
