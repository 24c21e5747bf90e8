// libFuzzer target: the input is a chat template. It is parsed and, when it parses, rendered over
// a small fixed conversation (with tools and a tool call), under tight limits. Syntax and render
// errors are expected (llm::Error); anything else — a crash, a sanitizer report, an escaping
// exception of another type, unbounded time or memory — is a bug.
#include "chat/ChatTemplate.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace {

const nlohmann::ordered_json &conversation() {
  static const nlohmann::ordered_json messages = nlohmann::ordered_json::parse(R"([
    {"role": "system", "content": "You are helpful."},
    {"role": "user", "content": "Hi \u00e9 \ud83d\ude00 {{ x }}"},
    {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
      "function": {"name": "get_weather", "arguments": {"location": "Paris"}}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "{\"t\": 22}"},
    {"role": "user", "content": [{"type": "text", "text": "And now?"}]}
  ])");
  return messages;
}

llmrt::chat::ChatRenderOptions options() {
  llmrt::chat::ChatRenderOptions o;
  o.bosToken = "<s>";
  o.eosToken = "</s>";
  o.extra = nlohmann::ordered_json::parse(R"({"tools": [{"type": "function", "function": {"name": "get_weather",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"}}}}}], "enable_thinking": false})");
  o.now = [] {
    std::tm t{};
    t.tm_year = 124;
    t.tm_mon = 6;
    t.tm_mday = 26;
    return t;
  };
  o.limits.maxOutputBytes = 1 << 16;
  o.limits.maxLoopIterations = 20000;
  o.limits.maxCallDepth = 16;
  o.limits.maxEvalDepth = 300;
  return o;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const llmrt::chat::ChatRenderOptions opts = options();
  std::string_view source(reinterpret_cast<const char *>(data), size);
  try {
    llmrt::chat::ChatTemplate t = llmrt::chat::ChatTemplate::parse(source);
    t.render(conversation(), opts);
  } catch (const llm::Error &) {
  }
  return 0;
}
