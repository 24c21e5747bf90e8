#include "server/OpenAIRequest.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

namespace llmrt::server {
namespace {

using json = nlohmann::ordered_json; // insertion order: templates print tools and messages as sent

constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();
constexpr int64_t kInt32Min = std::numeric_limits<int32_t>::min();
constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

// ------------------------------------------------------------------------------------------------
// Messages about values

// A value as the client wrote it, cut short (invalid UTF-8 cannot occur: the parser refused it).
std::string describe(const json &value) {
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > 48)
    text = text.substr(0, 45) + "...";
  return text;
}

std::string typeName(const json &value) {
  switch (value.type()) {
  case json::value_t::null: return "null";
  case json::value_t::boolean: return "a boolean";
  case json::value_t::number_integer:
  case json::value_t::number_unsigned:
  case json::value_t::number_float: return "a number";
  case json::value_t::string: return "a string";
  case json::value_t::array: return "an array";
  case json::value_t::object: return "an object";
  default: return "an unsupported value";
  }
}

std::string member(const std::string &prefix, std::string_view key) {
  return prefix.empty() ? std::string(key) : fmt::format("{}.{}", prefix, key);
}

std::string element(const std::string &prefix, size_t index) {
  return fmt::format("{}[{}]", prefix, index);
}

[[noreturn]] void invalid(const std::string &path, std::string message,
                          std::string code = "invalid_value") {
  throw ApiError::badRequest(std::move(message), path, std::move(code));
}

[[noreturn]] void wrongType(const std::string &path, std::string_view expected,
                            const json &got) {
  invalid(path, fmt::format("'{}' must be {}; got {}.", path, expected, typeName(got)),
          "invalid_type");
}

[[noreturn]] void missing(const std::string &path) {
  invalid(path, fmt::format("The parameter '{}' is required.", path),
          "missing_required_parameter");
}

[[noreturn]] void unsupported(const std::string &path, std::string_view accepted) {
  invalid(path,
          fmt::format("The parameter '{}' is not supported (only {} is accepted).", path, accepted),
          "unsupported_parameter");
}

// ------------------------------------------------------------------------------------------------
// Typed values

bool readBool(const json &value, const std::string &path) {
  if (!value.is_boolean())
    wrongType(path, "true or false", value);
  return value.get<bool>();
}

std::string readString(const json &value, const std::string &path) {
  if (!value.is_string())
    wrongType(path, "a string", value);
  return value.get<std::string>();
}

std::string integerRange(int64_t lo, int64_t hi) {
  if (hi >= kInt32Max)
    return fmt::format("an integer >= {} (at most {})", lo, hi);
  return fmt::format("an integer in [{}, {}]", lo, hi);
}

// An integer in [lo, hi] (0 <= hi). A float with an integral value is taken as that integer.
int64_t readInt(const json &value, const std::string &path, int64_t lo, int64_t hi) {
  if (!value.is_number())
    wrongType(path, "an integer", value);
  bool outside = false;
  int64_t x = 0;
  if (value.is_number_unsigned()) {
    uint64_t u = value.get<uint64_t>();
    outside = u > static_cast<uint64_t>(hi);
    x = outside ? 0 : static_cast<int64_t>(u);
  } else if (value.is_number_integer()) {
    x = value.get<int64_t>();
  } else {
    double d = value.get<double>();
    if (!std::isfinite(d) || std::trunc(d) != d)
      invalid(path, fmt::format("'{}' must be an integer; got {}.", path, describe(value)),
              "invalid_type");
    outside = d >= 0x1p63 || d < -0x1p63;
    x = outside ? 0 : static_cast<int64_t>(d);
  }
  if (outside || x < lo || x > hi)
    invalid(path, fmt::format("'{}' must be {}; got {}.", path, integerRange(lo, hi),
                              describe(value)));
  return x;
}

// A finite number in [lo, hi], or (lo, hi] when loOpen.
double readNumber(const json &value, const std::string &path, double lo, double hi,
                  bool loOpen = false) {
  if (!value.is_number())
    wrongType(path, "a number", value);
  double d = value.get<double>();
  if (!std::isfinite(d) || d < lo || (loOpen && d == lo) || d > hi)
    invalid(path, fmt::format("'{}' must be a number in {}{}, {}]; got {}.", path,
                              loOpen ? '(' : '[', lo, hi, describe(value)));
  return d;
}

// ------------------------------------------------------------------------------------------------
// The parameters of one JSON object: every read marks its key as known, so that what is left at
// the end is unknown.

class Params {
public:
  Params(const json &object, std::string prefix) : object_(object), prefix_(std::move(prefix)) {}

