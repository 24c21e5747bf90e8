// The OpenAI-compatible request bodies, parsed and validated into native structs on the HTTP
// threads (JSON never reaches the engine).
//
// Parameter names, types and ranges follow the OpenAI API and vLLM's extensions of it
// (vllm/entrypoints/openai/protocol.py), with stricter typing than pydantic's lax mode:
// - integers are JSON integers (a float with an integral value, 2.0, is taken as 2; 2.5 and "2"
//   are refused), numbers accept integers, booleans are strictly true/false, strings are strings;
//   null means "not given" for every optional parameter;
// - every parameter is known: an unknown one is refused ("unknown parameter 'foo'"); a known one
//   that llmrt does not implement is accepted only with its default value (logit_bias {} or null,
//   response_format {"type": "text"}, tool_choice "none"/"auto", ...), otherwise refused with
//   "parameter 'x' is not supported"; parameters that change nothing here (user, metadata,
//   store=false, service_tier "auto", ...) are accepted quietly;
// - the body must be a JSON object, valid UTF-8, nested at most kMaxJsonDepth levels (checked
//   before parsing, so a hostile body cannot exhaust the stack of whatever walks it later).
//
// NOTE: every parse function either returns a fully validated struct (every range below holds)
// or throws ApiError (status 400) whose message names the parameter and what is expected and
// whose `param` is the parameter's path. Nothing else escapes (nlohmann errors are translated).
// What needs the model (prompt length, token ids below the vocabulary size, the model name) is
// checked by the handlers.
#pragma once

#include "server/ApiError.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmrt::server {

inline constexpr int kMaxJsonDepth = 64;     // arrays and objects inside each other
inline constexpr int kMaxN = 64;             // choices per request
inline constexpr int kMaxLogprobs = 20;      // alternatives per token (vLLM's default limit)
inline constexpr int kMaxStopStrings = 16;
inline constexpr float kMaxRepetitionPenalty = 10;

// Fields shared by the completion and chat endpoints, validated.
struct SamplingRequest {
  std::optional<float> temperature; // [0, 2]; nullopt: the model's default
  std::optional<float> topP;        // (0, 1]; nullopt: the model's default
  std::optional<int> topK;          // 0 = off (-1 in the request is read as 0), else >= 1;
                                    // nullopt: the model's default
  float minP = 0;                   // [0, 1]
  float presencePenalty = 0;        // [-2, 2]
  float frequencyPenalty = 0;       // [-2, 2]
  float repetitionPenalty = 1;      // (0, kMaxRepetitionPenalty]; 1 = off
  std::optional<uint64_t> seed;     // [0, 2^63 - 1]
  int n = 1;                        // [1, kMaxN]; best_of is accepted only when null or == n
  // >= 1 (max_tokens or, for chat, max_completion_tokens). nullopt: up to the context length.
  // Completions without max_tokens get 16 (OpenAI's and vLLM's default); an explicit null there
  // means nullopt, as in vLLM.
  std::optional<int> maxTokens;
  int minTokens = 0;                // [0, maxTokens]
  std::vector<std::string> stop;    // non-empty strings, at most kMaxStopStrings
  std::vector<int32_t> stopTokenIds; // each >= 0 (vLLM extension)
  bool ignoreEos = false;           // vLLM extension
  bool skipSpecialTokens = true;    // vLLM extension
  bool includeStopStrInOutput = false; // vLLM extension
  // Alternatives per sampled token, [0, kMaxLogprobs]; nullopt: no logprobs at all. Completions:
  // `logprobs: N`; chat: `logprobs: true` with `top_logprobs: N` (0 when absent).
  std::optional<int> logprobs;
  bool returnTokensAsTokenIds = false; // vLLM extension: logprob tokens as "token_id:ID"
  bool stream = false;
  bool includeUsage = false;        // stream_options.include_usage
  bool continuousUsageStats = false; // stream_options.continuous_usage_stats (vLLM): every chunk
                                     // carries the usage so far (only with include_usage)
  // Not sampling, but shared by both endpoints:
  std::string user;                 // accepted, unused
  std::string requestId;            // vLLM's request_id; empty: the server makes one
  int priority = 0;                 // vLLM extension: smaller is scheduled first
  std::string cacheSalt;            // vLLM's cache_salt: non-empty when given
};

struct PromptInput {
  bool isTokens = false;
  std::string text;            // when !isTokens (may be empty)
  std::vector<int32_t> tokens; // when isTokens: non-empty, each >= 0
};

struct CompletionRequest {
  std::string model;               // non-empty
  std::vector<PromptInput> prompts; // "prompt": string | [string] | [int] | [[int]]; non-empty
  bool echo = false;               // the prompt text is prepended to each choice's text
  bool addSpecialTokens = true;    // vLLM extension (e.g. BOS)
  SamplingRequest sampling;
};

enum class ToolChoice { None, Auto };

struct ChatRequest {
  std::string model; // non-empty
  // A non-empty array of messages, each an object with only these keys:
  //   role: "system" | "developer" | "user" | "assistant" | "tool";
  //   content: a string, or a non-empty array of {"type": "text", "text": string} parts (kept as
  //     given), or null/absent only for an assistant message with non-empty tool_calls;
  //   name: string; tool_call_id: string (tool messages);
  //   tool_calls (assistant): [{"id": string, "type": "function",
  //                             "function": {"name": string, "arguments": string}}].
  // Fields the OpenAI client echoes back from a response (refusal, annotations, audio,
  // function_call, reasoning_content: null) are dropped.
  nlohmann::ordered_json messages;
  // null, or a non-empty array of {"type": "function", "function": {"name": non-empty string,
  // "description"?: string, "parameters"?: object, "strict"?: bool}} ("type" added when absent).
  nlohmann::ordered_json tools;
  // "auto" when tools are given and tool_choice is not. None: the model is not to call tools (vLLM
  // then leaves the tools out of the prompt by default); the tools are still here.
  ToolChoice toolChoice = ToolChoice::None;
  bool addGenerationPrompt = true;          // vLLM extensions; both true is refused
  bool continueFinalMessage = false;
  bool addSpecialTokens = false;            // vLLM extension (the template adds BOS itself)
  nlohmann::ordered_json chatTemplateKwargs = nlohmann::ordered_json::object(); // vLLM extension: an object
  SamplingRequest sampling;
};

// POST /tokenize (vLLM): {"prompt": string} or {"messages": [...]} (validated as in ChatRequest).
struct TokenizeRequest {
  std::string model; // may be empty (the served model)
  bool isChat = false;
  std::string prompt;
  nlohmann::ordered_json messages;
  nlohmann::ordered_json tools;                // chat only: as in ChatRequest
  bool addSpecialTokens = true;        // default true for a prompt, false for messages
  bool addGenerationPrompt = true;     // chat only
  bool continueFinalMessage = false;   // chat only
  nlohmann::ordered_json chatTemplateKwargs = nlohmann::ordered_json::object();
  bool returnTokenStrs = false;
};

// POST /detokenize (vLLM).
struct DetokenizeRequest {
  std::string model;           // may be empty
  std::vector<int32_t> tokens; // each >= 0; may be empty
};

CompletionRequest parseCompletionRequest(std::string_view body);
ChatRequest parseChatRequest(std::string_view body);
TokenizeRequest parseTokenizeRequest(std::string_view body);
DetokenizeRequest parseDetokenizeRequest(std::string_view body);

// The body as a JSON object, or ApiError 400 (too deep, not JSON, not UTF-8, not an object).
nlohmann::ordered_json parseRequestBody(std::string_view body);

} // namespace llmrt::server
