#include "chat/Parser.h"

#include "support/Error.h"

#include <algorithm>
#include <initializer_list>

namespace llmrt::chat {
namespace {

using TT = Token::Type;

class Parser {
public:
  explicit Parser(std::vector<Token> tokens) : toks_(std::move(tokens)) {}

  Body parseAll() {
    std::string end;
    Body body = parseStatements({}, end);
    return body;
  }

private:
  std::vector<Token> toks_;
  size_t i_ = 0;
  int depth_ = 0;

  struct DepthGuard {
    Parser &p;
    explicit DepthGuard(Parser &parser) : p(parser) {
      if (++p.depth_ > kMaxParseDepth) p.error(p.cur(), "the template nests too deeply.");
    }
    ~DepthGuard() { --p.depth_; }
  };

  const Token &cur() const { return toks_[i_]; }
  const Token &peek(size_t k = 1) const { return toks_[std::min(i_ + k, toks_.size() - 1)]; }
  const Token &next() {
    const Token &t = toks_[i_];
    if (i_ + 1 < toks_.size()) ++i_;
    return t;
  }

  [[noreturn]] void error(const Token &t, std::string_view message) const {
    llm::fail("chat template line {}:{}: {}", t.line, t.column, message);
  }

  static std::string describe(const Token &t) {
    switch (t.type) {
    case TT::End: return "end of template";
    case TT::VarEnd: return "end of print statement";
    case TT::BlockEnd: return "end of statement block";
    case TT::VarBegin: return "begin of print statement";
    case TT::BlockBegin: return "begin of statement block";
    case TT::String: return "string";
    case TT::Int: return "integer";
    case TT::Float: return "float";
    default: return "'" + t.text + "'";
    }
  }

  bool isOp(std::string_view op) const { return cur().type == TT::Op && cur().text == op; }
  bool isName(std::string_view name) const { return cur().type == TT::Name && cur().text == name; }
  bool skipOp(std::string_view op) {
    if (!isOp(op)) return false;
    next();
    return true;
  }
  bool skipName(std::string_view name) {
    if (!isName(name)) return false;
    next();
    return true;
  }
  void expectOp(std::string_view op) {
    if (!skipOp(op)) error(cur(), fmt::format("expected '{}', got {}.", op, describe(cur())));
  }
  void expectName(std::string_view name) {
    if (!skipName(name)) error(cur(), fmt::format("expected '{}', got {}.", name, describe(cur())));
  }
  std::string expectAnyName() {
    if (cur().type != TT::Name) error(cur(), fmt::format("expected a name, got {}.", describe(cur())));
    return next().text;
  }
  void expectBlockEnd() {
    if (cur().type != TT::BlockEnd) error(cur(), fmt::format("expected end of statement block, got {}.", describe(cur())));
    next();
  }

  ExprPtr make(Expr::Kind kind, const Token &at) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->loc = {at.line, at.column};
    return e;
  }

  // ---- statements ----

  // Parses until a `{% name %}` with name in `ends` (consumed up to the name, which is returned
  // in `found`), or the end of the template when `ends` is empty.
  Body parseStatements(std::initializer_list<std::string_view> ends, std::string &found) {
    DepthGuard guard(*this);
    Body body;
    while (true) {
      const Token &t = cur();
      if (t.type == TT::End) {
        if (ends.size() == 0) return body;
        std::string wanted;
        for (auto e : ends) wanted += (wanted.empty() ? "'" : " or '") + std::string(e) + "'";
        error(t, "unexpected end of template; expected " + wanted + ".");
      }
      if (t.type == TT::Text) {
        auto s = std::make_unique<Stmt>();
        s->kind = Stmt::Kind::Text;
        s->loc = {t.line, t.column};
        s->text = t.text;
        body.push_back(std::move(s));
        next();
      } else if (t.type == TT::VarBegin) {
        next();
        auto s = std::make_unique<Stmt>();
        s->kind = Stmt::Kind::Output;
        s->loc = {t.line, t.column};
        s->expr = parseTuple(true, {});
        if (cur().type != TT::VarEnd) error(cur(), fmt::format("expected end of print statement, got {}.", describe(cur())));
        next();
        body.push_back(std::move(s));
      } else if (t.type == TT::BlockBegin) {
        next();
        if (cur().type == TT::Name && std::find(ends.begin(), ends.end(), cur().text) != ends.end()) {
          found = next().text;
          return body;
        }
        body.push_back(parseStatement());
      } else {
        error(t, fmt::format("unexpected {}.", describe(t)));
      }
    }
  }

