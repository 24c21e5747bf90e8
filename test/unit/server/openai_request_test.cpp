// The OpenAI request parsers: every parameter's accepted forms and each rejection (message,
// param, code), unknown and unsupported parameters, combinations, malformed and hostile bodies.
// The bodies the `openai` client really sends (test/fuzz/openai-request-seeds, captured by
// tools/fixtures/make_openai_fixtures.py) must all parse.
#include "server/OpenAIRequest.h"
#include "server/OpenAIResponse.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

namespace llmrt::server {
namespace {

using json = nlohmann::ordered_json; // requests keep the key order they were sent in

// Bodies with the required fields and `extra` members.
std::string completionBody(const std::string &extra = "") {
  return R"({"model": "m", "prompt": "hi")" + (extra.empty() ? "" : ", " + extra) + "}";
}
std::string chatBody(const std::string &extra = "") {
  return R"({"model": "m", "messages": [{"role": "user", "content": "hi"}])" +
         (extra.empty() ? "" : ", " + extra) + "}";
}
std::string chatWith(const std::string &message, const std::string &extra = "") {
  return R"({"model": "m", "messages": [)" + message + "]" + (extra.empty() ? "" : ", " + extra) +
         "}";
}

CompletionRequest completion(const std::string &extra = "") {
  return parseCompletionRequest(completionBody(extra));
}
ChatRequest chat(const std::string &extra = "") { return parseChatRequest(chatBody(extra)); }

using Parser = std::function<void(std::string_view)>;
const Parser kCompletion = [](std::string_view b) { parseCompletionRequest(b); };
const Parser kChat = [](std::string_view b) { parseChatRequest(b); };
const Parser kTokenize = [](std::string_view b) { parseTokenizeRequest(b); };
const Parser kDetokenize = [](std::string_view b) { parseDetokenizeRequest(b); };

// The error `parse` throws for `body`.
ApiError errorOf(const Parser &parse, std::string_view body) {
  try {
    parse(body);
  } catch (const ApiError &error) {
    return error;
  }
  ADD_FAILURE() << "accepted: " << body;
  return ApiError(0, "");
}

// Expects a 400 with this param, a message holding `fragment`, and (when given) this code.
void expectRejected(const Parser &parse, std::string_view body, std::string_view param,
                    std::string_view fragment, std::string_view code = "") {
  ApiError error = errorOf(parse, body);
  EXPECT_EQ(error.status, 400) << body;
  EXPECT_EQ(error.type, "invalid_request_error") << body;
  EXPECT_EQ(error.param, param) << body << "\n" << error.message;
  EXPECT_NE(error.message.find(fragment), std::string::npos)
      << "message: " << error.message << "\nexpected to hold: " << fragment;
  if (!code.empty()) {
    EXPECT_EQ(error.code, code) << body;
  }
  // The error always makes a valid response body.
  EXPECT_NO_THROW(json::parse(dumpJson(errorJson(error))));
}

// ------------------------------------------------------------------------------------------------
// Bodies

TEST(OpenAIRequestBody, MalformedJsonSaysWhere) {
  expectRejected(kChat, R"({"model": "m",)", "", "not valid JSON", "invalid_json");
  expectRejected(kChat, "{\n  \"model\": \"m\"\n  \"x\": 1}", "", "line 3", "invalid_json");
  expectRejected(kChat, "", "", "not valid JSON", "invalid_json");
  expectRejected(kChat, R"({"a": 1} trailing)", "", "not valid JSON", "invalid_json");
  expectRejected(kChat, R"({"temperature": NaN})", "", "not valid JSON", "invalid_json");
  expectRejected(kChat, R"({"temperature": Infinity})", "", "not valid JSON", "invalid_json");
  expectRejected(kChat, R"({'model': 'm'})", "", "not valid JSON", "invalid_json");
}

TEST(OpenAIRequestBody, MustBeAnObject) {
  expectRejected(kChat, "[1, 2]", "", "must be a JSON object; got an array", "invalid_type");
  expectRejected(kCompletion, "\"text\"", "", "got a string");
  expectRejected(kTokenize, "42", "", "got a number");
  expectRejected(kDetokenize, "null", "", "got null");
}

TEST(OpenAIRequestBody, NonUtf8IsAClear400) {
  for (std::string bad : {std::string("\xff"), std::string("\xc0\xaf"), std::string("a\xe4\xbd"),
                          std::string("\xed\xa0\x80")}) {
    std::string body = chatWith(R"({"role": "user", "content": ")" + bad + R"("})");
    ApiError error = errorOf(kChat, body);
    EXPECT_EQ(error.status, 400);
    EXPECT_EQ(error.code, "invalid_json");
    EXPECT_NE(error.message.find("UTF-8"), std::string::npos) << error.message;
    for (unsigned char c : error.message) // the message itself is printable ASCII
      EXPECT_TRUE(c >= 0x20 && c < 0x7f) << error.message;
  }
  // A lone surrogate escape is not a character either.
  expectRejected(kChat, chatWith(R"({"role": "user", "content": "\ud800"})"), "", "surrogate",
                 "invalid_json");
  // Escaped and literal non-ASCII text is fine.
  EXPECT_EQ(parseChatRequest(chatWith(R"({"role": "user", "content": "\u00e9 \u4f60 😀"})"))
                .messages[0]["content"],
            "\u00e9 \u4f60 😀");
}

TEST(OpenAIRequestBody, DeepNestingIsRefusedBeforeParsing) {
  auto nested = [](int depth) {
    return std::string(depth, '[') + std::string(depth, ']');
  };
  // The body object is level 1: a value nested 63 deep inside it reaches 64.
  EXPECT_NO_THROW(chat(R"("chat_template_kwargs": {"x": )" + nested(62) + "}"));
  expectRejected(kChat, chatBody(R"("chat_template_kwargs": {"x": )" + nested(63) + "}"), "",
                 "more than 64 levels", "invalid_json");
  // Far deeper than any stack would survive if something recursed over it.
  std::string hostile = "{\"a\": " + std::string(1000000, '[');
  expectRejected(kChat, hostile, "", "more than 64 levels", "invalid_json");
  expectRejected(kChat, std::string(100000, '{'), "", "more than 64 levels");
  // Brackets inside strings (escaped quotes included) are text, not nesting.
  std::string text = std::string(200, '[') + "\\\"" + std::string(200, '{');
  EXPECT_EQ(parseCompletionRequest(R"({"model": "m", "prompt": ")" + text + "\"}")
                .prompts[0]
                .text.size(),
            401u);
}

TEST(OpenAIRequestBody, HugeNumbers) {
  // Numbers beyond a double are refused by the parser itself.
  expectRejected(kChat, chatBody(R"("n": 1e400)"), "", "number overflow parsing '1e400'",
                 "invalid_json");
  expectRejected(kChat, chatBody(R"("temperature": -1e400)"), "", "number overflow",
                 "invalid_json");
  expectRejected(kChat, chatBody(R"("temperature": 1e300)"), "temperature", "in [0, 2]");
  expectRejected(kChat, chatBody(R"("n": 1e300)"), "n", "in [1, 64]");
  expectRejected(kChat, chatBody(R"("max_tokens": 99999999999999999999999999)"), "max_tokens",
                 "at most 2147483647");
  expectRejected(kChat, chatBody(R"("max_tokens": 2147483648)"), "max_tokens",
                 "at most 2147483647");
  expectRejected(kChat, chatBody(R"("n": 18446744073709551615)"), "n", "in [1, 64]");
  expectRejected(kChat, chatBody(R"("n": -9223372036854775808)"), "n", "in [1, 64]");
  EXPECT_EQ(chat(R"("max_tokens": 2147483647)").sampling.maxTokens, 2147483647);
}

// ------------------------------------------------------------------------------------------------
// Required fields

TEST(OpenAIRequestRequired, Model) {
  expectRejected(kCompletion, R"({"prompt": "x"})", "model", "'model' is required",
                 "missing_required_parameter");
  expectRejected(kChat, R"({"model": null, "messages": []})", "model", "'model' is required");
  expectRejected(kChat, R"({"model": "", "messages": [{"role": "user", "content": "x"}]})",
                 "model", "non-empty string");
  expectRejected(kCompletion, R"({"model": 7, "prompt": "x"})", "model",
                 "'model' must be a string; got a number", "invalid_type");
  EXPECT_EQ(completion().model, "m");
}

TEST(OpenAIRequestRequired, PromptAndMessages) {
  expectRejected(kCompletion, R"({"model": "m"})", "prompt", "'prompt' is required",
                 "missing_required_parameter");
  expectRejected(kChat, R"({"model": "m"})", "messages", "'messages' is required",
                 "missing_required_parameter");
}

// ------------------------------------------------------------------------------------------------
// Completion prompts

TEST(OpenAIRequestPrompt, AcceptedForms) {
  auto one = parseCompletionRequest(R"({"model": "m", "prompt": "hello"})").prompts;
  ASSERT_EQ(one.size(), 1u);
  EXPECT_FALSE(one[0].isTokens);
  EXPECT_EQ(one[0].text, "hello");

  auto strings = parseCompletionRequest(R"({"model": "m", "prompt": ["a", "", "c"]})").prompts;
  ASSERT_EQ(strings.size(), 3u);
  EXPECT_EQ(strings[1].text, "");
  EXPECT_EQ(strings[2].text, "c");

  auto tokens = parseCompletionRequest(R"({"model": "m", "prompt": [1, 2.0, 2147483647]})").prompts;
  ASSERT_EQ(tokens.size(), 1u);
  EXPECT_TRUE(tokens[0].isTokens);
  EXPECT_EQ(tokens[0].tokens, (std::vector<int32_t>{1, 2, 2147483647}));

  auto lists = parseCompletionRequest(R"({"model": "m", "prompt": [[1, 2], [0]]})").prompts;
  ASSERT_EQ(lists.size(), 2u);
  EXPECT_EQ(lists[0].tokens, (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(lists[1].tokens, (std::vector<int32_t>{0}));

  EXPECT_EQ(parseCompletionRequest(R"({"model": "m", "prompt": ""})").prompts[0].text, "");
}

TEST(OpenAIRequestPrompt, Rejections) {
  auto body = [](const std::string &prompt) {
    return R"({"model": "m", "prompt": )" + prompt + "}";
  };
  expectRejected(kCompletion, body("[]"), "prompt", "must not be an empty array");
  expectRejected(kCompletion, body("[[]]"), "prompt[0]", "empty array of token ids");
  expectRejected(kCompletion, body("[[1], []]"), "prompt[1]", "empty array of token ids");
  expectRejected(kCompletion, body(R"(["a", 1])"), "prompt[1]", "must be a string; got a number");
  expectRejected(kCompletion, body(R"([1, "a"])"), "prompt[1]", "must be an integer");
  expectRejected(kCompletion, body(R"([[1], "a"])"), "prompt[1]", "array of token ids");
  expectRejected(kCompletion, body("[1.5]"), "prompt[0]", "must be an integer; got 1.5");
  expectRejected(kCompletion, body("[-1]"), "prompt[0]", ">= 0");
  expectRejected(kCompletion, body("[2147483648]"), "prompt[0]", "at most 2147483647");
  expectRejected(kCompletion, body("[[1, [2]]]"), "prompt[0][1]", "must be an integer");
  expectRejected(kCompletion, body(R"({"a": 1})"), "prompt", "a string, an array of strings");
  expectRejected(kCompletion, body("5"), "prompt", "got a number", "invalid_type");
  expectRejected(kCompletion, body("[true]"), "prompt[0]", "array of token ids");
}

TEST(OpenAIRequestPrompt, EchoSuffixAndSpecialTokens) {
  EXPECT_FALSE(completion().echo);
  EXPECT_TRUE(completion(R"("echo": true)").echo);
  EXPECT_TRUE(completion().addSpecialTokens);
  EXPECT_FALSE(completion(R"("add_special_tokens": false)").addSpecialTokens);
  EXPECT_NO_THROW(completion(R"("suffix": "")"));
  EXPECT_NO_THROW(completion(R"("suffix": null)"));
  expectRejected(kCompletion, completionBody(R"("suffix": "end")"), "suffix",
                 "parameter 'suffix' is not supported", "unsupported_parameter");
  expectRejected(kCompletion, completionBody(R"("echo": true, "logprobs": 2)"), "echo",
                 "is not supported", "unsupported_parameter");
  expectRejected(kCompletion, completionBody(R"("echo": 1)"), "echo", "true or false");
}

// ------------------------------------------------------------------------------------------------
// Sampling parameters (shared by both endpoints: each is checked on both)

struct Case {
  std::string member; // the JSON member
  std::string param;
  std::string fragment;
};

void expectRejectedOnBoth(const Case &c) {
  SCOPED_TRACE(c.member);
  expectRejected(kCompletion, completionBody(c.member), c.param, c.fragment);
  expectRejected(kChat, chatBody(c.member), c.param, c.fragment);
}

TEST(OpenAIRequestSampling, Defaults) {
  for (const SamplingRequest &s : {completion().sampling, chat().sampling}) {
    EXPECT_FALSE(s.temperature);
    EXPECT_FALSE(s.topP);
    EXPECT_FALSE(s.topK);
    EXPECT_EQ(s.minP, 0);
    EXPECT_EQ(s.presencePenalty, 0);
    EXPECT_EQ(s.frequencyPenalty, 0);
    EXPECT_EQ(s.repetitionPenalty, 1);
    EXPECT_FALSE(s.seed);
    EXPECT_EQ(s.n, 1);
    EXPECT_EQ(s.minTokens, 0);
    EXPECT_TRUE(s.stop.empty());
    EXPECT_TRUE(s.stopTokenIds.empty());
    EXPECT_FALSE(s.ignoreEos);
    EXPECT_TRUE(s.skipSpecialTokens);
    EXPECT_FALSE(s.includeStopStrInOutput);
    EXPECT_FALSE(s.logprobs);
    EXPECT_FALSE(s.stream);
    EXPECT_FALSE(s.includeUsage);
    EXPECT_EQ(s.priority, 0);
    EXPECT_EQ(s.requestId, "");
  }
  EXPECT_EQ(completion().sampling.maxTokens, 16);          // the API's completions default
  EXPECT_FALSE(completion(R"("max_tokens": null)").sampling.maxTokens); // vLLM: no limit
  EXPECT_FALSE(chat().sampling.maxTokens);
}

TEST(OpenAIRequestSampling, NullMeansNotGiven) {
  std::string nulls = R"("temperature": null, "top_p": null, "top_k": null, "min_p": null,
      "presence_penalty": null, "frequency_penalty": null, "repetition_penalty": null,
      "seed": null, "n": null, "best_of": null, "min_tokens": null, "stop": null,
      "stop_token_ids": null, "ignore_eos": null, "logprobs": null, "stream": null,
      "stream_options": null, "user": null, "logit_bias": null, "response_format": null)";
  EXPECT_EQ(completion(nulls).sampling.n, 1);
  EXPECT_EQ(chat(nulls + R"(, "top_logprobs": null, "max_completion_tokens": null,
      "tools": null, "tool_choice": null, "chat_template_kwargs": null)")
                .sampling.n,
            1);
}

TEST(OpenAIRequestSampling, Temperature) {
  EXPECT_EQ(chat(R"("temperature": 0)").sampling.temperature, 0.0f);
  EXPECT_EQ(chat(R"("temperature": 2)").sampling.temperature, 2.0f);
  EXPECT_EQ(completion(R"("temperature": 0.7)").sampling.temperature, 0.7f);
  expectRejectedOnBoth({R"("temperature": -0.1)", "temperature", "in [0, 2]; got -0.1"});
  expectRejectedOnBoth({R"("temperature": 2.01)", "temperature", "in [0, 2]"});
  expectRejectedOnBoth(
      {R"("temperature": "0.5")", "temperature", "must be a number; got a string"});
  expectRejectedOnBoth({R"("temperature": true)", "temperature", "got a boolean"});
  expectRejectedOnBoth({R"("temperature": [1])", "temperature", "got an array"});
}

TEST(OpenAIRequestSampling, TopPTopKMinP) {
  EXPECT_EQ(chat(R"("top_p": 1)").sampling.topP, 1.0f);
  EXPECT_EQ(chat(R"("top_p": 0.01)").sampling.topP, 0.01f);
  expectRejectedOnBoth({R"("top_p": 0)", "top_p", "in (0, 1]"});
  expectRejectedOnBoth({R"("top_p": 1.5)", "top_p", "in (0, 1]"});

  EXPECT_EQ(chat(R"("top_k": -1)").sampling.topK, 0); // vLLM's "off"
  EXPECT_EQ(chat(R"("top_k": 0)").sampling.topK, 0);
  EXPECT_EQ(completion(R"("top_k": 40)").sampling.topK, 40);
  EXPECT_EQ(completion(R"("top_k": 40.0)").sampling.topK, 40);
  expectRejectedOnBoth({R"("top_k": -2)", "top_k", ">= -1"});
  expectRejectedOnBoth({R"("top_k": 4.5)", "top_k", "must be an integer; got 4.5"});

  EXPECT_EQ(chat(R"("min_p": 0.05)").sampling.minP, 0.05f);
  EXPECT_EQ(chat(R"("min_p": 1)").sampling.minP, 1.0f);
  expectRejectedOnBoth({R"("min_p": 1.1)", "min_p", "in [0, 1]"});
  expectRejectedOnBoth({R"("min_p": -0.1)", "min_p", "in [0, 1]"});
}

TEST(OpenAIRequestSampling, Penalties) {
  SamplingRequest s = chat(R"("presence_penalty": -2, "frequency_penalty": 2,
                              "repetition_penalty": 1.3)")
                          .sampling;
  EXPECT_EQ(s.presencePenalty, -2.0f);
  EXPECT_EQ(s.frequencyPenalty, 2.0f);
  EXPECT_EQ(s.repetitionPenalty, 1.3f);
  EXPECT_EQ(completion(R"("frequency_penalty": 0)").sampling.frequencyPenalty, 0.0f);
  EXPECT_EQ(completion(R"("repetition_penalty": 10)").sampling.repetitionPenalty, 10.0f);
  expectRejectedOnBoth({R"("presence_penalty": -2.5)", "presence_penalty", "in [-2, 2]"});
  expectRejectedOnBoth({R"("frequency_penalty": 3)", "frequency_penalty", "in [-2, 2]"});
  expectRejectedOnBoth({R"("repetition_penalty": 0)", "repetition_penalty", "in (0, 10]"});
  expectRejectedOnBoth({R"("repetition_penalty": 10.5)", "repetition_penalty", "in (0, 10]"});
}

TEST(OpenAIRequestSampling, Seed) {
  EXPECT_EQ(chat(R"("seed": 0)").sampling.seed, 0u);
  EXPECT_EQ(chat(R"("seed": 42)").sampling.seed, 42u);
  EXPECT_EQ(chat(R"("seed": 9223372036854775807)").sampling.seed, 9223372036854775807u);
  expectRejectedOnBoth({R"("seed": -1)", "seed", "got -1"});
  expectRejectedOnBoth({R"("seed": 9223372036854775808)", "seed", "at most 9223372036854775807"});
  expectRejectedOnBoth({R"("seed": 18446744073709551615)", "seed", "at most"});
  expectRejectedOnBoth({R"("seed": 1e30)", "seed", "at most"});
  expectRejectedOnBoth({R"("seed": "7")", "seed", "must be an integer; got a string"});
}

TEST(OpenAIRequestSampling, NAndBestOf) {
  EXPECT_EQ(chat(R"("n": 64)").sampling.n, 64);
  EXPECT_EQ(completion(R"("n": 2.0)").sampling.n, 2);
  EXPECT_EQ(completion(R"("n": 3, "best_of": 3)").sampling.n, 3);
  expectRejectedOnBoth({R"("n": 0)", "n", "in [1, 64]; got 0"});
  expectRejectedOnBoth({R"("n": 65)", "n", "in [1, 64]"});
  expectRejectedOnBoth({R"("n": 2.5)", "n", "must be an integer; got 2.5"});
  expectRejectedOnBoth({R"("n": "2")", "n", "must be an integer; got a string"});
  expectRejectedOnBoth({R"("n": 2, "best_of": 4)", "best_of", "unless it equals 'n'"});
  expectRejectedOnBoth({R"("best_of": 2)", "best_of", "unless it equals 'n' (1)"});
}

TEST(OpenAIRequestSampling, MaxAndMinTokens) {
  EXPECT_EQ(completion(R"("max_tokens": 1)").sampling.maxTokens, 1);
  EXPECT_EQ(chat(R"("max_tokens": 100)").sampling.maxTokens, 100);
  EXPECT_EQ(chat(R"("max_completion_tokens": 50)").sampling.maxTokens, 50);
  EXPECT_EQ(chat(R"("max_tokens": 50, "max_completion_tokens": 50)").sampling.maxTokens, 50);
  EXPECT_EQ(chat(R"("max_tokens": null, "max_completion_tokens": 7)").sampling.maxTokens, 7);
  expectRejected(kChat, chatBody(R"("max_tokens": 50, "max_completion_tokens": 60)"),
                 "max_completion_tokens", "disagree");
  expectRejectedOnBoth({R"("max_tokens": 0)", "max_tokens", ">= 1"});
  expectRejected(kChat, chatBody(R"("max_completion_tokens": 0)"), "max_completion_tokens",
                 ">= 1");
  // max_completion_tokens is a chat parameter only.
  expectRejected(kCompletion, completionBody(R"("max_completion_tokens": 5)"),
                 "max_completion_tokens", "Unknown parameter", "unknown_parameter");

  EXPECT_EQ(chat(R"("min_tokens": 5, "max_tokens": 5)").sampling.minTokens, 5);
  EXPECT_EQ(chat(R"("min_tokens": 500)").sampling.minTokens, 500); // no max: up to the context
  expectRejectedOnBoth({R"("min_tokens": -1)", "min_tokens", ">= 0"});
  expectRejectedOnBoth({R"("min_tokens": 6, "max_tokens": 5)", "min_tokens",
                        "'min_tokens' (6) must not exceed the maximum number of tokens (5)"});
  // Completions default to 16 tokens, so a larger min_tokens needs a max_tokens.
  expectRejected(kCompletion, completionBody(R"("min_tokens": 17)"), "min_tokens", "(16)");
}

TEST(OpenAIRequestSampling, Stop) {
  EXPECT_EQ(chat(R"("stop": "\n")").sampling.stop, (std::vector<std::string>{"\n"}));
  EXPECT_EQ(completion(R"("stop": ["a", "bc"])").sampling.stop,
            (std::vector<std::string>{"a", "bc"}));
  EXPECT_TRUE(chat(R"("stop": [])").sampling.stop.empty());
  std::string sixteen = "[" + std::string("\"s\",", 15) + "\"s\"]";
  std::string many;
  for (int i = 0; i < 16; ++i)
    many += std::string(i ? ", " : "") + "\"s" + std::to_string(i) + "\"";
  EXPECT_EQ(chat(R"("stop": [)" + many + "]").sampling.stop.size(), 16u);
  expectRejectedOnBoth({R"("stop": [)" + many + R"(, "x"])", "stop", "holds 17 strings"});
  expectRejectedOnBoth({R"("stop": "")", "stop", "must not be an empty string"});
  expectRejectedOnBoth({R"("stop": ["a", ""])", "stop[1]", "must not be an empty string"});
  expectRejectedOnBoth({R"("stop": [1])", "stop[0]", "must be a string; got a number"});
  expectRejectedOnBoth({R"("stop": 5)", "stop", "a string or an array of strings"});
  expectRejectedOnBoth({R"("stop": {"a": 1})", "stop", "got an object"});
}

TEST(OpenAIRequestSampling, StopTokenIdsAndVllmFlags) {
  SamplingRequest s = chat(R"("stop_token_ids": [2, 0], "ignore_eos": true,
      "skip_special_tokens": false, "include_stop_str_in_output": true,
      "spaces_between_special_tokens": true)")
                          .sampling;
  EXPECT_EQ(s.stopTokenIds, (std::vector<int32_t>{2, 0}));
  EXPECT_TRUE(s.ignoreEos);
  EXPECT_FALSE(s.skipSpecialTokens);
  EXPECT_TRUE(s.includeStopStrInOutput);
  expectRejectedOnBoth({R"("stop_token_ids": [-1])", "stop_token_ids[0]", ">= 0"});
  expectRejectedOnBoth({R"("stop_token_ids": 5)", "stop_token_ids", "array of token ids"});
  expectRejectedOnBoth({R"("ignore_eos": "yes")", "ignore_eos", "true or false"});
  expectRejectedOnBoth({R"("skip_special_tokens": 0)", "skip_special_tokens", "true or false"});
  expectRejectedOnBoth({R"("spaces_between_special_tokens": false)",
                        "spaces_between_special_tokens", "is not supported"});
}

TEST(OpenAIRequestSampling, CompletionLogprobs) {
  EXPECT_EQ(completion(R"("logprobs": 0)").sampling.logprobs, 0);
  EXPECT_EQ(completion(R"("logprobs": 20)").sampling.logprobs, 20);
  expectRejected(kCompletion, completionBody(R"("logprobs": 21)"), "logprobs", "in [0, 20]");
  expectRejected(kCompletion, completionBody(R"("logprobs": -1)"), "logprobs", "in [0, 20]");
  expectRejected(kCompletion, completionBody(R"("logprobs": true)"), "logprobs",
                 "must be an integer; got a boolean");
  expectRejected(kCompletion, completionBody(R"("top_logprobs": 2)"), "top_logprobs",
                 "Unknown parameter");
  EXPECT_TRUE(completion(R"("logprobs": 1, "return_tokens_as_token_ids": true)")
                  .sampling.returnTokensAsTokenIds);
}

TEST(OpenAIRequestSampling, ChatLogprobs) {
  EXPECT_FALSE(chat(R"("logprobs": false)").sampling.logprobs);
  EXPECT_EQ(chat(R"("logprobs": true)").sampling.logprobs, 0);
  EXPECT_EQ(chat(R"("logprobs": true, "top_logprobs": 5)").sampling.logprobs, 5);
  EXPECT_FALSE(chat(R"("top_logprobs": 0)").sampling.logprobs);
  expectRejected(kChat, chatBody(R"("top_logprobs": 3)"), "top_logprobs",
                 "needs 'logprobs' set to true");
  expectRejected(kChat, chatBody(R"("logprobs": false, "top_logprobs": 3)"), "top_logprobs",
                 "needs 'logprobs'");
  expectRejected(kChat, chatBody(R"("logprobs": true, "top_logprobs": 21)"), "top_logprobs",
                 "in [0, 20]");
  expectRejected(kChat, chatBody(R"("logprobs": 5)"), "logprobs", "true or false");
}

TEST(OpenAIRequestSampling, StreamAndStreamOptions) {
  EXPECT_TRUE(chat(R"("stream": true)").sampling.stream);
  EXPECT_FALSE(chat(R"("stream": false, "stream_options": null)").sampling.stream);
  SamplingRequest s =
      completion(R"("stream": true, "stream_options": {"include_usage": true})").sampling;
  EXPECT_TRUE(s.stream);
  EXPECT_TRUE(s.includeUsage);
  EXPECT_FALSE(s.continuousUsageStats);
  s = chat(R"("stream": true, "stream_options": {"include_usage": true,
             "continuous_usage_stats": true, "include_obfuscation": false})")
          .sampling;
  EXPECT_TRUE(s.includeUsage);
  EXPECT_TRUE(s.continuousUsageStats);
  EXPECT_FALSE(chat(R"("stream": true, "stream_options": {})").sampling.includeUsage);

  expectRejectedOnBoth({R"("stream_options": {"include_usage": true})", "stream_options",
                        "only allowed when 'stream' is true"});
  expectRejectedOnBoth({R"("stream": false, "stream_options": {})", "stream_options",
                        "only allowed when 'stream' is true"});
  expectRejectedOnBoth({R"("stream": true, "stream_options": true)", "stream_options",
                        "must be an object"});
  expectRejectedOnBoth({R"("stream": true, "stream_options": {"include_usage": 1})",
                        "stream_options.include_usage", "true or false"});
  expectRejectedOnBoth({R"("stream": true, "stream_options": {"usage": true})",
                        "stream_options.usage", "Unknown parameter 'stream_options.usage'"});
  expectRejectedOnBoth({R"("stream": "true")", "stream", "true or false"});
  expectRejectedOnBoth({R"("stream": 1)", "stream", "true or false"});
}

TEST(OpenAIRequestSampling, RequestOptions) {
  SamplingRequest s = chat(R"("user": "u-1", "request_id": "r-7", "priority": -3,
                              "cache_salt": "salt")")
                          .sampling;
  EXPECT_EQ(s.user, "u-1");
  EXPECT_EQ(s.requestId, "r-7");
  EXPECT_EQ(s.priority, -3);
  EXPECT_EQ(s.cacheSalt, "salt");
  expectRejectedOnBoth({R"("user": 5)", "user", "must be a string"});
  expectRejectedOnBoth({R"("cache_salt": "")", "cache_salt", "non-empty string"});
  expectRejectedOnBoth({R"("priority": 1.5)", "priority", "must be an integer"});
}

// ------------------------------------------------------------------------------------------------
// Unknown and unsupported parameters

TEST(OpenAIRequestParams, UnknownParametersAreRefused) {
  expectRejectedOnBoth({R"("foo": 1)", "foo", "Unknown parameter 'foo'."});
  expectRejectedOnBoth({R"("Temperature": 1)", "Temperature", "Unknown parameter 'Temperature'"});
  ApiError error = errorOf(kChat, chatBody(R"("foo": null)"));
  EXPECT_EQ(error.code, "unknown_parameter");
  // A long key is cut short in the message.
  error = errorOf(kChat, chatBody("\"" + std::string(500, 'k') + "\": 1"));
  EXPECT_LT(error.message.size(), 120u);
  // Chat-only parameters are unknown to completions, and the reverse.
  expectRejected(kCompletion, completionBody(R"("messages": [])"), "messages",
                 "Unknown parameter");
  expectRejected(kChat, chatBody(R"("prompt": "x")"), "prompt", "Unknown parameter");
  expectRejected(kChat, chatBody(R"("suffix": "")"), "suffix", "Unknown parameter");
}

TEST(OpenAIRequestParams, UnsupportedWithNonDefaultValues) {
  // Both endpoints.
  for (const Case &c : std::vector<Case>{
           {R"("logit_bias": {"50256": -100})", "logit_bias", "'logit_bias' is not supported"},
           {R"("response_format": {"type": "json_object"})", "response_format",
            "'response_format' is not supported"},
           {R"("response_format": {"type": "json_schema", "json_schema": {"name": "x"}})",
            "response_format", "{\"type\": \"text\"}"},
           {R"("use_beam_search": true)", "use_beam_search", "not supported"},
           {R"("length_penalty": 0.5)", "length_penalty", "not supported"},
           {R"("guided_json": {"type": "object"})", "guided_json", "not supported"},
           {R"("guided_choice": ["a", "b"])", "guided_choice", "not supported"},
           {R"("guided_regex": "a+")", "guided_regex", "not supported"},
           {R"("truncate_prompt_tokens": 10)", "truncate_prompt_tokens", "not supported"},
           {R"("prompt_logprobs": 1)", "prompt_logprobs", "not supported"},
           {R"("allowed_token_ids": [1, 2])", "allowed_token_ids", "not supported"},
           {R"("logits_processors": ["x"])", "logits_processors", "not supported"},
           {R"("vllm_xargs": {"a": 1})", "vllm_xargs", "not supported"},
       }) {
    expectRejectedOnBoth(c);
    EXPECT_EQ(errorOf(kChat, chatBody(c.member)).code, "unsupported_parameter");
  }
  // Chat only.
  for (const Case &c : std::vector<Case>{
           {R"("tool_choice": "required", "tools": [{"function": {"name": "f"}}])",
            "tool_choice", "'tool_choice' is not supported"},
           {R"("parallel_tool_calls": false)", "parallel_tool_calls", "not supported"},
           {R"("audio": {"voice": "alloy", "format": "wav"})", "audio", "not supported"},
           {R"("modalities": ["text", "audio"])", "modalities", "not supported"},
           {R"("prediction": {"type": "content", "content": "x"})", "prediction",
            "not supported"},
           {R"("store": true)", "store", "not supported"},
           {R"("service_tier": "flex")", "service_tier", "not supported"},
           {R"("reasoning_effort": "low")", "reasoning_effort", "not supported"},
           {R"("functions": [{"name": "f"}])", "functions", "not supported"},
           {R"("function_call": {"name": "f"})", "function_call", "not supported"},
           {R"("web_search_options": {})", "web_search_options", "not supported"},
           {R"("chat_template": "{{ messages }}")", "chat_template", "not supported"},
           {R"("documents": [{"title": "a", "text": "b"}])", "documents", "not supported"},
           {R"("echo": true)", "echo", "not supported"},
       }) {
    SCOPED_TRACE(c.member);
    expectRejected(kChat, chatBody(c.member), c.param, c.fragment, "unsupported_parameter");
  }
}

TEST(OpenAIRequestParams, AcceptedAndIgnored) {
  EXPECT_NO_THROW(completion(R"("logit_bias": {}, "response_format": {"type": "text"},
      "use_beam_search": false, "length_penalty": 1, "frequency_penalty": 0,
      "presence_penalty": 0.0, "guided_json": null, "user": "x",
      "spaces_between_special_tokens": true, "prompt_embeds": null)"));
  EXPECT_NO_THROW(chat(R"("metadata": {"k": "v"}, "store": false, "service_tier": "auto",
      "parallel_tool_calls": true, "modalities": ["text"], "audio": null, "prediction": null,
      "logit_bias": {}, "response_format": {"type": "text"}, "user": "x",
      "prompt_cache_key": "k", "safety_identifier": "s", "functions": [],
      "function_call": "none", "include_reasoning": true, "reasoning_effort": null,
      "verbosity": null, "echo": false, "mm_processor_kwargs": {}, "bad_words": [])"));
  expectRejected(kChat, chatBody(R"("metadata": "x")"), "metadata", "must be an object");
}

// ------------------------------------------------------------------------------------------------
// Chat messages

TEST(OpenAIRequestMessages, RolesAndContent) {
  ChatRequest r = parseChatRequest(chatWith(
      R"({"role": "system", "content": "Be brief."},
         {"role": "developer", "content": [{"type": "text", "text": "Rules."}]},
         {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
          "name": "ann"},
         {"role": "assistant", "content": "ok"},
         {"role": "user", "content": ""})"));
  ASSERT_EQ(r.messages.size(), 5u);
  EXPECT_EQ(r.messages[0], json({{"role", "system"}, {"content", "Be brief."}}));
  EXPECT_EQ(r.messages[1]["content"], json::parse(R"([{"type": "text", "text": "Rules."}])"));
  EXPECT_EQ(r.messages[2]["name"], "ann");
  EXPECT_EQ(r.messages[2]["content"].size(), 2u);
  EXPECT_EQ(r.messages[3], json({{"role", "assistant"}, {"content", "ok"}}));
  EXPECT_EQ(r.messages[4]["content"], "");
}

TEST(OpenAIRequestMessages, Rejections) {
  expectRejected(kChat, R"({"model": "m", "messages": []})", "messages",
                 "at least one message");
  expectRejected(kChat, R"({"model": "m", "messages": {"role": "user"}})", "messages",
                 "must be an array of messages; got an object", "invalid_type");
  expectRejected(kChat, chatWith(R"("hi")"), "messages[0]", "must be a message object");
  expectRejected(kChat, chatWith(R"({"content": "x"})"), "messages[0].role",
                 "'messages[0].role' is required", "missing_required_parameter");
  expectRejected(kChat, chatWith(R"({"role": "function", "content": "x", "name": "f"})"),
                 "messages[0].role",
                 "must be one of system, developer, user, assistant, tool; got \"function\"");
  expectRejected(kChat, chatWith(R"({"role": 1, "content": "x"})"), "messages[0].role",
                 "must be a string");
  expectRejected(kChat, chatWith(R"({"role": "user", "content": "a"}, {"role": "user"})"),
                 "messages[1].content", "'messages[1].content' is required");
  expectRejected(kChat, chatWith(R"({"role": "user", "content": null})"), "messages[0].content",
                 "may be null only in an assistant message with tool_calls");
  expectRejected(kChat, chatWith(R"({"role": "assistant", "content": null})"),
                 "messages[0].content", "is required");
  expectRejected(kChat, chatWith(R"({"role": "assistant", "content": null, "tool_calls": []})"),
                 "messages[0].content", "is required");
  expectRejected(kChat, chatWith(R"({"role": "user", "content": 5})"), "messages[0].content",
                 "a string or an array of text parts");
  expectRejected(kChat, chatWith(R"({"role": "user", "content": []})"), "messages[0].content",
                 "must not be an empty array");
  expectRejected(kChat, chatWith(R"({"role": "user", "content": "x", "foo": 1})"),
                 "messages[0].foo", "Unknown parameter 'messages[0].foo'", "unknown_parameter");
  expectRejected(kChat, chatWith(R"({"role": "user", "content": "x", "tool_call_id": "a"})"),
                 "messages[0].tool_call_id", "Unknown parameter");
  expectRejected(kChat, chatWith(R"({"role": "user", "content": "x", "name": 3})"),
                 "messages[0].name", "must be a string");
}

TEST(OpenAIRequestMessages, ContentParts) {
  expectRejected(
      kChat,
      chatWith(R"({"role": "user", "content": [{"type": "text", "text": "look"},
                  {"type": "image_url", "image_url": {"url": "http://x/y.png"}}]})"),
      "messages[0].content[1].type",
      "Unsupported content part type 'image_url' in 'messages[0].content[1]'",
      "unsupported_value");
  expectRejected(kChat,
                 chatWith(R"({"role": "user", "content": [{"type": "input_audio",
                  "input_audio": {"data": "", "format": "wav"}}]})"),
                 "messages[0].content[0].type", "Unsupported content part type 'input_audio'");
  expectRejected(kChat, chatWith(R"({"role": "user", "content": ["text"]})"),
                 "messages[0].content[0]", "must be a content part object");
  expectRejected(kChat, chatWith(R"({"role": "user", "content": [{"text": "x"}]})"),
                 "messages[0].content[0].type", "is required");
  expectRejected(kChat, chatWith(R"({"role": "user", "content": [{"type": "text"}]})"),
                 "messages[0].content[0].text", "is required");
  expectRejected(kChat,
                 chatWith(R"({"role": "user", "content": [{"type": "text", "text": "x",
                  "cache_control": {}}]})"),
                 "messages[0].content[0].cache_control", "Unknown parameter");
  expectRejected(kChat, chatWith(R"({"role": "user", "content": [{"type": "text", "text": 1}]})"),
                 "messages[0].content[0].text", "must be a string");
}