  std::string path(std::string_view key) const { return member(prefix_, key); }

  bool has(std::string_view key) const { return object_.contains(key); }

  // The value of `key`; nullptr when absent or null (null means "not given" everywhere).
  const json *get(std::string_view key) {
    known_.emplace_back(key);
    auto it = object_.find(key);
    return it == object_.end() || it->is_null() ? nullptr : &*it;
  }
  const json &require(std::string_view key) {
    const json *value = get(key);
    if (!value)
      missing(path(key));
    return *value;
  }

  std::optional<bool> boolean(std::string_view key) {
    const json *value = get(key);
    return value ? std::optional(readBool(*value, path(key))) : std::nullopt;
  }
  std::optional<int64_t> integer(std::string_view key, int64_t lo, int64_t hi) {
    const json *value = get(key);
    return value ? std::optional(readInt(*value, path(key), lo, hi)) : std::nullopt;
  }
  std::optional<double> number(std::string_view key, double lo, double hi, bool loOpen = false) {
    const json *value = get(key);
    return value ? std::optional(readNumber(*value, path(key), lo, hi, loOpen)) : std::nullopt;
  }
  std::optional<std::string> string(std::string_view key) {
    const json *value = get(key);
    return value ? std::optional(readString(*value, path(key))) : std::nullopt;
  }

  // Accepted and ignored, when of the right type (null included).
  void ignoreString(std::string_view key) { (void)string(key); }
  void ignoreBool(std::string_view key) { (void)boolean(key); }
  void ignoreObject(std::string_view key) {
    if (const json *value = get(key); value && !value->is_object())
      wrongType(path(key), "an object", *value);
  }

  // Known but not implemented: accepted only when absent, null or `isDefault`; `accepted` says
  // what is accepted, for the message.
  void onlyDefault(std::string_view key, const std::function<bool(const json &)> &isDefault,
                   std::string_view accepted) {
    if (const json *value = get(key); value && !isDefault(*value))
      unsupported(path(key), accepted);
  }
  void onlyNull(std::string_view key) {
    onlyDefault(key, [](const json &) { return false; }, "null");
  }
  void onlyEmpty(std::string_view key) { // an empty array or object
    onlyDefault(key, [](const json &v) { return (v.is_array() || v.is_object()) && v.empty(); },
                "an empty value or null");
  }
  void onlyBool(std::string_view key, bool accepted) {
    onlyDefault(key, [accepted](const json &v) { return v.is_boolean() && v == accepted; },
                accepted ? "true" : "false");
  }

  // Throws for the first key no read asked about.
  void rejectUnknown() const {
    for (auto it = object_.begin(); it != object_.end(); ++it) {
      if (std::find(known_.begin(), known_.end(), it.key()) != known_.end())
        continue;
      std::string key = it.key().size() > 64 ? it.key().substr(0, 61) + "..." : it.key();
      std::string where = path(key);
      invalid(where, fmt::format("Unknown parameter '{}'.", where), "unknown_parameter");
    }
  }

private:
  const json &object_;
  std::string prefix_;
  // NOTE: the keys are string literals (static storage), so views of them stay valid.
  std::vector<std::string_view> known_;
};

// ------------------------------------------------------------------------------------------------
// The body

// The request's nesting, counted on the raw text before parsing: brackets outside strings. For a
// body the parser would refuse, the count is exact up to where the parser stops.
void checkNesting(std::string_view body) {
  int depth = 0;
  bool inString = false, escaped = false;
  for (size_t i = 0; i < body.size(); ++i) {
    char c = body[i];
    if (inString) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        inString = false;
    } else if (c == '"') {
      inString = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth)
        invalid("",
                fmt::format("The request body nests arrays and objects more than {} levels deep "
                            "(at byte {}).",
                            kMaxJsonDepth, i),
                "invalid_json");
    } else if (c == ']' || c == '}') {
      depth = std::max(0, depth - 1);
    }
  }
}

