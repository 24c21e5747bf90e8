// The syntax tree of a parsed template: expressions and statements as jinja2's parser builds
// them (jinja2.nodes), reduced to what chat templates use.
//
// NOTE: nodes are "fat" (one struct per family, fields used according to the kind) so that the
// parser and the interpreter stay short; each kind's comment says which fields it uses.
#pragma once

#include "chat/Value.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace llmrt::chat {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;
struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct Location {
  int line = 1, column = 1;
};

struct Expr {
  enum class Kind {
    Const,     // constant
    Name,      // name
    List,      // items
    Tuple,     // items
    Dict,      // items: key, value, key, value, ...
    GetAttr,   // a.name
    GetItem,   // a[b]
    Slice,     // items: start, stop, step (each may be null); only as GetItem's b
    Call,      // a(items..., kwargs..., *b, **c)
    Filter,    // a | name(items..., kwargs..., *b, **c)
    Test,      // a is [not] name(items..., kwargs..., *b, **c); negated
    Unary,     // name ("-", "+", "not") a
    Binary,    // a name b: + - * / // % ** ~
    And,       // a and b
    Or,        // a or b
    Compare,   // items[0] ops[0] items[1] ops[1] items[2] ... (chained like Python)
    CondExpr,  // a if b else c (c may be null)
  };
  Kind kind;
  Location loc;
  Value constant;
  std::string name;
  ExprPtr a, b, c;
  std::vector<ExprPtr> items;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  std::vector<std::string> ops;
  bool negated = false;
};

// Where `set` and `for` store values: a name, a namespace attribute (ns.x) or a tuple of names.
struct Target {
  enum class Kind { Name, NamespaceAttr, Tuple } kind = Kind::Name;
  std::string name;  // Name; the namespace variable for NamespaceAttr
  std::string attr;  // NamespaceAttr
  std::vector<Target> items;
};

struct MacroParam {
  std::string name;
  ExprPtr defaultValue;  // may be null
};

struct Stmt {
  enum class Kind {
    Text,        // text
    Output,      // {{ expr }}
    If,          // conditions[i] -> bodies[i]; elseBody
    For,         // target in expr [if filter]: body; elseBody
    Set,         // target = expr
    SetBlock,    // {% set target %}body{% endset %}, optional filter (expr: Filter with null a)
    Macro,       // name(params): body
    CallBlock,   // {% call(params) expr %}body{% endcall %}
    FilterBlock, // {% filter f %}body{% endfilter %} (expr: Filter chain with null innermost a)
    With,        // {% with targets = values %}body{% endwith %}
    Break,
    Continue,
    Generation,  // transformers' {% generation %}body{% endgeneration %}: renders the body
  };
  Kind kind;
  Location loc;
  std::string text;
  ExprPtr expr, filter;
  Target target;
  std::vector<ExprPtr> conditions;
  std::vector<Body> bodies;
  Body body, elseBody;
  std::string name;
  std::vector<MacroParam> params;
  std::vector<std::pair<Target, ExprPtr>> assignments;  // With
};

} // namespace llmrt::chat