  StmtPtr newStmt(Stmt::Kind kind, const Token &at) {
    auto s = std::make_unique<Stmt>();
    s->kind = kind;
    s->loc = {at.line, at.column};
    return s;
  }

  StmtPtr parseStatement() {
    const Token &t = cur();
    if (t.type != TT::Name) error(t, "tag name expected.");
    const std::string &n = t.text;
    if (n == "if") return parseIf();
    if (n == "for") return parseFor();
    if (n == "set") return parseSet();
    if (n == "macro") return parseMacro();
    if (n == "call") return parseCallBlock();
    if (n == "filter") return parseFilterBlock();
    if (n == "with") return parseWith();
    if (n == "generation") return parseSimpleBlock(Stmt::Kind::Generation, "endgeneration");
    if (n == "break" || n == "continue") {
      auto s = newStmt(n == "break" ? Stmt::Kind::Break : Stmt::Kind::Continue, next());
      expectBlockEnd();
      return s;
    }
    if (n == "block" || n == "extends" || n == "include" || n == "import" || n == "from")
      error(t, fmt::format("the '{}' tag needs other templates, which chat templates cannot load.", n));
    error(t, fmt::format("Encountered unknown tag '{}'.", n));
  }

  StmtPtr parseSimpleBlock(Stmt::Kind kind, std::string_view end) {
    auto s = newStmt(kind, next());
    expectBlockEnd();
    std::string found;
    s->body = parseStatements({end}, found);
    expectBlockEnd();
    return s;
  }

  StmtPtr parseIf() {
    auto s = newStmt(Stmt::Kind::If, next());
    while (true) {
      s->conditions.push_back(parseTuple(false, {}));
      expectBlockEnd();
      std::string found;
      s->bodies.push_back(parseStatements({"elif", "else", "endif"}, found));
      if (found == "elif") continue;
      if (found == "else") {
        expectBlockEnd();
        s->elseBody = parseStatements({"endif"}, found);
      }
      expectBlockEnd();
      return s;
    }
  }

  StmtPtr parseFor() {
    auto s = newStmt(Stmt::Kind::For, next());
    s->target = parseTarget(false, {"in"});
    expectName("in");
    s->expr = parseTuple(false, {"recursive"});
    if (skipName("if")) s->filter = parseExpression(true);
    if (isName("recursive")) error(cur(), "recursive for loops are not supported.");
    expectBlockEnd();
    std::string found;
    s->body = parseStatements({"endfor", "else"}, found);
    if (found == "else") {
      expectBlockEnd();
      s->elseBody = parseStatements({"endfor"}, found);
    }
    expectBlockEnd();
    return s;
  }

  StmtPtr parseSet() {
    const Token &at = next();
    Target target = parseTarget(true, {});
    if (skipOp("=")) {
      auto s = newStmt(Stmt::Kind::Set, at);
      s->target = std::move(target);
      s->expr = parseTuple(true, {});
      expectBlockEnd();
      return s;
    }
    auto s = newStmt(Stmt::Kind::SetBlock, at);
    s->target = std::move(target);
    if (isOp("|")) s->filter = parseFilterChain(nullptr, false);
    expectBlockEnd();
    std::string found;
    s->body = parseStatements({"endset"}, found);
    expectBlockEnd();
    return s;
  }