// nlohmann's message without its "[json.exception.parse_error.101] " tag, in printable ASCII
// (it quotes what it last read, which may be the invalid bytes themselves).
std::string parseErrorText(const nlohmann::json::exception &error) {
  std::string_view text = error.what();
  if (size_t tag = text.find("] "); !text.empty() && text[0] == '[' && tag != text.npos)
    text.remove_prefix(tag + 2);
  std::string out;
  for (unsigned char c : text) {
    if (c >= 0x20 && c < 0x7f)
      out += static_cast<char>(c);
    else
      out += fmt::format("\\x{:02X}", c);
  }
  return out;
}

// ------------------------------------------------------------------------------------------------
// Shared parameters

std::string readModel(Params &p, bool required) {
  const json *value = p.get("model");
  if (!value) {
    if (required)
      missing("model");
    return {};
  }
  std::string model = readString(*value, "model");
  if (required && model.empty())
    invalid("model", "'model' must be a non-empty string.");
  return model;
}

std::vector<int32_t> readTokenIds(const json &value, const std::string &path) {
  if (!value.is_array())
    wrongType(path, "an array of token ids", value);
  std::vector<int32_t> ids;
  ids.reserve(value.size());
  for (size_t i = 0; i < value.size(); ++i)
    ids.push_back(static_cast<int32_t>(readInt(value[i], element(path, i), 0, kInt32Max)));
  return ids;
}

std::vector<std::string> readStop(const json &value) {
  if (value.is_string()) {
    if (value.get_ref<const std::string &>().empty())
      invalid("stop", "'stop' must not be an empty string.");
    return {value.get<std::string>()};
  }
  if (!value.is_array())
    wrongType("stop", "a string or an array of strings", value);
  if (value.size() > static_cast<size_t>(kMaxStopStrings))
    invalid("stop", fmt::format("'stop' holds {} strings; at most {} are allowed.", value.size(),
                                kMaxStopStrings));
  std::vector<std::string> stop;
  for (size_t i = 0; i < value.size(); ++i) {
    std::string path = element("stop", i);
    stop.push_back(readString(value[i], path));
    if (stop.back().empty())
      invalid(path, fmt::format("'{}' must not be an empty string.", path));
  }
  return stop;
}

enum class Endpoint { Completions, Chat };

void readPenalties(Params &p, SamplingRequest &s) {
  if (auto v = p.number("temperature", 0, 2))
    s.temperature = static_cast<float>(*v);
  if (auto v = p.number("top_p", 0, 1, /*loOpen=*/true))
    s.topP = static_cast<float>(*v);
  if (auto v = p.integer("top_k", -1, kInt32Max))
    s.topK = *v <= 0 ? 0 : static_cast<int>(*v);
  s.minP = static_cast<float>(p.number("min_p", 0, 1).value_or(0));
  s.presencePenalty = static_cast<float>(p.number("presence_penalty", -2, 2).value_or(0));
  s.frequencyPenalty = static_cast<float>(p.number("frequency_penalty", -2, 2).value_or(0));
  s.repetitionPenalty = static_cast<float>(
      p.number("repetition_penalty", 0, kMaxRepetitionPenalty, /*loOpen=*/true).value_or(1));
  if (auto v = p.integer("seed", 0, kInt64Max))
    s.seed = static_cast<uint64_t>(*v);
}