TEST(OpenAIRequestMessages, ToolCallsAndToolResults) {
  ChatRequest r = parseChatRequest(chatWith(
      R"({"role": "user", "content": "weather?"},
         {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
          "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
         {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
         {"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "{}"},
          "index": 0}]})"));
  EXPECT_TRUE(r.messages[1]["content"].is_null());
  EXPECT_EQ(r.messages[1]["tool_calls"][0],
            json::parse(R"({"id": "call_1", "type": "function", "function":
                           {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}})"));
  EXPECT_EQ(r.messages[2],
            json({{"role", "tool"}, {"tool_call_id", "call_1"}, {"content", "sunny"}}));
  EXPECT_TRUE(r.messages[3]["content"].is_null());
  EXPECT_EQ(r.messages[3]["tool_calls"][0]["type"], "function");
  EXPECT_FALSE(r.messages[3]["tool_calls"][0].contains("index"));

  auto call = [](const std::string &toolCall) {
    return chatWith(R"({"role": "assistant", "tool_calls": [)" + toolCall + "]}");
  };
  expectRejected(kChat, call(R"({"id": "a", "type": "function",
                  "function": {"name": "f", "arguments": {"x": 1}}})"),
                 "messages[0].tool_calls[0].function.arguments", "must be a string");
  expectRejected(kChat, call(R"({"id": "a", "type": "custom", "custom": {}})"),
                 "messages[0].tool_calls[0].type", "must be \"function\"; got \"custom\"");
  expectRejected(kChat, call(R"({"id": "a", "type": "function"})"),
                 "messages[0].tool_calls[0].function", "is required");
  expectRejected(kChat, call(R"({"function": {"arguments": "{}"}})"),
                 "messages[0].tool_calls[0].function.name", "is required");
  expectRejected(kChat, chatWith(R"({"role": "assistant", "tool_calls": {}})"),
                 "messages[0].tool_calls", "an array of tool calls");
  expectRejected(kChat,
                 chatWith(R"({"role": "user", "content": "x", "tool_calls": []})"),
                 "messages[0].tool_calls", "Unknown parameter");
}