  std::vector<MacroParam> parseParams() {
    std::vector<MacroParam> params;
    expectOp("(");
    while (!isOp(")")) {
      if (!params.empty()) expectOp(",");
      if (isOp(")")) break;
      MacroParam p;
      p.name = expectAnyName();
      if (skipOp("=")) p.defaultValue = parseExpression(true);
      else if (!params.empty() && params.back().defaultValue)
        error(cur(), "non-default argument follows default argument.");
      params.push_back(std::move(p));
    }
    expectOp(")");
    return params;
  }

  StmtPtr parseMacro() {
    auto s = newStmt(Stmt::Kind::Macro, next());
    s->name = expectAnyName();
    s->params = parseParams();
    expectBlockEnd();
    std::string found;
    s->body = parseStatements({"endmacro"}, found);
    expectBlockEnd();
    return s;
  }

  StmtPtr parseCallBlock() {
    auto s = newStmt(Stmt::Kind::CallBlock, next());
    if (isOp("(")) s->params = parseParams();
    s->expr = parseExpression(true);
    if (s->expr->kind != Expr::Kind::Call) error(cur(), "expected a call in the call block.");
    expectBlockEnd();
    std::string found;
    s->body = parseStatements({"endcall"}, found);
    expectBlockEnd();
    return s;
  }

  StmtPtr parseFilterBlock() {
    auto s = newStmt(Stmt::Kind::FilterBlock, next());
    s->filter = parseFilterChain(nullptr, true);
    expectBlockEnd();
    std::string found;
    s->body = parseStatements({"endfilter"}, found);
    expectBlockEnd();
    return s;
  }

  StmtPtr parseWith() {
    auto s = newStmt(Stmt::Kind::With, next());
    while (cur().type != TT::BlockEnd) {
      if (!s->assignments.empty()) expectOp(",");
      Target target = parseTarget(false, {});
      expectOp("=");
      s->assignments.emplace_back(std::move(target), parseExpression(true));
    }
    expectBlockEnd();
    std::string found;
    s->body = parseStatements({"endwith"}, found);
    expectBlockEnd();
    return s;
  }

  Target parseTargetItem(bool withNamespace) {
    if (skipOp("(")) {
      Target t = parseTarget(false, {});
      expectOp(")");
      return t;
    }
    Target t;
    t.name = expectAnyName();
    if (withNamespace && isOp(".") && peek().type == TT::Name) {
      next();
      t.kind = Target::Kind::NamespaceAttr;
      t.attr = next().text;
    }
    return t;
  }

  Target parseTarget(bool withNamespace, std::initializer_list<std::string_view> ends) {
    Target first = parseTargetItem(withNamespace);
    if (!isOp(",")) return first;
    Target tuple;
    tuple.kind = Target::Kind::Tuple;
    tuple.items.push_back(std::move(first));
    while (skipOp(",")) {
      if (cur().type == TT::BlockEnd || isOp("=") || isOp(")") ||
          (cur().type == TT::Name && std::find(ends.begin(), ends.end(), cur().text) != ends.end()))
        break;
      tuple.items.push_back(parseTargetItem(withNamespace));
    }
    return tuple;
  }

  // ---- expressions ----

  bool isTupleEnd(std::initializer_list<std::string_view> ends) const {
    if (cur().type == TT::VarEnd || cur().type == TT::BlockEnd || isOp(")")) return true;
    return cur().type == TT::Name && std::find(ends.begin(), ends.end(), cur().text) != ends.end();
  }

