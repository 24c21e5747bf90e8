// Response shapes: every body and chunk field by field, then a set of sample responses against
// what the real `openai` Python client made of the same bytes (test/fixtures/openai/
// client_view.json, written by tools/fixtures/make_openai_fixtures.py from this test's renders:
// run it with LLM_OPENAI_RENDER_DIR=DIR to write them, then the script with --rendered DIR).
#include "server/OpenAIResponse.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>

namespace llmrt::server {
namespace {

// Responses keep their member order, and these comparisons check it too.
using json = nlohmann::ordered_json;
// The fixture's comparisons are about values: the script writes sorted keys.
using plain = nlohmann::json;

const ResponseHeader kCompletionHeader{"cmpl-0123456789abcdef0123456789abcdef", 1700000000,
                                       "tiny-chat", false};
const ResponseHeader kChatHeader{"chatcmpl-0123456789abcdef0123456789abcdef", 1700000001,
                                 "tiny-chat", false};

TokenLogprob tokenLogprob(std::string token, float logprob,
                          std::vector<std::pair<std::string, float>> top) {
  TokenLogprob out{{std::move(token), logprob, std::nullopt}, {}};
  for (auto &[text, value] : top)
    out.top.push_back({text, value, std::nullopt});
  return out;
}

// ------------------------------------------------------------------------------------------------
// Parts

TEST(OpenAIResponseParts, Usage) {
  EXPECT_EQ(usageJson({7, 5, std::nullopt}),
            json({{"prompt_tokens", 7}, {"completion_tokens", 5}, {"total_tokens", 12}}));
  EXPECT_EQ(usageJson({7, 5, 4})["prompt_tokens_details"], json({{"cached_tokens", 4}}));
}

TEST(OpenAIResponseParts, FinishAndStopReasons) {
  EXPECT_TRUE(finishReasonJson(FinishReason::None).is_null());
  EXPECT_EQ(finishReasonJson(FinishReason::Stop), "stop");
  EXPECT_EQ(finishReasonJson(FinishReason::Length), "length");
  EXPECT_EQ(finishReasonJson(FinishReason::Abort), "abort");
  EXPECT_TRUE(stopReasonJson({}).is_null());
  EXPECT_EQ(stopReasonJson(std::string("\n\n")), "\n\n");
  EXPECT_EQ(stopReasonJson(int32_t{128009}), 128009);
}

TEST(OpenAIResponseParts, LogprobsRoundTripAndStayFinite) {
  EXPECT_EQ(dumpJson(logprobJson(-0.1f)), "-0.1");
  EXPECT_EQ(dumpJson(logprobJson(0.0f)), "0.0");
  EXPECT_EQ(dumpJson(logprobJson(-std::numeric_limits<float>::infinity())), "-9999.0");
  EXPECT_EQ(dumpJson(logprobJson(std::numeric_limits<float>::quiet_NaN())), "-9999.0");
  EXPECT_EQ(dumpJson(logprobJson(std::numeric_limits<float>::infinity())), "-9999.0");
  // Every float reads back as itself from what is written.
  for (float value : {-1e-30f, -3.4028235e38f, -1.17549435e-38f, -12.345678f, -0.6931472f,
                      -1.4e-45f, -100.25f}) {
    float back = static_cast<float>(std::strtod(dumpJson(logprobJson(value)).c_str(), nullptr));
    EXPECT_EQ(back, value) << dumpJson(logprobJson(value));
  }
}

TEST(OpenAIResponseParts, CompletionLogprobs) {
  std::vector<TokenLogprob> tokens = {
      tokenLogprob(" Hello", -0.5f, {{" Hello", -0.5f}, {" Hi", -1.25f}}),
      tokenLogprob("\u00e9t\u00e9", -2.0f, {{"\u00e9t\u00e9", -2.0f}}),
      tokenLogprob("!", -0.125f, {{"!", -0.125f}, {".", -std::numeric_limits<float>::infinity()}}),
  };
  json out = completionLogprobsJson(tokens, 10);
  EXPECT_EQ(out["tokens"], json({" Hello", "\u00e9t\u00e9", "!"}));
  EXPECT_EQ(out["token_logprobs"], json({-0.5, -2.0, -0.125}));
  EXPECT_EQ(out["top_logprobs"][0], json({{" Hello", -0.5}, {" Hi", -1.25}}));
  EXPECT_EQ(out["top_logprobs"][2], json({{"!", -0.125}, {".", -9999.0}}));
  // Offsets count characters (code points), not bytes: "été" is 3.
  EXPECT_EQ(out["text_offset"], json({10, 16, 19}));
  EXPECT_EQ(out.size(), 4u);
  // The alternatives stay best first (a dict in Python keeps this order), not sorted by text.
  std::vector<TokenLogprob> ranked = {tokenLogprob("b", -0.5f, {{"b", -0.5f}, {"a", -1.0f}})};
  EXPECT_EQ(dumpJson(completionLogprobsJson(ranked, 0)["top_logprobs"]),
            R"([{"b":-0.5,"a":-1.0}])");
  EXPECT_EQ(completionLogprobsJson({}, 0),
            json({{"tokens", json::array()}, {"token_logprobs", json::array()},
                  {"top_logprobs", json::array()}, {"text_offset", json::array()}}));
}

TEST(OpenAIResponseParts, ChatLogprobsCarryBytes) {
  TokenLogprob partial{{"\xef\xbf\xbd", -1.5f, std::string("\xe4\xbd")},
                       {{"\xef\xbf\xbd", -1.5f, std::string("\xe4\xbd")}, {"a", -2.0f, {}}}};
  json out = chatLogprobsJson(std::vector<TokenLogprob>{partial});
  ASSERT_EQ(out.size(), 1u);
  const json &entry = out["content"][0];
  EXPECT_EQ(entry["token"], "\xef\xbf\xbd");
  EXPECT_EQ(entry["logprob"], -1.5);
  EXPECT_EQ(entry["bytes"], json({0xe4, 0xbd}));
  EXPECT_EQ(entry["top_logprobs"][0]["bytes"], json({0xe4, 0xbd}));
  EXPECT_EQ(entry["top_logprobs"][1], json({{"token", "a"}, {"logprob", -2.0}, {"bytes", {97}}}));
  EXPECT_EQ(entry.size(), 4u);
}

TEST(OpenAIResponseParts, InvalidUtf8NeverBreaksTheBody) {
  CompletionChoice choice;
  choice.text = "a\xe4\xbd";
  choice.logprobs = std::vector<TokenLogprob>{tokenLogprob("\xe4\xbd", -1, {{"\xff", -2}})};
  std::string body = dumpJson(completionJson(kCompletionHeader, {&choice, 1}, {}));
  json back = json::parse(body);
  EXPECT_EQ(back["choices"][0]["text"], "a\xef\xbf\xbd");
}

// ------------------------------------------------------------------------------------------------
// Bodies and chunks

TEST(OpenAIResponseShapes, Completion) {
  CompletionChoice choice;
  choice.text = "Hello";
  choice.finishReason = FinishReason::Stop;
  choice.stopReason = std::string("\n");
  json body = completionJson(kCompletionHeader, {&choice, 1}, {3, 2, std::nullopt});
  EXPECT_EQ(body["id"], kCompletionHeader.id);
  EXPECT_EQ(body["object"], "text_completion");
  EXPECT_EQ(body["created"], 1700000000);
  EXPECT_EQ(body["model"], "tiny-chat");
  EXPECT_EQ(body["usage"], json({{"prompt_tokens", 3}, {"completion_tokens", 2},
                                 {"total_tokens", 5}}));
  EXPECT_EQ(body["choices"][0], json({{"index", 0},
                                      {"text", "Hello"},
                                      {"logprobs", nullptr},
                                      {"finish_reason", "stop"},
                                      {"stop_reason", "\n"}}));
  EXPECT_EQ(body.size(), 6u);
  // OpenAI's member order.
  EXPECT_EQ(dumpJson(body).substr(0, 55),
            R"({"id":"cmpl-0123456789abcdef0123456789abcdef","object":)");
}

TEST(OpenAIResponseShapes, CompletionChunksAndUsage) {
  CompletionChoice choice;
  choice.index = 1;
  choice.text = "lo";
  json chunk = completionChunkJson(kCompletionHeader, {&choice, 1});
  EXPECT_FALSE(chunk.contains("usage")); // no include_usage: no usage field at all
  EXPECT_EQ(chunk["object"], "text_completion");
  EXPECT_EQ(chunk["choices"][0], json({{"index", 1},
                                       {"text", "lo"},
                                       {"logprobs", nullptr},
                                       {"finish_reason", nullptr},
                                       {"stop_reason", nullptr}}));
  ResponseHeader withUsage = kCompletionHeader;
  withUsage.includeUsage = true;
  EXPECT_TRUE(completionChunkJson(withUsage, {&choice, 1})["usage"].is_null());
  Usage soFar{4, 1, std::nullopt};
  EXPECT_EQ(completionChunkJson(withUsage, {&choice, 1}, &soFar)["usage"]["total_tokens"], 5);
  json last = completionUsageChunkJson(withUsage, {4, 2, std::nullopt});
  EXPECT_EQ(last["choices"], json::array());
  EXPECT_EQ(last["usage"]["completion_tokens"], 2);
  EXPECT_EQ(last["id"], kCompletionHeader.id);
}

TEST(OpenAIResponseShapes, ChatCompletion) {
  ChatChoice choice;
  choice.content = "Hi there.";
  choice.finishReason = FinishReason::Length;
  json body = chatCompletionJson(kChatHeader, {&choice, 1}, {10, 3, 8});
  EXPECT_EQ(body["object"], "chat.completion");
  EXPECT_EQ(body["id"], kChatHeader.id);
  EXPECT_EQ(body["choices"][0],
            json({{"index", 0},
                  {"message",
                   {{"role", "assistant"}, {"content", "Hi there."}, {"refusal", nullptr}}},
                  {"logprobs", nullptr},
                  {"finish_reason", "length"},
                  {"stop_reason", nullptr}}));
  EXPECT_EQ(body["usage"]["prompt_tokens_details"]["cached_tokens"], 8);
}

TEST(OpenAIResponseShapes, ChatChunkDeltas) {
  ResponseHeader header = kChatHeader;
  header.includeUsage = true;
  ChatChoice opening;
  opening.roleDelta = true;
  json first = chatCompletionChunkJson(header, {&opening, 1});
  EXPECT_EQ(first["object"], "chat.completion.chunk");
  EXPECT_EQ(first["choices"][0]["delta"], json({{"role", "assistant"}, {"content", ""}}));
  EXPECT_TRUE(first["choices"][0]["finish_reason"].is_null());
  EXPECT_TRUE(first["usage"].is_null());

  ChatChoice middle;
  middle.content = "Hel";
  EXPECT_EQ(chatCompletionChunkJson(header, {&middle, 1})["choices"][0]["delta"],
            json({{"content", "Hel"}}));

  ChatChoice closing;
  closing.finishReason = FinishReason::Stop;
  closing.stopReason = int32_t{2};
  json last = chatCompletionChunkJson(header, {&closing, 1})["choices"][0];
  EXPECT_EQ(last["delta"], json::object()); // nothing new: an empty delta, as OpenAI sends
  EXPECT_EQ(last["finish_reason"], "stop");
  EXPECT_EQ(last["stop_reason"], 2);

  closing.content = "lo";
  EXPECT_EQ(chatCompletionChunkJson(header, {&closing, 1})["choices"][0]["delta"],
            json({{"content", "lo"}}));

  json usage = chatUsageChunkJson(header, {5, 2, std::nullopt});
  EXPECT_EQ(usage["choices"], json::array());
  EXPECT_EQ(usage["usage"]["total_tokens"], 7);
  EXPECT_EQ(usage["object"], "chat.completion.chunk");
}

TEST(OpenAIResponseShapes, ModelsTokenizeDetokenizeError) {
  ModelCard card{"tiny-chat", 1700000002, 2048};
  EXPECT_EQ(modelListJson({&card, 1}),
            json({{"object", "list"},
                  {"data",
                   {{{"id", "tiny-chat"},
                     {"object", "model"},
                     {"created", 1700000002},
                     {"owned_by", "llmrt"},
                     {"root", "tiny-chat"},
                     {"parent", nullptr},
                     {"max_model_len", 2048}}}}}));
  std::vector<int32_t> ids = {1, 22, 333};
  EXPECT_EQ(tokenizeJson(ids, 2048),
            json({{"count", 3}, {"max_model_len", 2048}, {"tokens", {1, 22, 333}}}));
  std::vector<std::string> strs = {"a", "b", "c"};
  EXPECT_EQ(tokenizeJson(ids, 2048, &strs)["token_strs"], json({"a", "b", "c"}));
  EXPECT_EQ(detokenizeJson("Hello"), json({{"prompt", "Hello"}}));

  EXPECT_EQ(errorJson(ApiError::badRequest("Unknown parameter 'x'.", "x", "unknown_parameter")),
            json({{"error",
                   {{"message", "Unknown parameter 'x'."},
                    {"type", "invalid_request_error"},
                    {"param", "x"},
                    {"code", "unknown_parameter"}}}}));
  json fault = errorJson(ApiError(500, "Engine failed."))["error"];
  EXPECT_EQ(fault["type"], "server_error");
  EXPECT_TRUE(fault["param"].is_null());
  EXPECT_TRUE(fault["code"].is_null());
  EXPECT_EQ(ApiError::modelNotFound("gpt-4").status, 404);
}

TEST(OpenAIResponseText, SseAndIds) {
  EXPECT_EQ(sseEvent(json({{"a", 1}})), "data: {\"a\":1}\n\n");
  EXPECT_EQ(kSseDone, "data: [DONE]\n\n");
  std::string id = newResponseId("chatcmpl-");
  EXPECT_EQ(id.size(), 9u + 32u);
  EXPECT_EQ(id.rfind("chatcmpl-", 0), 0u);
  EXPECT_NE(id, newResponseId("chatcmpl-"));
  EXPECT_GT(unixTimeNow(), 1700000000);
  EXPECT_EQ(countCodePoints("a\u00e9\u4f60\U0001F600"), 4);
  EXPECT_EQ(tokenIdText(42), "token_id:42");
}

// ------------------------------------------------------------------------------------------------
// Samples that the openai client parsed (fixture)

struct Sample {
  std::string file;      // NAME.json (a body) or NAME.sse (a stream)
  std::string text;      // the rendered bytes
  std::map<int, std::string> streamedText; // streams: the text each choice must add up to
};

std::string sse(const std::vector<json> &chunks) {
  std::string out;
  for (const json &chunk : chunks)
    out += sseEvent(chunk);
  return out + std::string(kSseDone);
}

Sample completionSample() {
  CompletionChoice first, second;
  first.text = " there was a cat.";
  first.finishReason = FinishReason::Stop;
  first.stopReason = std::string("\n");
  second.index = 1;
  second.text = " the end";
  second.finishReason = FinishReason::Length;
  std::vector<CompletionChoice> choices = {first, second};
  return {"completion.json", dumpJson(completionJson(kCompletionHeader, choices, {5, 9, 4})), {}};
}

Sample completionLogprobsSample() {
  CompletionChoice choice;
  choice.text = " caf\u00e9!";
  choice.finishReason = FinishReason::Stop;
  choice.stopReason = int32_t{2};
  choice.textOffset = 16;
  choice.logprobs = std::vector<TokenLogprob>{
      tokenLogprob(" caf", -0.25f, {{" caf", -0.25f}, {" tea", -1.5f}}),
      tokenLogprob("\u00e9", -0.1f, {{"\u00e9", -0.1f}, {"e", -2.75f}}),
      tokenLogprob("!", -3.0f, {{".", -0.5f}, {"!", -3.0f},
                                {"?", -std::numeric_limits<float>::infinity()}})};
  return {"completion_logprobs.json",
          dumpJson(completionJson(kCompletionHeader, {&choice, 1}, {4, 3, std::nullopt})), {}};
}

Sample completionStreamSample() {
  ResponseHeader header = kCompletionHeader;
  header.includeUsage = true;
  auto chunk = [&](int index, std::string text, FinishReason finish = FinishReason::None,
                   StopReason stop = {}) {
    CompletionChoice choice;
    choice.index = index;
    choice.text = std::move(text);
    choice.finishReason = finish;
    choice.stopReason = std::move(stop);
    return completionChunkJson(header, {&choice, 1});
  };
  std::vector<json> chunks = {chunk(0, "Once"), chunk(1, "Long"), chunk(0, " upon"),
                              chunk(1, " ago", FinishReason::Length),
                              chunk(0, " a time", FinishReason::Stop, std::string("\n\n")),
                              completionUsageChunkJson(header, {3, 5, std::nullopt})};
  return {"completion_stream.sse", sse(chunks), {{0, "Once upon a time"}, {1, "Long ago"}}};
}

Sample chatSample() {
  ChatChoice choice;
  choice.content = "Hello! How can I help?";
  choice.finishReason = FinishReason::Stop;
  return {"chat.json", dumpJson(chatCompletionJson(kChatHeader, {&choice, 1}, {12, 7, 0})), {}};
}

Sample chatLogprobsSample() {
  ChatChoice choice;
  choice.content = "\u4f60!";
  choice.finishReason = FinishReason::Length;
  std::string replacement = "\xef\xbf\xbd";
  choice.logprobs = std::vector<TokenLogprob>{
      {{replacement, -0.5f, std::string("\xe4\xbd")},
       {{replacement, -0.5f, std::string("\xe4\xbd")}, {"Hi", -1.0f, std::nullopt}}},
      {{replacement, -0.01f, std::string("\xa0")}, {{replacement, -0.01f, std::string("\xa0")}}},
      {{"!", -std::numeric_limits<float>::infinity(), std::nullopt}, {}}};
  return {"chat_logprobs.json",
          dumpJson(chatCompletionJson(kChatHeader, {&choice, 1}, {6, 3, std::nullopt})), {}};
}

Sample chatStreamSample(FinishReason finish, std::string file) {
  ResponseHeader header = kChatHeader;
  header.includeUsage = true;
  auto chunk = [&](int index, bool role, std::string content,
                   FinishReason reason = FinishReason::None, StopReason stop = {},
                   std::optional<std::vector<TokenLogprob>> logprobs = std::nullopt) {
    ChatChoice choice;
    choice.index = index;
    choice.roleDelta = role;
    choice.content = std::move(content);
    choice.finishReason = reason;
    choice.stopReason = std::move(stop);
    choice.logprobs = std::move(logprobs);
    return chatCompletionChunkJson(header, {&choice, 1});
  };
  auto logprobs = std::vector<TokenLogprob>{
      {{"Hi", -0.5f, std::nullopt}, {{"Hi", -0.5f, std::nullopt}, {"Hey", -1.5f, std::nullopt}}}};
  std::vector<json> chunks = {chunk(0, true, ""), chunk(1, true, ""),
                              chunk(0, false, "Hi", FinishReason::None, {}, logprobs),
                              chunk(1, false, "Hello"), chunk(0, false, " there"),
                              chunk(1, false, "", finish),
                              chunk(0, false, "!", FinishReason::Stop, int32_t{2}),
                              chatUsageChunkJson(header, {8, 5, std::nullopt})};
  return {std::move(file), sse(chunks), {{0, "Hi there!"}, {1, "Hello"}}};
}

Sample modelsSample() {
  ModelCard card{"tiny-chat", 1700000002, 2048};
  return {"models.json", dumpJson(modelListJson({&card, 1})), {}};
}

Sample errorSample() {
  ApiError error = ApiError::badRequest("'temperature' must be a number in [0, 2]; got 3.",
                                        "temperature", "invalid_value");
  return {"error.json", dumpJson(errorJson(error)), {}};
}

std::vector<Sample> samples() {
  return {completionSample(),
          completionLogprobsSample(),
          completionStreamSample(),
          chatSample(),
          chatLogprobsSample(),
          chatStreamSample(FinishReason::Length, "chat_stream.sse"),
          chatStreamSample(FinishReason::Abort, "chat_stream_abort.sse"),
          modelsSample(),
          errorSample()};
}

// What the stream's data lines hold, in order.
std::vector<plain> streamChunks(const std::string &text) {
  std::vector<plain> chunks;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line))
    if (line.rfind("data: {", 0) == 0)
      chunks.push_back(plain::parse(line.substr(6)));
  return chunks;
}