TEST(OpenAIRequestMessages, AssistantMessagesEchoedByTheClient) {
  // What `messages.append(response.choices[0].message)` sends back.
  ChatRequest r = parseChatRequest(chatWith(
      R"({"role": "user", "content": "hi"},
         {"role": "assistant", "content": "hello", "refusal": null, "annotations": [],
          "audio": null, "function_call": null, "tool_calls": null, "reasoning_content": null},
         {"role": "user", "content": "more"})"));
  EXPECT_EQ(r.messages[1], json({{"role", "assistant"}, {"content", "hello"}}));
  expectRejected(kChat, chatWith(R"({"role": "assistant", "content": "x", "refusal": "no"})"),
                 "messages[0].refusal", "not supported");
  expectRejected(kChat,
                 chatWith(R"({"role": "assistant", "content": "x", "audio": {"id": "a"}})"),
                 "messages[0].audio", "not supported");
  expectRejected(kChat, chatWith(R"({"role": "user", "content": "x", "refusal": null})"),
                 "messages[0].refusal", "Unknown parameter");
}

// ------------------------------------------------------------------------------------------------
// Tools and template options

TEST(OpenAIRequestTools, Tools) {
  std::string tool = R"({"type": "function", "function": {"name": "get_weather",
      "description": "Weather now.", "parameters": {"type": "object", "properties":
      {"city": {"type": "string"}}, "required": ["city"]}, "strict": true}})";
  ChatRequest r = chat(R"("tools": [)" + tool + "]");
  ASSERT_TRUE(r.tools.is_array());
  EXPECT_EQ(r.tools[0], json::parse(tool));
  EXPECT_EQ(r.toolChoice, ToolChoice::Auto);
  EXPECT_EQ(chat(R"("tools": [)" + tool + R"(], "tool_choice": "none")").toolChoice,
            ToolChoice::None);
  EXPECT_EQ(chat(R"("tools": [)" + tool + R"(], "tool_choice": "auto")").toolChoice,
            ToolChoice::Auto);
  // "type" may be left out; an empty list is no tools.
  EXPECT_EQ(chat(R"("tools": [{"function": {"name": "f"}}])").tools[0]["type"], "function");
  EXPECT_TRUE(chat(R"("tools": [])").tools.is_null());
  EXPECT_TRUE(chat().tools.is_null());
  EXPECT_EQ(chat().toolChoice, ToolChoice::None);
  EXPECT_EQ(chat(R"("tool_choice": "none")").toolChoice, ToolChoice::None);

  expectRejected(kChat, chatBody(R"("tools": {})"), "tools", "an array of tools");
  expectRejected(kChat, chatBody(R"("tools": [{"type": "custom", "custom": {"name": "x"}}])"),
                 "tools[0].type", "Tools of type \"custom\" are not supported");
  expectRejected(kChat, chatBody(R"("tools": [{"type": "function"}])"), "tools[0].function",
                 "is required");
  expectRejected(kChat, chatBody(R"("tools": [{"function": {"name": ""}}])"),
                 "tools[0].function.name", "non-empty string");
  expectRejected(kChat, chatBody(R"("tools": [{"function": {"name": "f", "parameters": []}}])"),
                 "tools[0].function.parameters", "an object (a JSON schema)");
  expectRejected(kChat, chatBody(R"("tools": [{"function": {"name": "f", "x": 1}}])"),
                 "tools[0].function.x", "Unknown parameter");
  expectRejected(kChat, chatBody(R"("tools": [{"function": {"name": "f"}, "x": 1}])"),
                 "tools[0].x", "Unknown parameter");
  expectRejected(kChat, chatBody(R"("tool_choice": "auto")"), "tool_choice", "needs 'tools'");
  expectRejected(kChat, chatBody(R"("tool_choice": "sometimes")"), "tool_choice",
                 "must be \"none\", \"auto\", \"required\" or a named tool");
  expectRejected(kChat,
                 chatBody(R"("tools": [)" + tool +
                          R"(], "tool_choice": {"type": "function", "function": {"name": "f"}})"),
                 "tool_choice", "A named 'tool_choice' is not supported", "unsupported_parameter");
}