  ExprPtr parseTuple(bool withCondExpr, std::initializer_list<std::string_view> ends, bool explicitParens = false) {
    const Token &at = cur();
    std::vector<ExprPtr> items;
    bool isTuple = false;
    while (true) {
      if (!items.empty()) expectOp(",");
      if (isTupleEnd(ends)) break;
      items.push_back(parseExpression(withCondExpr));
      if (isOp(",")) isTuple = true;
      else break;
    }
    if (!isTuple) {
      if (!items.empty()) return std::move(items[0]);
      if (!explicitParens) error(cur(), fmt::format("expected an expression, got {}.", describe(cur())));
    }
    auto e = make(Expr::Kind::Tuple, at);
    e->items = std::move(items);
    return e;
  }

  ExprPtr parseExpression(bool withCondExpr) { return withCondExpr ? parseCondExpr() : parseOr(); }

  ExprPtr parseCondExpr() {
    DepthGuard guard(*this);
    ExprPtr expr = parseOr();
    while (isName("if")) {
      const Token &at = next();
      auto e = make(Expr::Kind::CondExpr, at);
      e->b = parseOr();
      if (skipName("else")) e->c = parseCondExpr();
      e->a = std::move(expr);
      expr = std::move(e);
    }
    return expr;
  }

  ExprPtr binary(Expr::Kind kind, const Token &at, std::string op, ExprPtr left, ExprPtr right) {
    auto e = make(kind, at);
    e->name = std::move(op);
    e->a = std::move(left);
    e->b = std::move(right);
    return e;
  }

  ExprPtr parseOr() {
    ExprPtr left = parseAnd();
    while (isName("or")) {
      const Token &at = next();
      left = binary(Expr::Kind::Or, at, "or", std::move(left), parseAnd());
    }
    return left;
  }

  ExprPtr parseAnd() {
    ExprPtr left = parseNot();
    while (isName("and")) {
      const Token &at = next();
      left = binary(Expr::Kind::And, at, "and", std::move(left), parseNot());
    }
    return left;
  }

  ExprPtr parseNot() {
    DepthGuard guard(*this);
    if (isName("not")) {
      const Token &at = next();
      auto e = make(Expr::Kind::Unary, at);
      e->name = "not";
      e->a = parseNot();
      return e;
    }
    return parseCompare();
  }

  ExprPtr parseCompare() {
    const Token &at = cur();
    ExprPtr first = parseMath1();
    std::vector<ExprPtr> operands;
    std::vector<std::string> ops;
    while (true) {
      if (cur().type == TT::Op && (cur().text == "==" || cur().text == "!=" || cur().text == "<" ||
                                   cur().text == ">" || cur().text == "<=" || cur().text == ">=")) {
        ops.push_back(next().text);
      } else if (isName("in")) {
        next();
        ops.push_back("in");
      } else if (isName("not") && peek().type == TT::Name && peek().text == "in") {
        next();
        next();
        ops.push_back("not in");
      } else {
        break;
      }
      operands.push_back(parseMath1());
    }
    if (ops.empty()) return first;
    auto e = make(Expr::Kind::Compare, at);
    e->items.push_back(std::move(first));
    for (auto &o : operands) e->items.push_back(std::move(o));
    e->ops = std::move(ops);
    return e;
  }

  ExprPtr parseMath1() {
    ExprPtr left = parseConcat();
    while (isOp("+") || isOp("-")) {
      const Token &at = next();
      left = binary(Expr::Kind::Binary, at, at.text, std::move(left), parseConcat());
    }
    return left;
  }

  ExprPtr parseConcat() {
    ExprPtr left = parseMath2();
    while (isOp("~")) {
      const Token &at = next();
      left = binary(Expr::Kind::Binary, at, "~", std::move(left), parseMath2());
    }
    return left;
  }

  ExprPtr parseMath2() {
    ExprPtr left = parsePow();
    while (isOp("*") || isOp("/") || isOp("//") || isOp("%")) {
      const Token &at = next();
      left = binary(Expr::Kind::Binary, at, at.text, std::move(left), parsePow());
    }
    return left;
  }