// n, best_of, max_tokens (+ max_completion_tokens for chat), min_tokens.
void readCounts(Params &p, SamplingRequest &s, Endpoint endpoint) {
  s.n = static_cast<int>(p.integer("n", 1, kMaxN).value_or(1));
  if (auto bestOf = p.integer("best_of", 1, kInt32Max); bestOf && *bestOf != s.n)
    invalid("best_of",
            fmt::format("The parameter 'best_of' is not supported unless it equals 'n' ({}); "
                        "got {}.",
                        s.n, *bestOf),
            "unsupported_parameter");

  bool maxTokensGiven = p.has("max_tokens");
  std::optional<int64_t> maxTokens = p.integer("max_tokens", 1, kInt32Max);
  if (endpoint == Endpoint::Chat) {
    auto maxCompletion = p.integer("max_completion_tokens", 1, kInt32Max);
    if (maxTokens && maxCompletion && *maxTokens != *maxCompletion)
      invalid("max_completion_tokens",
              fmt::format("'max_tokens' ({}) and 'max_completion_tokens' ({}) disagree; give "
                          "one of them.",
                          *maxTokens, *maxCompletion));
    if (maxCompletion)
      maxTokens = maxCompletion;
  } else if (!maxTokensGiven) {
    maxTokens = 16; // the API's default for completions; an explicit null means "no limit"
  }
  if (maxTokens)
    s.maxTokens = static_cast<int>(*maxTokens);

  s.minTokens = static_cast<int>(p.integer("min_tokens", 0, kInt32Max).value_or(0));
  if (s.maxTokens && s.minTokens > *s.maxTokens)
    invalid("min_tokens", fmt::format("'min_tokens' ({}) must not exceed the maximum number of "
                                      "tokens ({}).",
                                      s.minTokens, *s.maxTokens));
}

void readStopping(Params &p, SamplingRequest &s) {
  if (const json *stop = p.get("stop"))
    s.stop = readStop(*stop);
  if (const json *ids = p.get("stop_token_ids"))
    s.stopTokenIds = readTokenIds(*ids, "stop_token_ids");
  s.ignoreEos = p.boolean("ignore_eos").value_or(false);
  s.skipSpecialTokens = p.boolean("skip_special_tokens").value_or(true);
  s.includeStopStrInOutput = p.boolean("include_stop_str_in_output").value_or(false);
  p.onlyBool("spaces_between_special_tokens", true);
}

void readLogprobs(Params &p, SamplingRequest &s, Endpoint endpoint) {
  if (endpoint == Endpoint::Completions) {
    if (auto n = p.integer("logprobs", 0, kMaxLogprobs))
      s.logprobs = static_cast<int>(*n);
  } else {
    bool wanted = p.boolean("logprobs").value_or(false);
    auto top = p.integer("top_logprobs", 0, kMaxLogprobs);
    if (top && *top > 0 && !wanted)
      invalid("top_logprobs", "'top_logprobs' needs 'logprobs' set to true.");
    if (wanted)
      s.logprobs = static_cast<int>(top.value_or(0));
  }
  s.returnTokensAsTokenIds = p.boolean("return_tokens_as_token_ids").value_or(false);
}

void readStreaming(Params &p, SamplingRequest &s) {
  s.stream = p.boolean("stream").value_or(false);
  const json *options = p.get("stream_options");
  if (!options)
    return;
  if (!s.stream)
    invalid("stream_options", "'stream_options' is only allowed when 'stream' is true.");
  if (!options->is_object())
    wrongType("stream_options", "an object", *options);
  Params o(*options, "stream_options");
  s.includeUsage = o.boolean("include_usage").value_or(false);
  s.continuousUsageStats = o.boolean("continuous_usage_stats").value_or(false);
  o.ignoreBool("include_obfuscation");
  o.rejectUnknown();
}

// vLLM's request fields that are not sampling.
void readRequestOptions(Params &p, SamplingRequest &s) {
  s.user = p.string("user").value_or("");
  s.requestId = p.string("request_id").value_or("");
  s.priority = static_cast<int>(p.integer("priority", kInt32Min, kInt32Max).value_or(0));
  if (auto salt = p.string("cache_salt")) {
    if (salt->empty())
      invalid("cache_salt", "'cache_salt' must be a non-empty string when given.");
    s.cacheSalt = *salt;
  }
}

