// A model's chat template (Jinja, from tokenizer_config.json or GGUF `tokenizer.chat_template`),
// rendered exactly as transformers' apply_chat_template(messages, tokenize=False, ...) renders
// it with jinja2: same whitespace handling, Python value semantics, filters and globals.
//
// What the template sees, as transformers passes it:
//   messages               the conversation, each message with its None-valued keys dropped and
//                          `reasoning_content` / `thinking` filled from any of reasoning_content,
//                          thinking or reasoning; content stays as given (a string or a list of
//                          parts — transformers flattens nothing)
//   tools, documents       from `extra`, else None
//   add_generation_prompt  from the options
//   bos_token, eos_token   from the options
//   anything else in `extra` (enable_thinking, ...)
//   globals: raise_exception, strftime_now, namespace, dict, range, joiner
//
// NOTE: pass JSON as nlohmann::ordered_json: Python dicts keep insertion order and `tojson`
// prints keys in that order. A plain nlohmann::json converts implicitly but has sorted its keys.
#pragma once

#include "chat/Interpreter.h"
#include "chat/TemplateError.h"

#include <nlohmann/json.hpp>

#include <ctime>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace llmrt::chat {

struct ChatRenderOptions {
  bool addGenerationPrompt = true;
  std::string bosToken, eosToken;  // the tokenizer_config's special-token strings
  nlohmann::ordered_json extra = nlohmann::ordered_json::object();  // tools, documents, enable_thinking, ...
  std::function<std::tm()> now;  // local time for strftime_now; empty: the system clock
  RenderLimits limits;
};

class ChatTemplate {
public:
  // Throws llm::Error "chat template line L:C: ..." on a syntax error, or on a filter or test
  // that does not exist outside any if-block (jinja2 refuses those when it compiles).
  static ChatTemplate parse(std::string_view source);

  // Throws TemplateError (an llm::Error) "chat template line L:C: ..." when rendering fails,
  // including raise_exception() (see TemplateError::raisedByTemplate()), and llm::Error when
  // `messages` is not a non-empty array of objects.
  std::string render(const nlohmann::ordered_json &messages, const ChatRenderOptions &options) const;

  const std::string &source() const { return *source_; }

private:
  std::shared_ptr<const std::string> source_;
  std::shared_ptr<const Body> body_;
};

} // namespace llmrt::chat