TEST(OpenAIRequestTools, GenerationPromptAndTemplateKwargs) {
  ChatRequest r = chat();
  EXPECT_TRUE(r.addGenerationPrompt);
  EXPECT_FALSE(r.continueFinalMessage);
  EXPECT_FALSE(r.addSpecialTokens);
  EXPECT_EQ(r.chatTemplateKwargs, json::object());
  r = chat(R"("add_generation_prompt": false, "continue_final_message": true,
             "add_special_tokens": true, "chat_template_kwargs": {"enable_thinking": false})");
  EXPECT_FALSE(r.addGenerationPrompt);
  EXPECT_TRUE(r.continueFinalMessage);
  EXPECT_TRUE(r.addSpecialTokens);
  EXPECT_EQ(r.chatTemplateKwargs, json({{"enable_thinking", false}}));
  expectRejected(kChat, chatBody(R"("continue_final_message": true)"), "continue_final_message",
                 "cannot both be true");
  expectRejected(kChat,
                 chatBody(R"("continue_final_message": true, "add_generation_prompt": true)"),
                 "continue_final_message", "cannot both be true");
  expectRejected(kChat, chatBody(R"("chat_template_kwargs": [])"), "chat_template_kwargs",
                 "must be an object");
  expectRejected(kChat, chatBody(R"("add_generation_prompt": "no")"), "add_generation_prompt",
                 "true or false");
}