bool isTextFormat(const json &v) {
  return v.is_object() && v.size() == 1 && v.contains("type") && v["type"] == "text";
}

// Parameters of OpenAI and vLLM that llmrt does not implement, accepted with their defaults.
void readUnsupported(Params &p) {
  p.onlyEmpty("logit_bias");
  p.onlyDefault("response_format", isTextFormat, "{\"type\": \"text\"}");
  p.onlyBool("use_beam_search", false);
  p.onlyDefault("length_penalty", [](const json &v) { return v.is_number() && v == 1.0; }, "1");
  for (std::string_view key :
       {"truncate_prompt_tokens", "prompt_logprobs", "allowed_token_ids", "guided_json",
        "guided_regex", "guided_choice", "guided_grammar", "guided_decoding_backend",
        "guided_whitespace_pattern", "structural_tag", "kv_transfer_params", "prompt_embeds"})
    p.onlyNull(key);
  for (std::string_view key : {"logits_processors", "bad_words", "vllm_xargs",
                               "mm_processor_kwargs"})
    p.onlyEmpty(key);
}

SamplingRequest readSampling(Params &p, Endpoint endpoint) {
  SamplingRequest s;
  readPenalties(p, s);
  readCounts(p, s, endpoint);
  readStopping(p, s);
  readLogprobs(p, s, endpoint);
  readStreaming(p, s);
  readRequestOptions(p, s);
  readUnsupported(p);
  return s;
}

// ------------------------------------------------------------------------------------------------
// Completions

PromptInput textPrompt(std::string text) {
  PromptInput prompt;
  prompt.text = std::move(text);
  return prompt;
}

PromptInput tokenPrompt(std::vector<int32_t> tokens) {
  PromptInput prompt;
  prompt.isTokens = true;
  prompt.tokens = std::move(tokens);
  return prompt;
}

std::vector<PromptInput> readPrompts(const json &value) {
  const std::string path = "prompt";
  if (value.is_string())
    return {textPrompt(value.get<std::string>())};
  if (!value.is_array())
    wrongType(path, "a string, an array of strings, an array of token ids or an array of arrays "
                    "of token ids",
              value);
  if (value.empty())
    invalid(path, "'prompt' must not be an empty array.");
  std::vector<PromptInput> prompts;
  if (value[0].is_number()) {
    prompts.push_back(tokenPrompt(readTokenIds(value, path)));
    return prompts;
  }
  const bool strings = value[0].is_string();
  for (size_t i = 0; i < value.size(); ++i) {
    std::string where = element(path, i);
    if (strings) {
      prompts.push_back(textPrompt(readString(value[i], where)));
      continue;
    }
    std::vector<int32_t> tokens = readTokenIds(value[i], where);
    if (tokens.empty())
      invalid(where, fmt::format("'{}' must not be an empty array of token ids.", where));
    prompts.push_back(tokenPrompt(std::move(tokens)));
  }
  return prompts;
}

// ------------------------------------------------------------------------------------------------
// Chat messages

bool isOneOf(std::string_view value, std::initializer_list<std::string_view> options) {
  return std::find(options.begin(), options.end(), value) != options.end();
}

json readTextPart(const json &part, const std::string &path) {
  if (!part.is_object())
    wrongType(path, "a content part object", part);
  Params p(part, path);
  std::string type = readString(p.require("type"), p.path("type"));
  if (type != "text")
    invalid(p.path("type"),
            fmt::format("Unsupported content part type '{}' in '{}' (only 'text' parts are "
                        "supported).",
                        type, path),
            "unsupported_value");
  std::string text = readString(p.require("text"), p.path("text"));
  p.rejectUnknown();
  return json{{"type", "text"}, {"text", std::move(text)}};
}

json readContent(const json &content, const std::string &path) {
  if (content.is_string())
    return content;
  if (!content.is_array())
    wrongType(path, "a string or an array of text parts", content);
  if (content.empty())
    invalid(path, fmt::format("'{}' must not be an empty array.", path));
  json parts = json::array();
  for (size_t i = 0; i < content.size(); ++i)
    parts.push_back(readTextPart(content[i], element(path, i)));
  return parts;
}