  ExprPtr parsePow() {
    ExprPtr left = parseUnary(true);
    while (isOp("**")) {
      const Token &at = next();
      left = binary(Expr::Kind::Binary, at, "**", std::move(left), parseUnary(true));
    }
    return left;
  }

  ExprPtr parseUnary(bool withFilter) {
    DepthGuard guard(*this);
    ExprPtr node;
    if (isOp("-") || isOp("+")) {
      const Token &at = next();
      node = make(Expr::Kind::Unary, at);
      node->name = at.text;
      node->a = parseUnary(false);
    } else {
      node = parsePrimary();
    }
    node = parsePostfix(std::move(node));
    if (withFilter) node = parseFilterExpr(std::move(node));
    return node;
  }

  ExprPtr constant(const Token &at, Value v) {
    auto e = make(Expr::Kind::Const, at);
    e->constant = std::move(v);
    return e;
  }

  ExprPtr parsePrimary() {
    const Token &t = cur();
    switch (t.type) {
    case TT::Name: {
      next();
      if (t.text == "true" || t.text == "True") return constant(t, Value::boolean(true));
      if (t.text == "false" || t.text == "False") return constant(t, Value::boolean(false));
      if (t.text == "none" || t.text == "None") return constant(t, Value::none());
      auto e = make(Expr::Kind::Name, t);
      e->name = t.text;
      return e;
    }
    case TT::String: {
      std::string s;
      while (cur().type == TT::String) s += next().text;
      return constant(t, Value::string(std::move(s)));
    }
    case TT::Int: next(); return constant(t, Value::integer(t.intValue));
    case TT::Float: next(); return constant(t, Value::number(t.floatValue));
    case TT::Op:
      if (t.text == "(") {
        next();
        ExprPtr e = parseTuple(true, {}, true);
        expectOp(")");
        return e;
      }
      if (t.text == "[") return parseList();
      if (t.text == "{") return parseDict();
      break;
    default: break;
    }
    error(t, fmt::format("unexpected {}.", describe(t)));
  }

  ExprPtr parseList() {
    auto e = make(Expr::Kind::List, next());
    while (!isOp("]")) {
      if (!e->items.empty()) expectOp(",");
      if (isOp("]")) break;
      e->items.push_back(parseExpression(true));
    }
    expectOp("]");
    return e;
  }

  ExprPtr parseDict() {
    auto e = make(Expr::Kind::Dict, next());
    while (!isOp("}")) {
      if (!e->items.empty()) expectOp(",");
      if (isOp("}")) break;
      e->items.push_back(parseExpression(true));
      expectOp(":");
      e->items.push_back(parseExpression(true));
    }
    expectOp("}");
    return e;
  }

  ExprPtr parsePostfix(ExprPtr node) {
    while (true) {
      if (isOp(".") || isOp("[")) node = parseSubscript(std::move(node));
      else if (isOp("(")) node = parseCall(std::move(node));
      else return node;
    }
  }

  ExprPtr parseFilterExpr(ExprPtr node) {
    while (true) {
      if (isOp("|")) node = parseFilterChain(std::move(node), false);
      else if (isName("is")) node = parseTest(std::move(node));
      else if (isOp("(")) node = parseCall(std::move(node));
      else return node;
    }
  }

  ExprPtr parseSubscript(ExprPtr node) {
    const Token &at = next();
    if (at.text == ".") {
      const Token &t = cur();
      if (t.type == TT::Name) {
        next();
        auto e = make(Expr::Kind::GetAttr, at);
        e->a = std::move(node);
        e->name = t.text;
        return e;
      }
      if (t.type != TT::Int) error(t, fmt::format("expected a name or number after '.', got {}.", describe(t)));
      next();
      auto e = make(Expr::Kind::GetItem, at);
      e->a = std::move(node);
      e->b = constant(t, Value::integer(t.intValue));
      return e;
    }
    std::vector<ExprPtr> args;
    while (!isOp("]")) {
      if (!args.empty()) expectOp(",");
      args.push_back(parseSubscribed());
    }
    expectOp("]");
    auto e = make(Expr::Kind::GetItem, at);
    e->a = std::move(node);
    if (args.size() == 1) {
      e->b = std::move(args[0]);
    } else {
      e->b = make(Expr::Kind::Tuple, at);
      e->b->items = std::move(args);
    }
    return e;
  }

