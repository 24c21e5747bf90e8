// Native results -> the OpenAI response bodies and stream chunks, in the shapes the `openai`
// Python client parses (with vLLM's extra fields: stop_reason, max_model_len).
//
// The handlers fill these structs from engine outputs; what text stands for a token (its
// detokenized piece, or "token_id:ID" for return_tokens_as_token_ids) is theirs to decide, since
// they hold the detokenizer.
//
// Streams: every chunk of one response repeats its id, created and model (ResponseHeader). A
// chat stream opens each choice with a role delta ({"role": "assistant", "content": ""}), then
// sends content deltas; the chunk that finishes a choice carries its finish_reason. With
// stream_options.include_usage every chunk carries "usage": null and one last chunk (choices []),
// made by *UsageChunkJson, carries the counts, as OpenAI does; then kSseDone.
//
// Objects keep their members in the order written (ordered_json): the order OpenAI uses (id,
// object, created, model, choices, usage), and completions' top_logprobs dicts best first.
//
// NOTE: floats: a logprob is written as the shortest decimal that reads back as the same float
// (-0.1, not -0.10000000149011612); a non-finite one (-inf for a token the sampler excluded) as
// kMinLogprob, like vLLM, so the body is always valid JSON. Strings that are not valid UTF-8
// (a token piece cut inside a character) are written with U+FFFD in place of the bad bytes;
// `bytes` in chat logprobs carries the exact bytes.
#pragma once

#include "server/ApiError.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace llmrt::server {

inline constexpr double kMinLogprob = -9999.0;

enum class FinishReason {
  None,   // not finished (a stream chunk in the middle): null
  Stop,   // eos, a stop string or a stop token id: "stop"
  Length, // max_tokens or the context length: "length"
  Abort,  // aborted (client gone, server shutting down): "abort", as vLLM sends
};

// vLLM's stop_reason: the stop string or stop token id that finished the choice; null for
// anything else (eos included).
using StopReason = std::variant<std::monostate, std::string, int32_t>;

struct Logprob {
  std::string token;                // the text piece shown for the token
  float logprob = 0;
  std::optional<std::string> bytes; // its exact bytes, when they differ from `token`
};

struct TokenLogprob {
  Logprob sampled;
  // The alternatives, best first, written as given: chat sends the top N; completions (OpenAI
  // and vLLM) send the top N plus the sampled token when it is not among them.
  std::vector<Logprob> top;
};

struct Usage {
  int64_t promptTokens = 0;
  int64_t completionTokens = 0;
  std::optional<int64_t> cachedTokens; // prompt tokens found in the prefix cache, when reported
};

// What every body and chunk of one response repeats.
struct ResponseHeader {
  std::string id;       // "cmpl-..." or "chatcmpl-..." (newResponseId)
  int64_t created = 0;  // Unix seconds (unixTimeNow)
  std::string model;
  bool includeUsage = false; // streams: chunks carry "usage": null, the usage chunk ends them
};

struct CompletionChoice {
  int index = 0;
  std::string text; // the whole text, or this chunk's new text
  FinishReason finishReason = FinishReason::None;
  StopReason stopReason;
  std::optional<std::vector<TokenLogprob>> logprobs; // one per token of `text`
  // text_offset of the first token: the code points before it in the choice's text (the echoed
  // prompt, the text of earlier chunks). Later offsets add each token's code points.
  int64_t textOffset = 0;
};

struct ChatChoice {
  int index = 0;
  std::string content; // the whole message, or this chunk's new text
  FinishReason finishReason = FinishReason::None;
  StopReason stopReason;
  std::optional<std::vector<TokenLogprob>> logprobs; // one per token of `content`
  bool roleDelta = false; // streams: this chunk opens the choice (delta carries the role)
};

struct ModelCard {
  std::string id;
  int64_t created = 0;
  int64_t maxModelLen = 0;
  std::string ownedBy = "llmrt";
};

// /v1/completions
nlohmann::ordered_json completionJson(const ResponseHeader &header,
                              std::span<const CompletionChoice> choices, const Usage &usage);
// `usage`: the counts so far (stream_options.continuous_usage_stats), or nullptr.
nlohmann::ordered_json completionChunkJson(const ResponseHeader &header,
                                   std::span<const CompletionChoice> choices,
                                   const Usage *usage = nullptr);
nlohmann::ordered_json completionUsageChunkJson(const ResponseHeader &header, const Usage &usage);

// /v1/chat/completions
nlohmann::ordered_json chatCompletionJson(const ResponseHeader &header,
                                  std::span<const ChatChoice> choices, const Usage &usage);
nlohmann::ordered_json chatCompletionChunkJson(const ResponseHeader &header,
                                       std::span<const ChatChoice> choices,
                                       const Usage *usage = nullptr);
nlohmann::ordered_json chatUsageChunkJson(const ResponseHeader &header, const Usage &usage);

// The parts, for handlers that build other shapes.
nlohmann::ordered_json usageJson(const Usage &usage);
nlohmann::ordered_json finishReasonJson(FinishReason reason);
nlohmann::ordered_json stopReasonJson(const StopReason &reason);
nlohmann::ordered_json logprobJson(float logprob); // finite, shortest round-trip decimal
nlohmann::ordered_json completionLogprobsJson(std::span<const TokenLogprob> tokens,
                                              int64_t textOffset);
nlohmann::ordered_json chatLogprobsJson(std::span<const TokenLogprob> tokens);

// /v1/models and /v1/models/{id}
nlohmann::ordered_json modelJson(const ModelCard &model);
nlohmann::ordered_json modelListJson(std::span<const ModelCard> models);

// /tokenize and /detokenize (vLLM). `tokenStrs`: for return_token_strs, or nullptr.
nlohmann::ordered_json tokenizeJson(std::span<const int32_t> tokens, int64_t maxModelLen,
                            const std::vector<std::string> *tokenStrs = nullptr);
nlohmann::ordered_json detokenizeJson(std::string_view prompt);

// {"error": {"message", "type", "param", "code"}}; empty param and code are written as null.
nlohmann::ordered_json errorJson(const ApiError &error);

// A body as text: compact, invalid UTF-8 replaced (never throws for a string's content).
std::string dumpJson(const nlohmann::ordered_json &body);

// Server-sent events: one "data: <json>\n\n" frame per chunk, then kSseDone.
std::string sseEvent(const nlohmann::ordered_json &chunk);
inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";

// prefix + 32 random hex digits ("cmpl-", "chatcmpl-"); thread-safe.
std::string newResponseId(std::string_view prefix);
int64_t unixTimeNow();
// Characters in UTF-8 text, what text_offset counts: the bytes that are not continuation bytes.
int64_t countCodePoints(std::string_view text);
// The token text of return_tokens_as_token_ids: "token_id:ID".
std::string tokenIdText(int32_t id);

} // namespace llmrt::server