json readToolCall(const json &call, const std::string &path) {
  if (!call.is_object())
    wrongType(path, "a tool call object", call);
  Params p(call, path);
  json out = json::object();
  if (auto id = p.string("id"))
    out["id"] = *id;
  if (auto type = p.string("type"); type && *type != "function")
    invalid(p.path("type"),
            fmt::format("'{}' must be \"function\"; got {}.", p.path("type"), json(*type).dump()),
            "unsupported_value");
  out["type"] = "function";
  (void)p.integer("index", 0, kInt32Max); // streamed tool calls carry it; meaningless here
  const json &function = p.require("function");
  if (!function.is_object())
    wrongType(p.path("function"), "an object", function);
  Params f(function, p.path("function"));
  out["function"] = {{"name", readString(f.require("name"), f.path("name"))},
                     {"arguments", readString(f.require("arguments"), f.path("arguments"))}};
  f.rejectUnknown();
  p.rejectUnknown();
  return out;
}

json readToolCalls(const json &calls, const std::string &path) {
  if (!calls.is_array())
    wrongType(path, "an array of tool calls", calls);
  json out = json::array();
  for (size_t i = 0; i < calls.size(); ++i)
    out.push_back(readToolCall(calls[i], element(path, i)));
  return out;
}

json readMessage(const json &message, const std::string &path) {
  if (!message.is_object())
    wrongType(path, "a message object", message);
  Params p(message, path);
  std::string role = readString(p.require("role"), p.path("role"));
  if (!isOneOf(role, {"system", "developer", "user", "assistant", "tool"}))
    invalid(p.path("role"),
            fmt::format("'{}' must be one of system, developer, user, assistant, tool; got {}.",
                        p.path("role"), json(role).dump(-1, ' ', false,
                                                        json::error_handler_t::replace)));
  json out = {{"role", role}};
  if (auto name = p.string("name"))
    out["name"] = *name;
  if (role == "tool") {
    if (auto id = p.string("tool_call_id"))
      out["tool_call_id"] = *id;
  }
  if (role == "assistant") {
    if (const json *calls = p.get("tool_calls")) {
      json read = readToolCalls(*calls, p.path("tool_calls"));
      if (!read.empty())
        out["tool_calls"] = std::move(read);
    }
    // What the OpenAI client echoes back from a response message.
    for (std::string_view key : {"refusal", "audio", "function_call", "reasoning_content"})
      p.onlyNull(key);
    if (const json *annotations = p.get("annotations"); annotations && !annotations->is_array())
      wrongType(p.path("annotations"), "an array", *annotations);
  }
  if (const json *content = p.get("content"))
    out["content"] = readContent(*content, p.path("content"));
  else if (out.contains("tool_calls"))
    out["content"] = nullptr;
  else
    invalid(p.path("content"),
            fmt::format("The parameter '{}' is required (it may be null only in an assistant "
                        "message with tool_calls).",
                        p.path("content")),
            "missing_required_parameter");
  p.rejectUnknown();
  return out;
}

json readMessages(const json &messages) {
  if (!messages.is_array())
    wrongType("messages", "an array of messages", messages);
  if (messages.empty())
    invalid("messages", "'messages' must hold at least one message.");
  json out = json::array();
  for (size_t i = 0; i < messages.size(); ++i)
    out.push_back(readMessage(messages[i], element("messages", i)));
  return out;
}