// ------------------------------------------------------------------------------------------------
// Tokenize and detokenize

TEST(OpenAIRequestTokenize, PromptForm) {
  TokenizeRequest r = parseTokenizeRequest(R"({"prompt": "Hello"})");
  EXPECT_FALSE(r.isChat);
  EXPECT_EQ(r.prompt, "Hello");
  EXPECT_EQ(r.model, "");
  EXPECT_TRUE(r.addSpecialTokens);
  EXPECT_FALSE(r.returnTokenStrs);
  r = parseTokenizeRequest(
      R"({"model": "m", "prompt": "", "add_special_tokens": false, "return_token_strs": true})");
  EXPECT_EQ(r.model, "m");
  EXPECT_FALSE(r.addSpecialTokens);
  EXPECT_TRUE(r.returnTokenStrs);
  expectRejected(kTokenize, R"({"prompt": ["a"]})", "prompt", "must be a string");
  expectRejected(kTokenize, R"({"prompt": "a", "add_generation_prompt": true})",
                 "add_generation_prompt", "Unknown parameter");
  expectRejected(kTokenize, R"({"prompt": "a", "max_tokens": 3})", "max_tokens",
                 "Unknown parameter");
}

TEST(OpenAIRequestTokenize, ChatForm) {
  TokenizeRequest r = parseTokenizeRequest(R"({"messages": [{"role": "user", "content": "x"}]})");
  EXPECT_TRUE(r.isChat);
  EXPECT_EQ(r.messages.size(), 1u);
  EXPECT_FALSE(r.addSpecialTokens);
  EXPECT_TRUE(r.addGenerationPrompt);
  EXPECT_FALSE(r.continueFinalMessage);
  r = parseTokenizeRequest(R"({"messages": [{"role": "assistant", "content": "Sure"}],
      "add_generation_prompt": false, "continue_final_message": true,
      "chat_template_kwargs": {"a": 1}, "tools": [{"function": {"name": "f"}}]})");
  EXPECT_TRUE(r.continueFinalMessage);
  EXPECT_EQ(r.chatTemplateKwargs["a"], 1);
  EXPECT_EQ(r.tools.size(), 1u);
  expectRejected(kTokenize, R"({"messages": [{"role": "user"}]})", "messages[0].content",
                 "is required");
  expectRejected(kTokenize, R"({"messages": [{"role": "user", "content": "x"}],
                 "continue_final_message": true})",
                 "continue_final_message", "cannot both be true");
}

