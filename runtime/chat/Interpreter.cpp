#include "chat/Interpreter.h"

#include "chat/Builtins.h"
#include "chat/Operators.h"

#include <stdexcept>

#include <fmt/format.h>

namespace llmrt::chat {

struct Interpreter::DepthGuard {
  Interpreter &in;
  DepthGuard(Interpreter &interp, const Location &loc) : in(interp) {
    if (++in.evalDepth_ > in.limits_.maxEvalDepth) {
      --in.evalDepth_;
      in.fail(loc, fmt::format("the template nests deeper than {} levels while rendering", in.limits_.maxEvalDepth));
    }
  }
  ~DepthGuard() { --in.evalDepth_; }
};

Interpreter::Interpreter(const RenderLimits &limits) : limits_(limits) {
  globals_ = std::make_shared<Scope>();
  scope_ = std::make_shared<Scope>();
  scope_->parent = globals_;
}

void Interpreter::setVariable(const std::string &name, Value v) { scope_->vars[name] = std::move(v); }

void Interpreter::fail(const Location &loc, const std::string &message, bool raised) const {
  throw TemplateError(loc.line, loc.column, message, raised);
}

void Interpreter::countIterations(uint64_t n) {
  iterations_ += n;
  if (iterations_ > limits_.maxLoopIterations)
    fault(fmt::format("the template ran more than {} loop iterations", limits_.maxLoopIterations));
}

void Interpreter::write(std::string_view s) {
  written_ += s.size();
  if (written_ > limits_.maxOutputBytes)
    fault(fmt::format("the rendered text exceeds {} bytes", limits_.maxOutputBytes));
  out_->append(s);
}

std::string Interpreter::render(const Body &body) {
  std::string out;
  out_ = &out;
  exec(body);
  return out;
}

std::string Interpreter::capture(const Body &body) {
  std::string buffer;
  std::string *saved = out_;
  out_ = &buffer;
  try {
    exec(body);
  } catch (...) {
    out_ = saved;
    throw;
  }
  out_ = saved;
  return buffer;
}

std::string Interpreter::capture(const Body &body, std::shared_ptr<Scope> scope) {
  std::swap(scope_, scope);
  try {
    std::string s = capture(body);
    std::swap(scope_, scope);
    return s;
  } catch (...) {
    std::swap(scope_, scope);
    throw;
  }
}

// ---- statements ----

Interpreter::Flow Interpreter::exec(const Body &body) {
  for (const StmtPtr &s : body) {
    Flow f = execStmt(*s);
    if (f != Flow::Normal) return f;
  }
  return Flow::Normal;
}

Interpreter::Flow Interpreter::execStmt(const Stmt &s) {
  DepthGuard guard(*this, s.loc);
  try {
    switch (s.kind) {
    case Stmt::Kind::Text: write(s.text); return Flow::Normal;
    case Stmt::Kind::Output: {
      Value v = eval(*s.expr);
      if (v.isString()) write(v.asString());
      else write(v.str());
      return Flow::Normal;
    }
    case Stmt::Kind::If:
      for (size_t i = 0; i < s.conditions.size(); ++i)
        if (eval(*s.conditions[i]).truthy()) return exec(s.bodies[i]);
      return exec(s.elseBody);
    case Stmt::Kind::For: return execFor(s);
    case Stmt::Kind::Set:
    case Stmt::Kind::SetBlock: execSet(s); return Flow::Normal;
    case Stmt::Kind::Macro: defineMacro(s); return Flow::Normal;
    case Stmt::Kind::CallBlock: execCallBlock(s); return Flow::Normal;
    case Stmt::Kind::FilterBlock: {
      Value body = Value::string(capture(s.body));
      write(evalFilter(*s.filter, &body).str());
      return Flow::Normal;
    }
    case Stmt::Kind::With: {
      auto scope = std::make_shared<Scope>();
      scope->parent = scope_;
      for (const auto &[target, expr] : s.assignments) assign(target, eval(*expr), *scope);
      write(capture(s.body, scope));
      return Flow::Normal;
    }
    case Stmt::Kind::Break: return Flow::Break;
    case Stmt::Kind::Continue: return Flow::Continue;
    case Stmt::Kind::Generation: return exec(s.body);
    }
  } catch (const Fault &f) {
    fail(s.loc, f.message, f.raised);
  }
  return Flow::Normal;
}

static Value makeLoop(size_t i, size_t n, const ValueList &items) {
  Dict d;
  auto put = [&](const char *k, Value v) { d.entries.emplace_back(Value::string(k), std::move(v)); };
  put("index", Value::integer(int64_t(i + 1)));
  put("index0", Value::integer(int64_t(i)));
  put("revindex", Value::integer(int64_t(n - i)));
  put("revindex0", Value::integer(int64_t(n - i - 1)));
  put("first", Value::boolean(i == 0));
  put("last", Value::boolean(i + 1 == n));
  put("length", Value::integer(int64_t(n)));
  put("depth", Value::integer(1));
  put("depth0", Value::integer(0));
  if (i > 0) put("previtem", items[i - 1]);
  if (i + 1 < n) put("nextitem", items[i + 1]);
  put("cycle", Value::function("loop.cycle", [i](CallArgs &args) -> Value {
        if (args.positional.empty()) fault("no items for cycling given");
        return args.positional[i % args.positional.size()];
      }));
  return Value::dict(std::move(d));
}

Interpreter::Flow Interpreter::execFor(const Stmt &s) {
  ValueList all = iterate(eval(*s.expr));
  ValueList items;
  if (s.filter) {
    for (const Value &v : all) {
      countIterations(1);
      auto scope = std::make_shared<Scope>();
      scope->parent = scope_;
      assign(s.target, v, *scope);
      std::swap(scope_, scope);
      bool keep;
      try {
        keep = eval(*s.filter).truthy();
      } catch (...) {
        std::swap(scope_, scope);
        throw;
      }
      std::swap(scope_, scope);
      if (keep) items.push_back(v);
    }
  } else {
    items = std::move(all);
  }
  if (items.empty()) return exec(s.elseBody);
  for (size_t i = 0; i < items.size(); ++i) {
    countIterations(1);
    auto scope = std::make_shared<Scope>();
    scope->parent = scope_;
    scope->vars["loop"] = makeLoop(i, items.size(), items);
    assign(s.target, items[i], *scope);
    std::swap(scope_, scope);
    Flow f;
    try {
      f = exec(s.body);
    } catch (...) {
      std::swap(scope_, scope);
      throw;
    }
    std::swap(scope_, scope);
    if (f == Flow::Break) break;
  }
  return Flow::Normal;
}

void Interpreter::assign(const Target &t, const Value &v, Scope &scope) {
  switch (t.kind) {
  case Target::Kind::Name: scope.vars[t.name] = v; return;
  case Target::Kind::NamespaceAttr: {
    Value ns = lookup(t.name);
    if (!ns.isNamespace()) fault("cannot assign attribute on non-namespace object");
    if (!t.attr.empty() && t.attr[0] == '_')
      fault(fmt::format("Chat templates cannot store underscore-prefixed attributes on a namespace, but got '{}'.", t.attr));
    ns.namespaceDict().set(Value::string(t.attr), v);
    return;
  }
  case Target::Kind::Tuple: {
    ValueList items = iterate(v);
    if (items.size() != t.items.size())
      fault(fmt::format("{} values to unpack (expected {}, got {})",
                        items.size() < t.items.size() ? "not enough" : "too many", t.items.size(), items.size()));
    for (size_t i = 0; i < items.size(); ++i) assign(t.items[i], items[i], scope);
    return;
  }
  }
}

void Interpreter::execSet(const Stmt &s) {
  Value v;
  if (s.kind == Stmt::Kind::Set) {
    v = eval(*s.expr);
  } else {
    v = Value::string(capture(s.body));
    if (s.filter) v = evalFilter(*s.filter, &v);
  }
  assign(s.target, v, *scope_);
}

Value Interpreter::makeMacro(const Stmt &s, std::string name, std::shared_ptr<Scope> defScope) {
  return Value::function(name, [this, &s, defScope, name](CallArgs &args) -> Value {
    if (callDepth_ >= limits_.maxCallDepth)
      fault(fmt::format("macro calls nest deeper than {} levels", limits_.maxCallDepth));
    ++callDepth_;
    struct Leave {
      int &depth;
      ~Leave() { --depth; }
    } leave{callDepth_};
    auto scope = std::make_shared<Scope>();
    scope->parent = defScope;
    std::vector<bool> bound(s.params.size(), false);
    ValueList varargs;
    for (size_t i = 0; i < args.positional.size(); ++i) {
      if (i < s.params.size()) {
        scope->vars[s.params[i].name] = args.positional[i];
        bound[i] = true;
      } else {
        varargs.push_back(args.positional[i]);
      }
    }
    Dict kwargs;
    for (const auto &[key, value] : args.named) {
      size_t p = 0;
      while (p < s.params.size() && s.params[p].name != key) ++p;
      if (p == s.params.size()) {
        if (key == "caller") scope->vars["caller"] = value;
        else kwargs.set(Value::string(key), value);
        continue;
      }
      if (bound[p]) fault(fmt::format("macro '{}' got multiple values for argument '{}'", name, key));
      scope->vars[key] = value;
      bound[p] = true;
    }
    scope->vars["varargs"] = Value::list(std::move(varargs), true);
    scope->vars["kwargs"] = Value::dict(std::move(kwargs));
    std::swap(scope_, scope);
    try {
      for (size_t p = 0; p < s.params.size(); ++p) {
        if (bound[p]) continue;
        scope_->vars[s.params[p].name] =
            s.params[p].defaultValue ? eval(*s.params[p].defaultValue)
                                     : Value::undefined(fmt::format("parameter '{}' was not provided", s.params[p].name));
      }
    } catch (...) {
      std::swap(scope_, scope);
      throw;
    }
    std::swap(scope_, scope);
    return Value::string(capture(s.body, scope));
  });
}

void Interpreter::defineMacro(const Stmt &s) { scope_->vars[s.name] = makeMacro(s, s.name, scope_); }

void Interpreter::execCallBlock(const Stmt &s) {
  const Expr &callExpr = *s.expr;
  Value fn = eval(*callExpr.a);
  CallArgs args = evalArgs(callExpr);
  args.named.emplace_back("caller", makeMacro(s, "caller", scope_));
  Value result;
  try {
    result = call(fn, args);
  } catch (const Fault &f) {
    fail(callExpr.loc, f.message, f.raised);
  }
  write(result.str());
}

// ---- expressions ----

Value Interpreter::lookup(const std::string &name) const {
  for (const Scope *s = scope_.get(); s; s = s->parent.get()) {
    auto it = s->vars.find(name);
    if (it != s->vars.end()) return it->second;
  }
  return Value::undefined(name);
}

Value Interpreter::eval(const Expr &e) {
  DepthGuard guard(*this, e.loc);
  try {
    return evalExpr(e);
  } catch (const Fault &f) {
    fail(e.loc, f.message, f.raised);
  } catch (const std::logic_error &err) {
    fail(e.loc, err.what());
  }
}

Value Interpreter::evalExpr(const Expr &e) {
  switch (e.kind) {
  case Expr::Kind::Const: return e.constant;
  case Expr::Kind::Name: return lookup(e.name);
  case Expr::Kind::List:
  case Expr::Kind::Tuple: {
    ValueList items;
    items.reserve(e.items.size());
    for (const auto &item : e.items) items.push_back(eval(*item));
    return Value::list(std::move(items), e.kind == Expr::Kind::Tuple);
  }
  case Expr::Kind::Dict: {
    Dict d;
    for (size_t i = 0; i + 1 < e.items.size(); i += 2) d.set(eval(*e.items[i]), eval(*e.items[i + 1]));
    return Value::dict(std::move(d));
  }
  case Expr::Kind::GetAttr: return getAttr(eval(*e.a), e.name);
  case Expr::Kind::GetItem: return evalGetItem(e);
  case Expr::Kind::Slice: fault("a slice is only allowed inside []");
  case Expr::Kind::Call: return evalCall(e);
  case Expr::Kind::Filter: return evalFilter(e, nullptr);
  case Expr::Kind::Test: return Value::boolean(evalTest(e));
  case Expr::Kind::Unary: return unaryOp(e.name, eval(*e.a));
  case Expr::Kind::Binary: {
    Value a = eval(*e.a), b = eval(*e.b);
    if (e.name == "%" && a.isString()) return Value::string(percentFormat(a.asString(), b));
    Value r = binaryOp(e.name, a, b, limits_.maxOutputBytes);
    if (r.isString() && r.asString().size() > limits_.maxOutputBytes)
      fault(fmt::format("a string exceeds {} bytes", limits_.maxOutputBytes));
    return r;
  }
  case Expr::Kind::And: {
    Value a = eval(*e.a);
    return a.truthy() ? eval(*e.b) : a;
  }
  case Expr::Kind::Or: {
    Value a = eval(*e.a);
    return a.truthy() ? a : eval(*e.b);
  }
  case Expr::Kind::Compare: return evalCompare(e);
  case Expr::Kind::CondExpr:
    if (eval(*e.b).truthy()) return eval(*e.a);
    return e.c ? eval(*e.c) : Value::undefined("the inline if-expression evaluated to false and no else section was defined");
  }
  fault("unknown expression");
}

Value Interpreter::evalGetItem(const Expr &e) {
  Value obj = eval(*e.a);
  if (e.b->kind == Expr::Kind::Slice) {
    const auto &parts = e.b->items;
    auto part = [&](size_t i) { return parts[i] ? eval(*parts[i]) : Value::none(); };
    Value start = part(0), stop = part(1), step = part(2);
    if (obj.isUndefined()) fault(undefinedMessage(obj));
    return sliceOf(obj, start, stop, step);
  }
  return getItem(obj, eval(*e.b));
}

static bool compareOp(const std::string &op, const Value &a, const Value &b) {
  if (op == "==") return equals(a, b);
  if (op == "!=") return !equals(a, b);
  if (op == "in") return contains(b, a);
  if (op == "not in") return !contains(b, a);
  int c = compare(a, b);
  if (op == "<") return c < 0;
  if (op == ">") return c > 0;
  if (op == "<=") return c <= 0;
  return c >= 0;
}

Value Interpreter::evalCompare(const Expr &e) {
  Value left = eval(*e.items[0]);
  for (size_t i = 0; i < e.ops.size(); ++i) {
    Value right = eval(*e.items[i + 1]);
    if (!compareOp(e.ops[i], left, right)) return Value::boolean(false);
    left = std::move(right);
  }
  return Value::boolean(true);
}

CallArgs Interpreter::evalArgs(const Expr &e) {
  CallArgs args;
  for (const auto &item : e.items) args.positional.push_back(eval(*item));
  for (const auto &[name, expr] : e.kwargs) args.named.emplace_back(name, eval(*expr));
  if (e.b)
    for (Value &v : iterate(eval(*e.b))) args.positional.push_back(std::move(v));
  if (e.c) {
    Value kw = eval(*e.c);
    if (!kw.isDict()) fault(fmt::format("argument after ** must be a mapping, not {}", kw.typeName()));
    for (const auto &[k, v] : kw.asDict().entries) {
      if (!k.isString()) fault("keywords must be strings");
      args.named.emplace_back(k.asString(), v);
    }
  }
  return args;
}

Value Interpreter::call(const Value &fn, CallArgs &args) {
  if (fn.isUndefined()) fault(undefinedMessage(fn));
  if (!fn.isCallable()) fault(fmt::format("'{}' object is not callable", fn.typeName()));
  return fn.asCallable().call(args);
}

Value Interpreter::evalCall(const Expr &e) {
  Value fn = eval(*e.a);
  CallArgs args = evalArgs(e);
  return call(fn, args);
}

Value Interpreter::applyFilter(const std::string &name, const Value &v, CallArgs &args) {
  FilterFn f = findFilter(name);
  if (!f) fault(fmt::format("No filter named '{}' found.", name));
  Value r = f(*this, v, args);
  if (r.isString() && r.asString().size() > limits_.maxOutputBytes)
    fault(fmt::format("a string exceeds {} bytes", limits_.maxOutputBytes));
  return r;
}

bool Interpreter::applyTest(const std::string &name, const Value &v, CallArgs &args) {
  TestFn t = findTest(name);
  if (!t) fault(fmt::format("No test named '{}' found.", name));
  return t(*this, v, args);
}

Value Interpreter::evalFilter(const Expr &e, const Value *input) {
  Value v;
  if (!e.a) v = *input;
  else if (input) v = evalFilter(*e.a, input);
  else v = eval(*e.a);
  CallArgs args = evalArgs(e);
  return applyFilter(e.name, v, args);
}

bool Interpreter::evalTest(const Expr &e) {
  Value v = eval(*e.a);
  CallArgs args = evalArgs(e);
  bool r = applyTest(e.name, v, args);
  return e.negated ? !r : r;
}

} // namespace llmrt::chat
