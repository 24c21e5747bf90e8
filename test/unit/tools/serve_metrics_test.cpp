// bench-serve's statistics (bit for bit against numpy: reference/statistics.json, made by
// make_reference.py), the reading of one streaming response (content chunks, usage, failures),
// and the run summary.
#include "tools/ServeMetrics.h"
#include "tools/SseClient.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <string>
#include <vector>

namespace {

using namespace llmrt::tools;
using json = nlohmann::json;

json statisticsReference() {
  std::ifstream in(LLM_TOOLS_REFERENCE "/statistics.json");
  EXPECT_TRUE(in) << "cannot open statistics.json";
  return json::parse(in);
}

TEST(ServeStatistics, MatchNumpyBitForBit) {
  json ref = statisticsReference();
  ASSERT_GT(ref["cases"].size(), 10u);
  for (const json &c : ref["cases"]) {
    std::vector<double> v = c["values"].get<std::vector<double>>();
    SCOPED_TRACE(testing::Message() << v.size() << " values");
    EXPECT_EQ(numpyMean(v), c["mean"].get<double>());
    EXPECT_EQ(numpyStd(v), c["std"].get<double>());
    EXPECT_EQ(numpyMedian(v), c["median"].get<double>());
    for (const json &p : c["percentiles"])
      EXPECT_EQ(numpyPercentile(v, p[0].get<double>()), p[1].get<double>())
          << "percentile " << p[0];
  }
}

TEST(ServeStatistics, LatencyStatsAreNumpysTimesAThousand) {
  json ref = statisticsReference();
  const json &c = ref["cases"][12]; // a case of more than 100 values
  std::vector<double> v = c["values"].get<std::vector<double>>();
  LatencyStats s = latencyStats(v);
  EXPECT_EQ(s.mean, c["mean"].get<double>() * 1000);
  EXPECT_EQ(s.median, c["median"].get<double>() * 1000);
  EXPECT_EQ(s.std, c["std"].get<double>() * 1000);
  EXPECT_EQ(s.p90, numpyPercentile(v, 90) * 1000);
  EXPECT_EQ(s.p99, numpyPercentile(v, 99) * 1000);
}

TEST(ServeStatistics, EmptyListsGiveZero) {
  // vLLM computes np.mean(x or 0): statistics of nothing are 0.
  EXPECT_EQ(numpyMean({}), 0);
  EXPECT_EQ(numpyStd({}), 0);
  EXPECT_EQ(numpyMedian({}), 0);
  EXPECT_EQ(numpyPercentile({}, 99), 0);
}

std::string completionChunk(const std::string &text, const char *finish = nullptr) {
  json choice = {{"index", 0}, {"text", text}, {"finish_reason", nullptr}};
  if (finish)
    choice["finish_reason"] = finish;
  return json{{"object", "text_completion"}, {"choices", {choice}}, {"usage", nullptr}}.dump();
}

std::string chatChunk(const json &delta, const char *finish = nullptr) {
  json choice = {{"index", 0}, {"delta", delta}, {"finish_reason", nullptr}};
  if (finish)
    choice["finish_reason"] = finish;
  return json{{"object", "chat.completion.chunk"}, {"choices", {choice}}}.dump();
}

std::string usageChunk(int prompt, int completion) {
  return json{{"choices", json::array()},
              {"usage",
               {{"prompt_tokens", prompt},
                {"completion_tokens", completion},
                {"total_tokens", prompt + completion}}}}
      .dump();
}

SseEvent data(std::string d) { return {"message", std::move(d)}; }

TEST(ResponseStream, CompletionWithUsage) {
  ResponseStream s(ServeApi::Completions, /*promptTokens=*/10, /*arrival=*/0.25, /*start=*/0.5);
  s.onEvent(data(completionChunk(" a")), 1.0);
  s.onEvent(data(completionChunk("")), 1.5); // a token whose text the server holds back
  s.onEvent(data(completionChunk(" b")), 1.5);
  s.onEvent(data(completionChunk(" c", "length")), 2.5);
  s.onEvent(data(usageChunk(12, 4)), 2.75);
  s.onEvent(data("[DONE]"), 3.0);
  RequestOutcome o = s.finish(200, "", "");
  ASSERT_TRUE(o.success) << o.error;
  EXPECT_EQ(o.contentChunks, 4);
  EXPECT_EQ(o.outputTokens, 4);
  EXPECT_EQ(o.promptTokens, 12) << "usage.prompt_tokens replaces the drawn length";
  EXPECT_EQ(o.ttft, 0.5);
  EXPECT_EQ(o.itl, (std::vector<double>{0.5, 0.0, 1.0}));
  EXPECT_EQ(o.latency, 2.0) << "E2E ends at the last content chunk, as vLLM's latency";
  EXPECT_EQ(o.arrival, 0.25);
  EXPECT_EQ(o.start, 0.5);
}

TEST(ResponseStream, ChatSkipsTheRoleAnnouncementAndTheBareFinishChunk) {
  ResponseStream s(ServeApi::ChatCompletions, 7, 0, 0.5);
  s.onEvent(data(chatChunk({{"role", "assistant"}, {"content", ""}})), 1.0);
  s.onEvent(data(chatChunk({{"content", "Hi"}})), 2.0);
  s.onEvent(data(chatChunk({{"content", " there"}})), 3.0);
  s.onEvent(data(chatChunk({{"content", "!"}})), 5.0);
  s.onEvent(data(chatChunk(json::object(), "length")), 6.0);
  s.onEvent(data(usageChunk(20, 3)), 6.0);
  s.onEvent(data("[DONE]"), 6.0);
  RequestOutcome o = s.finish(200, "", "");
  ASSERT_TRUE(o.success) << o.error;
  EXPECT_EQ(o.contentChunks, 3);
  EXPECT_EQ(o.outputTokens, 3);
  EXPECT_EQ(o.ttft, 1.5);
  EXPECT_EQ(o.itl, (std::vector<double>{1.0, 2.0}));
  EXPECT_EQ(o.latency, 4.5);
}

TEST(ResponseStream, WithoutUsageCountsContentChunks) {
  ResponseStream s(ServeApi::Completions, 9, 0, 0);
  for (int i = 0; i < 5; ++i)
    s.onEvent(data(completionChunk("x")), 1.0 + i);
  s.onEvent(data("[DONE]"), 6);
  RequestOutcome o = s.finish(200, "", "");
  ASSERT_TRUE(o.success) << o.error;
  EXPECT_EQ(o.outputTokens, 5);
  EXPECT_EQ(o.promptTokens, 9);
}

TEST(ResponseStream, EventsAfterDoneAreIgnored) {
  ResponseStream s(ServeApi::Completions, 1, 0, 0);
  s.onEvent(data(completionChunk("x")), 1);
  s.onEvent(data("[DONE]"), 2);
  s.onEvent(data("not json"), 3);
  s.onEvent(data(completionChunk("y")), 4);
  RequestOutcome o = s.finish(200, "", "");
  ASSERT_TRUE(o.success) << o.error;
  EXPECT_EQ(o.contentChunks, 1);
  EXPECT_EQ(o.latency, 1);
}

RequestOutcome failed(std::vector<std::string> events, int status, const std::string &transport,
                      const std::string &body = "") {
  ResponseStream s(ServeApi::Completions, 3, 0, 0);
  for (size_t i = 0; i < events.size(); ++i)
    s.onEvent(data(events[i]), double(i + 1));
  RequestOutcome o = s.finish(status, transport, body);
  EXPECT_FALSE(o.success);
  EXPECT_EQ(o.outputTokens, 0);
  return o;
}

TEST(ResponseStream, Failures) {
  EXPECT_EQ(failed({}, 500, "", R"({"error": {"message": "boom", "code": 500}})").error,
            "HTTP 500: boom");
  EXPECT_EQ(failed({}, 400, "", R"({"object": "error", "message": "bad max_tokens"})").error,
            "HTTP 400: bad max_tokens");
  EXPECT_EQ(failed({}, 404, "", R"({"detail": "Not Found"})").error, "HTTP 404: Not Found");
  EXPECT_EQ(failed({}, 503, "", "overloaded\n").error, "HTTP 503: overloaded");
  EXPECT_EQ(failed({}, 502, "", "").error, "HTTP 502");
  EXPECT_EQ(failed({}, 0, "cannot connect to http://h:1/v1/completions: refused").error,
            "cannot connect to http://h:1/v1/completions: refused");
  EXPECT_EQ(
      failed({completionChunk("a"), completionChunk("b")}, 200, "the connection closed").error,
      "the stream broke after 2 content chunks: the connection closed");
  EXPECT_EQ(failed({completionChunk("a")}, 200, "").error,
            "the stream ended without 'data: [DONE]'");
  EXPECT_EQ(failed({usageChunk(3, 0), "[DONE]"}, 200, "").error,
            "the stream carried no content chunk (no generated token)");
  EXPECT_EQ(
      failed({completionChunk("a"), R"({"error": {"message": "engine died"}})", "[DONE]"}, 200, "")
          .error,
      "the server reported an error in the stream: engine died");
  EXPECT_EQ(failed({completionChunk("a"), "{\"choices\": [", "[DONE]"}, 200, "").error,
            "event 2 of the stream is not a JSON object: {\"choices\": [");
}

TEST(ResponseStream, ErrorEventType) {
  ResponseStream s(ServeApi::Completions, 3, 0, 0);
  s.onEvent(data(completionChunk("a")), 1);
  s.onEvent({"error", "overloaded"}, 2);
  s.onEvent(data("[DONE]"), 3);
  RequestOutcome o = s.finish(200, "", "");
  EXPECT_FALSE(o.success);
  EXPECT_EQ(o.error, "the server sent an error event: overloaded");
}

RequestOutcome success(double start, double ttft, std::vector<double> itl, int64_t prompt,
                       int64_t output) {
  RequestOutcome o;
  o.success = true;
  o.arrival = start - 0.25;
  o.start = start;
  o.ttft = ttft;
  o.itl = std::move(itl);
  o.latency = ttft;
  for (double g : o.itl)
    o.latency += g;
  o.contentChunks = static_cast<int>(o.itl.size()) + 1;
  o.promptTokens = prompt;
  o.outputTokens = output;
  return o;
}

TEST(ServeReport, SummarizesSuccessfulRequestsOnly) {
  std::vector<RequestOutcome> rs;
  rs.push_back(success(0.0, 0.5, {0.25, 0.25, 0.5}, 10, 4)); // tpot (1.5 - 0.5) / 3
  rs.push_back(success(1.0, 1.0, {}, 20, 1));                // one token: no tpot
  RequestOutcome bad;
  bad.error = "HTTP 500";
  bad.promptTokens = 100;
  rs.push_back(bad);
  ServeReport r = summarizeRun(rs, 4.0, 3);
  EXPECT_EQ(r.completed, 2);
  EXPECT_EQ(r.failed, 1);
  EXPECT_EQ(r.totalInputTokens, 30);
  EXPECT_EQ(r.totalOutputTokens, 5);
  EXPECT_EQ(r.requestThroughput, 0.5);
  EXPECT_EQ(r.outputThroughput, 5 / 4.0);
  EXPECT_EQ(r.totalTokenThroughput, 35 / 4.0);
  EXPECT_EQ(r.maxConcurrentRequests, 3);
  EXPECT_EQ(r.tpot.mean, numpyMean({1.0 / 3}) * 1000);
  EXPECT_EQ(r.ttft.mean, numpyMean({0.5, 1.0}) * 1000);
  EXPECT_EQ(r.e2el.median, numpyMedian({1.5, 1.0}) * 1000);
  EXPECT_EQ(r.itl.p99, numpyPercentile({0.25, 0.25, 0.5}, 99) * 1000);
  EXPECT_EQ(r.queue.mean, 250);
  // Tokens at 0.5, 0.75, 1.0, 1.5 (request 0) and 2.0 (request 1): seconds [0, 1) hold 2,
  // [1, 2) hold 2, [2, 3) hold 1.
  EXPECT_EQ(r.maxOutputTokensPerSecond, 2);
  EXPECT_EQ(r.requests.size(), 3u);
}

} // namespace