  ExprPtr parseSubscribed() {
    const Token &at = cur();
    auto slice = make(Expr::Kind::Slice, at);
    if (skipOp(":")) {
      slice->items.push_back(nullptr);
    } else {
      ExprPtr node = parseExpression(true);
      if (!skipOp(":")) return node;
      slice->items.push_back(std::move(node));
    }
    auto endOfPart = [&] { return isOp("]") || isOp(","); };
    if (isOp(":") || endOfPart()) slice->items.push_back(nullptr);
    else slice->items.push_back(parseExpression(true));
    if (skipOp(":")) slice->items.push_back(endOfPart() ? nullptr : parseExpression(true));
    else slice->items.push_back(nullptr);
    return slice;
  }

  void parseCallArgs(Expr &e) {
    expectOp("(");
    bool first = true;
    while (!isOp(")")) {
      if (!first) expectOp(",");
      first = false;
      if (isOp(")")) break;
      if (isOp("*") || isOp("**")) {
        bool star2 = next().text == "**";
        ExprPtr &slot = star2 ? e.c : e.b;
        if (slot) error(cur(), star2 ? "**kwargs is given twice." : "*args is given twice.");
        slot = parseExpression(true);
        continue;
      }
      if (e.b || e.c) error(cur(), "an argument follows *args or **kwargs.");
      if (cur().type == TT::Name && peek().type == TT::Op && peek().text == "=") {
        std::string key = next().text;
        next();
        e.kwargs.emplace_back(std::move(key), parseExpression(true));
      } else {
        if (!e.kwargs.empty()) error(cur(), "positional argument follows keyword argument.");
        e.items.push_back(parseExpression(true));
      }
    }
    expectOp(")");
  }

  ExprPtr parseCall(ExprPtr node) {
    auto e = make(Expr::Kind::Call, cur());
    e->a = std::move(node);
    parseCallArgs(*e);
    return e;
  }

  ExprPtr parseFilterChain(ExprPtr node, bool startInline) {
    while (isOp("|") || startInline) {
      if (!startInline) next();
      startInline = false;
      const Token &at = cur();
      auto e = make(Expr::Kind::Filter, at);
      e->name = expectAnyName();
      while (isOp(".") && peek().type == TT::Name) {
        next();
        e->name += "." + next().text;
      }
      if (isOp("(")) parseCallArgs(*e);
      e->a = std::move(node);
      node = std::move(e);
    }
    return node;
  }

  ExprPtr parseTest(ExprPtr node) {
    const Token &at = next();  // 'is'
    auto e = make(Expr::Kind::Test, at);
    e->negated = skipName("not");
    e->name = expectAnyName();
    while (isOp(".") && peek().type == TT::Name) {
      next();
      e->name += "." + next().text;
    }
    const Token &t = cur();
    bool argStart = t.type == TT::Name || t.type == TT::String || t.type == TT::Int || t.type == TT::Float ||
                    (t.type == TT::Op && (t.text == "[" || t.text == "{"));
    if (isOp("(")) {
      parseCallArgs(*e);
    } else if (argStart && !isName("else") && !isName("or") && !isName("and")) {
      if (isName("is")) error(t, "You cannot chain multiple tests with is.");
      e->items.push_back(parsePostfix(parsePrimary()));
    }
    e->a = std::move(node);
    return e;
  }
};

} // namespace

Body parseTemplate(std::string_view source) { return Parser(tokenize(source)).parseAll(); }

} // namespace llmrt::chat