TEST(OpenAIResponseClient, WriteRendersWhenAsked) {
  const char *dir = std::getenv("LLM_OPENAI_RENDER_DIR");
  if (!dir)
    GTEST_SKIP() << "set LLM_OPENAI_RENDER_DIR to write the samples for the fixture script";
  std::filesystem::create_directories(dir);
  for (const Sample &sample : samples())
    std::ofstream(std::filesystem::path(dir) / sample.file, std::ios::binary) << sample.text;
}

TEST(OpenAIResponseClient, TheOpenAIClientReadsWhatWeWrite) {
  std::ifstream in(std::string(LLM_OPENAI_FIXTURES) + "/client_view.json");
  ASSERT_TRUE(in) << "missing fixture client_view.json";
  plain views = plain::parse(in);
  for (const Sample &sample : samples()) {
    SCOPED_TRACE(sample.file);
    ASSERT_TRUE(views.contains(sample.file));
    const plain &view = views[sample.file];
    // The fixture was made from these very bytes.
    EXPECT_EQ(view["rendered"].get<std::string>(), sample.text);
    // Strict validation with the client's pydantic models; vLLM's "abort" is outside OpenAI's
    // finish_reason literals (the client's own parsing is lenient and keeps it).
    if (sample.file.find("abort") == std::string::npos) {
      EXPECT_EQ(view["strict"], "ok");
    } else {
      EXPECT_NE(view["strict"], "ok");
    }
    if (sample.file.ends_with(".sse")) {
      std::vector<plain> chunks = streamChunks(sample.text);
      ASSERT_EQ(view["chunks"].size(), chunks.size());
      for (size_t i = 0; i < chunks.size(); ++i)
        EXPECT_EQ(view["chunks"][i], chunks[i]) << "chunk " << i;
      for (const auto &[index, text] : sample.streamedText)
        EXPECT_EQ(view["text"][std::to_string(index)], text);
    } else if (sample.file == "error.json") {
      plain error = plain::parse(sample.text)["error"];
      EXPECT_EQ(view["status"], 400);
      EXPECT_EQ(view["body"], error);
      EXPECT_EQ(view["code"], error["code"]);
      EXPECT_EQ(view["param"], error["param"]);
      EXPECT_EQ(view["type"], error["type"]);
    } else {
      // Every field was kept with its type and value: nothing lost, nothing coerced.
      EXPECT_EQ(view["parsed"], plain::parse(sample.text));
    }
  }
}

} // namespace
} // namespace llmrt::server