TEST(OpenAIRequestTokenize, EitherPromptOrMessages) {
  expectRejected(kTokenize, R"({})", "prompt", "either 'prompt'", "missing_required_parameter");
  expectRejected(kTokenize, R"({"prompt": null, "messages": null})", "prompt", "either");
  expectRejected(kTokenize, R"({"prompt": "a", "messages": [{"role": "user", "content": "x"}]})",
                 "messages", "not both");
}

TEST(OpenAIRequestDetokenize, Tokens) {
  DetokenizeRequest r = parseDetokenizeRequest(R"({"model": "m", "tokens": [1, 0, 5]})");
  EXPECT_EQ(r.model, "m");
  EXPECT_EQ(r.tokens, (std::vector<int32_t>{1, 0, 5}));
  EXPECT_TRUE(parseDetokenizeRequest(R"({"tokens": []})").tokens.empty());
  expectRejected(kDetokenize, R"({})", "tokens", "is required");
  expectRejected(kDetokenize, R"({"tokens": [-1]})", "tokens[0]", ">= 0");
  expectRejected(kDetokenize, R"({"tokens": ["a"]})", "tokens[0]", "must be an integer");
  expectRejected(kDetokenize, R"({"tokens": "1 2"})", "tokens", "an array of token ids");
  expectRejected(kDetokenize, R"({"tokens": [1], "skip_special_tokens": true})",
                 "skip_special_tokens", "Unknown parameter");
}

// ------------------------------------------------------------------------------------------------
// Real bodies

std::string readFile(const std::filesystem::path &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The seeds are named after their endpoint: completions-*, chat-*, tokenize-*, detokenize-*.
TEST(OpenAIRequestSeeds, EveryRealBodyParses) {
  int count = 0;
  for (const auto &entry : std::filesystem::directory_iterator(LLM_OPENAI_REQUEST_SEEDS)) {
    std::string name = entry.path().filename().string();
    std::string body = readFile(entry.path());
    SCOPED_TRACE(name);
    try {
      if (name.starts_with("completions-"))
        parseCompletionRequest(body);
      else if (name.starts_with("chat-"))
        parseChatRequest(body);
      else if (name.starts_with("tokenize-"))
        parseTokenizeRequest(body);
      else if (name.starts_with("detokenize-"))
        parseDetokenizeRequest(body);
      else
        ADD_FAILURE() << "a seed named after no endpoint";
    } catch (const ApiError &error) {
      ADD_FAILURE() << error.message;
    }
    ++count;
  }
  EXPECT_GE(count, 12);
}

} // namespace
} // namespace llmrt::server
