#include "server/OpenAIResponse.h"

#include <fmt/format.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <random>

namespace llmrt::server {
namespace {

using json = nlohmann::ordered_json;

json bytesJson(const Logprob &entry) {
  const std::string &bytes = entry.bytes ? *entry.bytes : entry.token;
  json out = json::array();
  for (unsigned char byte : bytes)
    out.push_back(static_cast<int>(byte));
  return out;
}

json chatLogprobEntry(const Logprob &entry) {
  return {{"token", entry.token}, {"logprob", logprobJson(entry.logprob)},
          {"bytes", bytesJson(entry)}};
}

json completionChoiceJson(const CompletionChoice &choice) {
  return {{"index", choice.index},
          {"text", choice.text},
          {"logprobs", choice.logprobs ? completionLogprobsJson(*choice.logprobs, choice.textOffset)
                                       : json(nullptr)},
          {"finish_reason", finishReasonJson(choice.finishReason)},
          {"stop_reason", stopReasonJson(choice.stopReason)}};
}

json chatLogprobsOrNull(const ChatChoice &choice) {
  return choice.logprobs ? chatLogprobsJson(*choice.logprobs) : json(nullptr);
}

json chatChoiceJson(const ChatChoice &choice) {
  return {{"index", choice.index},
          {"message", {{"role", "assistant"}, {"content", choice.content}, {"refusal", nullptr}}},
          {"logprobs", chatLogprobsOrNull(choice)},
          {"finish_reason", finishReasonJson(choice.finishReason)},
          {"stop_reason", stopReasonJson(choice.stopReason)}};
}

// A stream's delta: the role opens a choice; a chunk that only finishes it says nothing ({}).
json chatDeltaJson(const ChatChoice &choice) {
  json delta = json::object();
  if (choice.roleDelta) {
    delta["role"] = "assistant";
    delta["content"] = choice.content;
  } else if (!choice.content.empty() || choice.finishReason == FinishReason::None) {
    delta["content"] = choice.content;
  }
  return delta;
}

json chatChunkChoiceJson(const ChatChoice &choice) {
  return {{"index", choice.index},
          {"delta", chatDeltaJson(choice)},
          {"logprobs", chatLogprobsOrNull(choice)},
          {"finish_reason", finishReasonJson(choice.finishReason)},
          {"stop_reason", stopReasonJson(choice.stopReason)}};
}

json responseJson(const ResponseHeader &header, std::string_view object, json choices) {
  return {{"id", header.id},
          {"object", object},
          {"created", header.created},
          {"model", header.model},
          {"choices", std::move(choices)}};
}

// A chunk's usage: the counts so far, null (include_usage), or nothing.
json chunkJson(const ResponseHeader &header, std::string_view object, json choices,
               const Usage *usage) {
  json chunk = responseJson(header, object, std::move(choices));
  if (usage)
    chunk["usage"] = usageJson(*usage);
  else if (header.includeUsage)
    chunk["usage"] = nullptr;
  return chunk;
}

template <typename Choice, typename ToJson>
json choicesJson(std::span<const Choice> choices, ToJson toJson) {
  json out = json::array();
  for (const Choice &choice : choices)
    out.push_back(toJson(choice));
  return out;
}

} // namespace

// ------------------------------------------------------------------------------------------------
// Parts

json usageJson(const Usage &usage) {
  json out = {{"prompt_tokens", usage.promptTokens},
              {"completion_tokens", usage.completionTokens},
              {"total_tokens", usage.promptTokens + usage.completionTokens}};
  if (usage.cachedTokens)
    out["prompt_tokens_details"] = {{"cached_tokens", *usage.cachedTokens}};
  return out;
}

json finishReasonJson(FinishReason reason) {
  switch (reason) {
  case FinishReason::Stop: return "stop";
  case FinishReason::Length: return "length";
  case FinishReason::Abort: return "abort";
  case FinishReason::None: break;
  }
  return nullptr;
}

json stopReasonJson(const StopReason &reason) {
  if (const auto *text = std::get_if<std::string>(&reason))
    return *text;
  if (const auto *id = std::get_if<int32_t>(&reason))
    return *id;
  return nullptr;
}

json logprobJson(float logprob) {
  if (!std::isfinite(logprob))
    return kMinLogprob;
  // The shortest decimal that reads back as this float, read as a double: nlohmann then writes
  // that decimal (it prints doubles in their shortest round-trip form too).
  char text[32];
  auto written = std::to_chars(text, text + sizeof text, logprob);
  double value = 0;
  std::from_chars(text, written.ptr, value);
  return value;
}

json completionLogprobsJson(std::span<const TokenLogprob> tokens, int64_t textOffset) {
  json texts = json::array(), logprobs = json::array(), tops = json::array(),
       offsets = json::array();
  int64_t offset = textOffset;
  for (const TokenLogprob &token : tokens) {
    texts.push_back(token.sampled.token);
    logprobs.push_back(logprobJson(token.sampled.logprob));
    json top = json::object();
    for (const Logprob &alternative : token.top)
      top[alternative.token] = logprobJson(alternative.logprob);
    tops.push_back(std::move(top));
    offsets.push_back(offset);
    offset += countCodePoints(token.sampled.token);
  }
  return {{"tokens", std::move(texts)},
          {"token_logprobs", std::move(logprobs)},
          {"top_logprobs", std::move(tops)},
          {"text_offset", std::move(offsets)}};
}

json chatLogprobsJson(std::span<const TokenLogprob> tokens) {
  json content = json::array();
  for (const TokenLogprob &token : tokens) {
    json entry = chatLogprobEntry(token.sampled);
    json top = json::array();
    for (const Logprob &alternative : token.top)
      top.push_back(chatLogprobEntry(alternative));
    entry["top_logprobs"] = std::move(top);
    content.push_back(std::move(entry));
  }
  return {{"content", std::move(content)}};
}

// ------------------------------------------------------------------------------------------------
// Completions and chat

json completionJson(const ResponseHeader &header, std::span<const CompletionChoice> choices,
                    const Usage &usage) {
  json body = responseJson(header, "text_completion", choicesJson(choices, completionChoiceJson));
  body["usage"] = usageJson(usage);
  return body;
}

json completionChunkJson(const ResponseHeader &header, std::span<const CompletionChoice> choices,
                         const Usage *usage) {
  return chunkJson(header, "text_completion", choicesJson(choices, completionChoiceJson), usage);
}

json completionUsageChunkJson(const ResponseHeader &header, const Usage &usage) {
  return chunkJson(header, "text_completion", json::array(), &usage);
}

json chatCompletionJson(const ResponseHeader &header, std::span<const ChatChoice> choices,
                        const Usage &usage) {
  json body = responseJson(header, "chat.completion", choicesJson(choices, chatChoiceJson));
  body["usage"] = usageJson(usage);
  return body;
}

json chatCompletionChunkJson(const ResponseHeader &header, std::span<const ChatChoice> choices,
                             const Usage *usage) {
  return chunkJson(header, "chat.completion.chunk", choicesJson(choices, chatChunkChoiceJson),
                   usage);
}

json chatUsageChunkJson(const ResponseHeader &header, const Usage &usage) {
  return chunkJson(header, "chat.completion.chunk", json::array(), &usage);
}

// ------------------------------------------------------------------------------------------------
// Models, tokenizer, errors

json modelJson(const ModelCard &model) {
  return {{"id", model.id},
          {"object", "model"},
          {"created", model.created},
          {"owned_by", model.ownedBy},
          {"root", model.id},
          {"parent", nullptr},
          {"max_model_len", model.maxModelLen}};
}

json modelListJson(std::span<const ModelCard> models) {
  json data = json::array();
  for (const ModelCard &model : models)
    data.push_back(modelJson(model));
  return {{"object", "list"}, {"data", std::move(data)}};
}

json tokenizeJson(std::span<const int32_t> tokens, int64_t maxModelLen,
                  const std::vector<std::string> *tokenStrs) {
  json body = {{"count", tokens.size()},
               {"max_model_len", maxModelLen},
               {"tokens", std::vector<int32_t>(tokens.begin(), tokens.end())}};
  if (tokenStrs)
    body["token_strs"] = *tokenStrs;
  return body;
}

json detokenizeJson(std::string_view prompt) { return {{"prompt", prompt}}; }

json errorJson(const ApiError &error) {
  auto orNull = [](const std::string &text) { return text.empty() ? json(nullptr) : json(text); };
  return {{"error",
           {{"message", error.message},
            {"type", error.type},
            {"param", orNull(error.param)},
            {"code", orNull(error.code)}}}};
}

// ------------------------------------------------------------------------------------------------
// Text

std::string dumpJson(const json &body) {
  return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string sseEvent(const json &chunk) { return "data: " + dumpJson(chunk) + "\n\n"; }

std::string newResponseId(std::string_view prefix) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{}{:016x}{:016x}", prefix, rng(), rng());
}

int64_t unixTimeNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t countCodePoints(std::string_view text) {
  int64_t count = 0;
  for (unsigned char byte : text)
    count += (byte & 0xC0) != 0x80;
  return count;
}

std::string tokenIdText(int32_t id) { return fmt::format("token_id:{}", id); }

} // namespace llmrt::server
