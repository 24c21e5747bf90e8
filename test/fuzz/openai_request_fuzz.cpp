// libFuzzer target for the OpenAI request parsers (runtime/server/OpenAIRequest): every input is
// a request body for each of the four endpoints. Each parse either returns a struct whose
// documented ranges hold or throws ApiError with a status of 400, whose error body is valid JSON;
// anything else (another exception, a crash, a sanitizer report, a broken invariant) is a bug.
// Seeds: test/fuzz/openai-request-seeds (bodies the openai client sends). Built and run by
// tools/fuzz.sh (clang, ASan + UBSan).
#include "server/OpenAIRequest.h"
#include "server/OpenAIResponse.h"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {

using namespace llmrt::server;

void check(bool invariant) {
  if (!invariant)
    std::abort();
}

bool in(double x, double lo, double hi) { return std::isfinite(x) && x >= lo && x <= hi; }

void checkMessages(const nlohmann::json &messages) {
  check(messages.is_array() && !messages.empty());
  for (const nlohmann::json &message : messages) {
    check(message.is_object() && message.contains("role") && message.contains("content"));
    (void)message.dump(); // walks the whole value: bounded depth, valid strings
  }
}

void checkSampling(const SamplingRequest &s) {
  check(!s.temperature || in(*s.temperature, 0, 2));
  check(!s.topP || (in(*s.topP, 0, 1) && *s.topP > 0));
  check(!s.topK || *s.topK >= 0);
  check(in(s.minP, 0, 1) && in(s.presencePenalty, -2, 2) && in(s.frequencyPenalty, -2, 2));
  check(in(s.repetitionPenalty, 0, kMaxRepetitionPenalty) && s.repetitionPenalty > 0);
  check(!s.seed || *s.seed <= static_cast<uint64_t>(INT64_MAX));
  check(s.n >= 1 && s.n <= kMaxN);
  check(!s.maxTokens || *s.maxTokens >= 1);
  check(s.minTokens >= 0 && (!s.maxTokens || s.minTokens <= *s.maxTokens));
  check(s.stop.size() <= static_cast<size_t>(kMaxStopStrings));
  for (const std::string &stop : s.stop)
    check(!stop.empty());
  for (int32_t id : s.stopTokenIds)
    check(id >= 0);
  check(!s.logprobs || (*s.logprobs >= 0 && *s.logprobs <= kMaxLogprobs));
  check(s.stream || !s.includeUsage);
}

template <typename Parse, typename Check>
void exercise(std::string_view body, Parse parse, Check checkResult) {
  try {
    checkResult(parse(body));
  } catch (const ApiError &error) {
    check(error.status == 400 && !error.message.empty());
    // The error must always make a valid response body.
    check(nlohmann::json::accept(dumpJson(errorJson(error))));
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view body(reinterpret_cast<const char *>(data), size);
  // What is not a JSON object of bounded depth fails the same way for every endpoint: once is
  // enough (most mutated inputs end here).
  try {
    (void)parseRequestBody(body);
  } catch (const ApiError &error) {
    check(error.status == 400 && error.param.empty());
    check(nlohmann::json::accept(dumpJson(errorJson(error))));
    return 0;
  }
  exercise(body, parseCompletionRequest, [](const CompletionRequest &r) {
    check(!r.model.empty() && !r.prompts.empty());
    for (const PromptInput &prompt : r.prompts) {
      check(!prompt.isTokens || !prompt.tokens.empty());
      for (int32_t id : prompt.tokens)
        check(id >= 0);
    }
    checkSampling(r.sampling);
  });
  exercise(body, parseChatRequest, [](const ChatRequest &r) {
    check(!r.model.empty());
    checkMessages(r.messages);
    check(r.tools.is_null() || (r.tools.is_array() && !r.tools.empty()));
    check(!(r.addGenerationPrompt && r.continueFinalMessage));
    check(r.chatTemplateKwargs.is_object());
    checkSampling(r.sampling);
  });
  exercise(body, parseTokenizeRequest, [](const TokenizeRequest &r) {
    if (r.isChat)
      checkMessages(r.messages);
  });
  exercise(body, parseDetokenizeRequest, [](const DetokenizeRequest &r) {
    for (int32_t id : r.tokens)
      check(id >= 0);
  });
  return 0;
}