json readTool(const json &tool, const std::string &path) {
  if (!tool.is_object())
    wrongType(path, "a tool object", tool);
  Params p(tool, path);
  if (auto type = p.string("type"); type && *type != "function")
    invalid(p.path("type"),
            fmt::format("Tools of type {} are not supported in '{}' (only \"function\").",
                        json(*type).dump(-1, ' ', false, json::error_handler_t::replace), path),
            "unsupported_value");
  const json &function = p.require("function");
  if (!function.is_object())
    wrongType(p.path("function"), "an object", function);
  Params f(function, p.path("function"));
  json out = {{"name", readString(f.require("name"), f.path("name"))}};
  if (out["name"].get_ref<const std::string &>().empty())
    invalid(f.path("name"), fmt::format("'{}' must be a non-empty string.", f.path("name")));
  if (auto description = f.string("description"))
    out["description"] = *description;
  if (const json *parameters = f.get("parameters")) {
    if (!parameters->is_object())
      wrongType(f.path("parameters"), "an object (a JSON schema)", *parameters);
    out["parameters"] = *parameters;
  }
  if (auto strict = f.boolean("strict"))
    out["strict"] = *strict;
  f.rejectUnknown();
  p.rejectUnknown();
  return json{{"type", "function"}, {"function", std::move(out)}};
}

// null when absent, null or empty.
json readTools(Params &p) {
  const json *tools = p.get("tools");
  if (!tools)
    return nullptr;
  if (!tools->is_array())
    wrongType("tools", "an array of tools", *tools);
  if (tools->empty())
    return nullptr;
  json out = json::array();
  for (size_t i = 0; i < tools->size(); ++i)
    out.push_back(readTool((*tools)[i], element("tools", i)));
  return out;
}

ToolChoice readToolChoice(Params &p, bool haveTools) {
  const json *choice = p.get("tool_choice");
  if (!choice)
    return haveTools ? ToolChoice::Auto : ToolChoice::None;
  if (choice->is_object())
    invalid("tool_choice",
            "A named 'tool_choice' is not supported (only \"none\" or \"auto\" is accepted).",
            "unsupported_parameter");
  std::string value = readString(*choice, "tool_choice");
  if (value == "none")
    return ToolChoice::None;
  if (value == "required")
    unsupported("tool_choice", "\"none\" or \"auto\"");
  if (value != "auto")
    invalid("tool_choice", fmt::format("'tool_choice' must be \"none\", \"auto\", \"required\" "
                                       "or a named tool; got {}.",
                                       describe(*choice)));
  if (!haveTools)
    invalid("tool_choice", "'tool_choice' \"auto\" needs 'tools'.");
  return ToolChoice::Auto;
}

// OpenAI's chat parameters that change nothing here or are not implemented.
void readChatOnlyUnsupported(Params &p) {
  p.ignoreObject("metadata");
  p.ignoreString("prompt_cache_key");
  p.ignoreString("prompt_cache_retention");
  p.ignoreObject("prompt_cache_options");
  p.ignoreString("safety_identifier");
  p.ignoreBool("include_reasoning");
  p.onlyBool("store", false);
  p.onlyBool("parallel_tool_calls", true);
  p.onlyBool("echo", false);
  p.onlyDefault("service_tier",
                [](const json &v) { return v == "auto" || v == "default"; },
                "\"auto\" or \"default\"");
  p.onlyDefault("modalities", [](const json &v) { return v == json::array({"text"}); },
                "[\"text\"]");
  p.onlyEmpty("functions");
  p.onlyDefault("function_call", [](const json &v) { return v == "none" || v == "auto"; },
                "\"none\" or \"auto\"");
  for (std::string_view key : {"audio", "prediction", "reasoning_effort", "verbosity",
                               "web_search_options", "moderation", "documents", "chat_template"})
    p.onlyNull(key);
}

// add_generation_prompt / continue_final_message (vLLM); both true is refused.
void readGenerationPrompt(Params &p, bool &addGenerationPrompt, bool &continueFinalMessage) {
  addGenerationPrompt = p.boolean("add_generation_prompt").value_or(true);
  continueFinalMessage = p.boolean("continue_final_message").value_or(false);
  if (addGenerationPrompt && continueFinalMessage)
    invalid("continue_final_message",
            "'continue_final_message' and 'add_generation_prompt' cannot both be true (set "
            "'add_generation_prompt' to false to continue the final message).");
}

