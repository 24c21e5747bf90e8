#include "chat/ChatTemplate.h"

#include "chat/Builtins.h"
#include "chat/Parser.h"
#include "chat/PyJson.h"
#include "support/Error.h"

#include <chrono>

namespace llmrt::chat {
namespace {

// jinja2 refuses unknown filters and tests when it compiles a template, except inside an
// if-statement or a conditional expression (there only reaching them fails). A for loop,
// macro or block inside an if starts a strict scope again.
class NameCheck {
public:
  void body(const Body &b, bool soft) {
    for (const auto &s : b) stmt(*s, soft);
  }

private:
  void expr(const Expr *e, bool soft) {
    if (!e) return;
    if ((e->kind == Expr::Kind::Filter && !findFilter(e->name)) || (e->kind == Expr::Kind::Test && !findTest(e->name))) {
      if (!soft)
        llm::fail("chat template line {}:{}: No {} named '{}'.", e->loc.line, e->loc.column,
                  e->kind == Expr::Kind::Filter ? "filter" : "test", e->name);
    }
    bool inner = soft || e->kind == Expr::Kind::CondExpr;
    expr(e->a.get(), inner);
    expr(e->b.get(), inner);
    expr(e->c.get(), inner);
    for (const auto &i : e->items) expr(i.get(), inner);
    for (const auto &[_, v] : e->kwargs) expr(v.get(), inner);
  }

  void stmt(const Stmt &s, bool soft) {
    bool isIf = s.kind == Stmt::Kind::If;
    bool strict = s.kind == Stmt::Kind::For || s.kind == Stmt::Kind::Macro || s.kind == Stmt::Kind::CallBlock ||
                  s.kind == Stmt::Kind::With;
    expr(s.expr.get(), soft);
    expr(s.filter.get(), soft);
    for (const auto &c : s.conditions) expr(c.get(), soft || isIf);
    for (const auto &p : s.params) expr(p.defaultValue.get(), false);
    for (const auto &[_, v] : s.assignments) expr(v.get(), soft);
    bool inner = isIf ? true : (strict ? false : soft);
    for (const auto &b : s.bodies) body(b, inner);
    body(s.body, inner);
    body(s.elseBody, inner);
  }
};

std::tm systemNow() {
  std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm out{};
  localtime_r(&t, &out);
  return out;
}

// transformers' _alias_reasoning_fields: {"thinking": r, **message, "reasoning_content": r}.
Value aliasReasoning(Dict message) {
  const Value *reasoning = nullptr;
  for (const char *key : {"reasoning_content", "thinking", "reasoning"}) {
    const Value *v = message.find(key);
    if (v && !v->isNone()) {
      reasoning = v;
      break;
    }
  }
  if (!reasoning) return Value::dict(std::move(message));
  Value r = *reasoning;
  Dict out;
  out.entries.emplace_back(Value::string("thinking"), r);
  for (auto &[k, v] : message.entries) out.set(k, v);
  out.set(Value::string("thinking"), r);
  out.set(Value::string("reasoning_content"), r);
  return Value::dict(std::move(out));
}

Value templateMessages(const nlohmann::ordered_json &messages) {
  if (!messages.is_array()) llm::fail("chat template: messages must be an array of message objects.");
  if (messages.empty()) llm::fail("chat template: cannot apply a chat template to an empty conversation.");
  ValueList out;
  for (size_t i = 0; i < messages.size(); ++i) {
    const auto &m = messages[i];
    if (!m.is_object()) llm::fail("chat template: messages[{}] must be an object, not {}.", i, m.type_name());
    Dict d;
    for (const auto &[k, v] : m.items())
      if (!v.is_null()) d.entries.emplace_back(Value::string(k), fromJson(v));
    out.push_back(aliasReasoning(std::move(d)));
  }
  return Value::list(std::move(out));
}

} // namespace

ChatTemplate ChatTemplate::parse(std::string_view source) {
  ChatTemplate t;
  t.source_ = std::make_shared<const std::string>(source);
  auto body = std::make_shared<Body>(parseTemplate(source));
  NameCheck().body(*body, false);
  t.body_ = std::move(body);
  return t;
}

std::string ChatTemplate::render(const nlohmann::ordered_json &messages, const ChatRenderOptions &options) const {
  Interpreter interp(options.limits);
  installGlobals(interp.globals(), options.now ? options.now : systemNow);
  try {
    interp.setVariable("messages", templateMessages(messages));
    interp.setVariable("tools", Value::none());
    interp.setVariable("documents", Value::none());
    interp.setVariable("add_generation_prompt", Value::boolean(options.addGenerationPrompt));
    interp.setVariable("bos_token", Value::string(options.bosToken));
    interp.setVariable("eos_token", Value::string(options.eosToken));
    if (!options.extra.is_null() && !options.extra.is_object())
      llm::fail("chat template: the extra variables must be a JSON object.");
    for (const auto &[k, v] : options.extra.items()) {
      if (k == "messages" || k == "add_generation_prompt")
        llm::fail("chat template: the extra variable '{}' would replace a variable the renderer sets.", k);
      interp.setVariable(k, fromJson(v));
    }
  } catch (const Fault &f) {
    llm::fail("chat template: {}", f.message);
  }
  return interp.render(*body_);
}

} // namespace llmrt::chat
