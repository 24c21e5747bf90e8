// Walks a parsed template and renders it, with jinja2's scoping:
//  - a for loop's body runs in a fresh scope per iteration (a `set` inside does not leak out,
//    and the next iteration starts again from the outer value: that is why namespace() exists);
//  - `if` opens no scope; macros run in a scope whose parent is the scope they were defined in;
//  - names resolve innermost first, then the render variables, then the globals.
// Limits keep untrusted templates and inputs bounded: output size, loop iterations, call and
// evaluation depth. Errors are TemplateError with the line and column of the failing expression.
#pragma once

#include "chat/Ast.h"
#include "chat/TemplateError.h"
#include "chat/Value.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

namespace llmrt::chat {

struct RenderLimits {
  size_t maxOutputBytes = size_t(32) << 20;  // also bounds any one string a template builds
  uint64_t maxLoopIterations = 1'000'000;    // over the whole render
  int maxCallDepth = 64;                     // nested macro calls
  int maxEvalDepth = 1000;                   // nested statements and expressions, macros included
};

struct Scope {
  std::unordered_map<std::string, Value> vars;
  std::shared_ptr<Scope> parent;
};

class Interpreter {
public:
  explicit Interpreter(const RenderLimits &limits);

  // Variables of the render (messages, bos_token, ...) sit above the globals.
  void setVariable(const std::string &name, Value v);
  Scope &globals() { return *globals_; }
  std::string render(const Body &body);

  // For filters and globals that call back into templates (map('upper'), select('odd'), macros).
  Value call(const Value &fn, CallArgs &args);
  Value applyFilter(const std::string &name, const Value &v, CallArgs &args);
  bool applyTest(const std::string &name, const Value &v, CallArgs &args);
  const RenderLimits &limits() const { return limits_; }
  void countIterations(uint64_t n);

private:
  enum class Flow { Normal, Break, Continue };

  RenderLimits limits_;
  std::shared_ptr<Scope> globals_, scope_;
  std::string *out_ = nullptr;
  uint64_t iterations_ = 0;
  size_t written_ = 0;
  int callDepth_ = 0, evalDepth_ = 0;

  struct DepthGuard;

  [[noreturn]] void fail(const Location &loc, const std::string &message, bool raised = false) const;
  void write(std::string_view s);

  Flow exec(const Body &body);
  Flow execStmt(const Stmt &s);
  Flow execFor(const Stmt &s);
  void execSet(const Stmt &s);
  void defineMacro(const Stmt &s);
  void execCallBlock(const Stmt &s);
  std::string capture(const Body &body);
  std::string capture(const Body &body, std::shared_ptr<Scope> scope);
  Value makeMacro(const Stmt &s, std::string name, std::shared_ptr<Scope> defScope);

  Value eval(const Expr &e);
  Value evalExpr(const Expr &e);
  Value evalCompare(const Expr &e);
  Value evalCall(const Expr &e);
  Value evalFilter(const Expr &e, const Value *input);
  bool evalTest(const Expr &e);
  CallArgs evalArgs(const Expr &e);
  Value evalGetItem(const Expr &e);

  Value lookup(const std::string &name) const;
  void assign(const Target &t, const Value &v, Scope &scope);
};

} // namespace llmrt::chat