json readTemplateKwargs(Params &p) {
  const json *kwargs = p.get("chat_template_kwargs");
  if (!kwargs)
    return json::object();
  if (!kwargs->is_object())
    wrongType("chat_template_kwargs", "an object", *kwargs);
  return *kwargs;
}

} // namespace

// ------------------------------------------------------------------------------------------------

json parseRequestBody(std::string_view body) {
  checkNesting(body);
  json value;
  try {
    value = json::parse(body.begin(), body.end());
  } catch (const json::exception &error) {
    invalid("", fmt::format("The request body is not valid JSON: {}", parseErrorText(error)),
            "invalid_json");
  }
  if (!value.is_object())
    invalid("", fmt::format("The request body must be a JSON object; got {}.", typeName(value)),
            "invalid_type");
  return value;
}

CompletionRequest parseCompletionRequest(std::string_view body) {
  json object = parseRequestBody(body);
  Params p(object, "");
  CompletionRequest r;
  r.model = readModel(p, /*required=*/true);
  r.prompts = readPrompts(p.require("prompt"));
  r.echo = p.boolean("echo").value_or(false);
  r.addSpecialTokens = p.boolean("add_special_tokens").value_or(true);
  p.onlyDefault("suffix", [](const json &v) { return v == ""; }, "an empty string");
  r.sampling = readSampling(p, Endpoint::Completions);
  if (r.echo && r.sampling.logprobs)
    invalid("echo", "'echo' together with 'logprobs' (log probabilities of the prompt tokens) "
                    "is not supported.",
            "unsupported_parameter");
  p.rejectUnknown();
  return r;
}

ChatRequest parseChatRequest(std::string_view body) {
  json object = parseRequestBody(body);
  Params p(object, "");
  ChatRequest r;
  r.model = readModel(p, /*required=*/true);
  r.messages = readMessages(p.require("messages"));
  r.tools = readTools(p);
  r.toolChoice = readToolChoice(p, !r.tools.is_null());
  readGenerationPrompt(p, r.addGenerationPrompt, r.continueFinalMessage);
  r.addSpecialTokens = p.boolean("add_special_tokens").value_or(false);
  r.chatTemplateKwargs = readTemplateKwargs(p);
  readChatOnlyUnsupported(p);
  r.sampling = readSampling(p, Endpoint::Chat);
  p.rejectUnknown();
  return r;
}

TokenizeRequest parseTokenizeRequest(std::string_view body) {
  json object = parseRequestBody(body);
  Params p(object, "");
  TokenizeRequest r;
  r.model = readModel(p, /*required=*/false);
  bool hasPrompt = object.contains("prompt") && !object["prompt"].is_null();
  bool hasMessages = object.contains("messages") && !object["messages"].is_null();
  if (hasPrompt == hasMessages)
    invalid(hasPrompt ? "messages" : "prompt",
            "Give either 'prompt' (a string) or 'messages' (a chat), not both or neither.",
            hasPrompt ? "invalid_value" : "missing_required_parameter");
  r.isChat = hasMessages;
  r.returnTokenStrs = p.boolean("return_token_strs").value_or(false);
  if (!r.isChat) {
    r.prompt = readString(p.require("prompt"), "prompt");
    r.addSpecialTokens = p.boolean("add_special_tokens").value_or(true);
  } else {
    r.messages = readMessages(p.require("messages"));
    r.tools = readTools(p);
    readGenerationPrompt(p, r.addGenerationPrompt, r.continueFinalMessage);
    r.addSpecialTokens = p.boolean("add_special_tokens").value_or(false);
    r.chatTemplateKwargs = readTemplateKwargs(p);
    p.onlyNull("chat_template");
    p.onlyEmpty("mm_processor_kwargs");
  }
  p.rejectUnknown();
  return r;
}

DetokenizeRequest parseDetokenizeRequest(std::string_view body) {
  json object = parseRequestBody(body);
  Params p(object, "");
  DetokenizeRequest r;
  r.model = readModel(p, /*required=*/false);
  r.tokens = readTokenIds(p.require("tokens"), "tokens");
  p.rejectUnknown();
  return r;
}

} // namespace llmrt::server
