// bench-serve: the arrival schedule, the request bodies, the model lookup, and whole runs against
// a mock OpenAI streaming server (Beast, synchronous, a thread per connection) that splits its
// events across HTTP chunks at odd sizes, answers one request with a 500 and cuts one stream in
// the middle.
#include "support/Error.h"
#include "tools/Bench.h"
#include "tools/BenchServe.h"
#include "tools/SseClient.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <cmath>
#include <mutex>
#include <numeric>
#include <thread>

namespace {

using namespace llmrt::tools;
using json = nlohmann::json;
namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using testing::HasSubstr;
using testing::StartsWith;

constexpr int kMockVocab = 1000;
constexpr int kMockMaxModelLen = 256;

struct MockConfig {
  int failArrival = -1;  // the request (in the order they reach the server) answered with a 500
  int breakArrival = -1; // the request whose stream stops halfway, without its last chunk
  int unterminatedArrival = -1; // the request whose stream ends without its last blank line
  std::string apiKey;           // required as a bearer token when not empty
  bool listLimits = true;       // /v1/models gives vocab_size and max_model_len
};

// What the mock did with one request: its prompt length and max_tokens.
struct Served {
  int64_t prompt = 0, output = 0;
};

class MockOpenAIServer {
public:
  explicit MockOpenAIServer(MockConfig config)
      : config_(std::move(config)),
        acceptor_(io_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)) {
    port_ = acceptor_.local_endpoint().port();
    acceptThread_ = std::thread([this] { acceptLoop(); });
  }

  ~MockOpenAIServer() {
    stopping_ = true;
    beast::error_code ec;
    tcp::socket wake(io_); // a blocking accept() returns only for a connection
    wake.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port_), ec);
    acceptThread_.join();
    for (std::thread &t : workers_)
      t.join();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  std::mutex mu;
  std::vector<Served> streamed, failed, broken;
  int unauthorized = 0, badRequests = 0;

private:
  void acceptLoop() {
    while (true) {
      tcp::socket socket(io_);
      beast::error_code ec;
      acceptor_.accept(socket, ec);
      if (stopping_ || ec)
        return;
      workers_.emplace_back([this, s = std::move(socket)]() mutable { serve(std::move(s)); });
    }
  }

  template <class Body> void reply(tcp::socket &socket, http::status status, Body body) {
    http::response<http::string_body> res{status, 11};
    res.set(http::field::content_type, "application/json");
    res.body() = json(std::move(body)).dump();
    res.prepare_payload();
    beast::error_code ec;
    http::write(socket, res, ec);
  }

  void serve(tcp::socket socket) {
    beast::flat_buffer buffer;
    http::request<http::string_body> req;
    beast::error_code ec;
    http::read(socket, buffer, req, ec);
    if (ec)
      return;
    if (!config_.apiKey.empty() && req[http::field::authorization] != "Bearer " + config_.apiKey) {
      std::lock_guard lock(mu);
      ++unauthorized;
      return reply(socket, http::status::unauthorized, json{{"error", {{"message", "bad key"}}}});
    }
    if (req.method() == http::verb::get && req.target() == "/v1/models")
      return reply(socket, http::status::ok, models());
    bool chat = req.target() == "/v1/chat/completions";
    if (req.method() == http::verb::post && (chat || req.target() == "/v1/completions"))
      return complete(socket, json::parse(req.body(), nullptr, false), chat);
    reply(socket, http::status::not_found, json{{"detail", "Not Found"}});
  }

  json models() const {
    json model = {{"id", "mock-model"}, {"object", "model"}, {"owned_by", "llmrt"}};
    if (config_.listLimits) {
      model["max_model_len"] = kMockMaxModelLen;
      model["vocab_size"] = kMockVocab;
    }
    return {{"object", "list"}, {"data", {model}}};
  }

  // The fields bench-serve must send; an empty string when they are right.
  static std::string check(const json &body, bool chat) {
    if (!body.is_object())
      return "the body is not a JSON object";
    if (body.value("model", "") != "mock-model")
      return "model";
    if (body.value("stream", false) != true || body.value("ignore_eos", false) != true)
      return "stream / ignore_eos";
    if (!body.contains("stream_options") ||
        body["stream_options"].value("include_usage", false) != true)
      return "stream_options.include_usage";
    if (body.value("temperature", -1.0) != 0.0 || body.value("max_tokens", 0) < 1)
      return "temperature / max_tokens";
    if (chat && !(body["messages"].is_array() && body["messages"].size() == 1 &&
                  body["messages"][0]["role"] == "user"))
      return "messages";
    if (!chat && !body["prompt"].is_array())
      return "prompt";
    return "";
  }

  static int64_t promptLength(const json &body, bool chat) {
    if (!chat)
      return static_cast<int64_t>(body["prompt"].size());
    std::string text = body["messages"][0]["content"].get<std::string>();
    return 1 + std::count(text.begin(), text.end(), ' '); // one word per drawn token
  }

  // vLLM's stream: (for chat) a role announcement, one chunk per token, (for chat) a bare finish
  // chunk, the usage chunk, [DONE]; a keep-alive comment first.
  static std::string events(bool chat, int64_t prompt, int64_t n) {
    std::string s = ": ping\n\n";
    auto add = [&s](const json &chunk) { s += "data: " + chunk.dump() + "\n\n"; };
    auto choice = [](json part, const char *finish) {
      part["index"] = 0;
      part["finish_reason"] = finish ? json(finish) : json(nullptr);
      return part;
    };
    if (chat)
      add({{"choices", {choice({{"delta", {{"role", "assistant"}, {"content", ""}}}}, nullptr)}}});
    for (int64_t k = 0; k < n; ++k) {
      std::string text = " w" + std::to_string(k);
      const char *finish = !chat && k == n - 1 ? "length" : nullptr;
      add({{"choices",
            {chat ? choice({{"delta", {{"content", text}}}}, nullptr)
                  : choice({{"text", text}}, finish)}}});
    }
    if (chat)
      add({{"choices", {choice({{"delta", json::object()}}, "length")}}});
    add({{"choices", json::array()},
         {"usage",
          {{"prompt_tokens", prompt}, {"completion_tokens", n}, {"total_tokens", prompt + n}}}});
    s += "data: [DONE]\n\n";
    return s;
  }

  void complete(tcp::socket &socket, const json &body, bool chat) {
    if (std::string bad = check(body, chat); !bad.empty()) {
      std::lock_guard lock(mu);
      ++badRequests;
      return reply(socket, http::status::bad_request, json{{"message", "bad field: " + bad}});
    }
    Served served{promptLength(body, chat), body["max_tokens"].get<int64_t>()};
    int arrival = arrivals_++;
    if (arrival == config_.failArrival) {
      {
        std::lock_guard lock(mu);
        failed.push_back(served);
      }
      return reply(socket, http::status::internal_server_error,
                   json{{"error", {{"message", "mock failure"}, {"code", 500}}}});
    }
    std::string s = events(chat, served.prompt, served.output);
    bool cut = arrival == config_.breakArrival;
    if (cut)
      s.resize(s.size() / 2);
    if (arrival == config_.unterminatedArrival)
      s.pop_back(); // "data: [DONE]\n": a complete HTTP message, an unfinished event
    http::response<http::empty_body> res{http::status::ok, 11};
    res.set(http::field::content_type, "text/event-stream");
    res.chunked(true);
    http::response_serializer<http::empty_body> sr{res};
    beast::error_code ec;
    http::write_header(socket, sr, ec);
    // HTTP chunks of odd sizes: events split across chunks, several events in one chunk.
    static constexpr size_t kSizes[] = {1, 5, 17, 64, 3, 250, 2};
    for (size_t at = 0, i = 0; at < s.size() && !ec; at += kSizes[i++ % std::size(kSizes)]) {
      size_t n = std::min(kSizes[i % std::size(kSizes)], s.size() - at);
      net::write(socket, http::make_chunk(net::buffer(s.data() + at, n)), ec);
    }
    {
      // Recorded before the last bytes go out: the client may finish as soon as they arrive.
      std::lock_guard lock(mu);
      (cut ? broken : streamed).push_back(served);
    }
    if (cut)
      socket.shutdown(tcp::socket::shutdown_both, ec);
    else
      net::write(socket, http::make_chunk_last(), ec);
  }

  MockConfig config_;
  net::io_context io_;
  tcp::acceptor acceptor_;
  unsigned short port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> arrivals_{0};
  std::thread acceptThread_;
  std::vector<std::thread> workers_;
};

BenchServeOptions options(const MockOpenAIServer &server, int n, uint64_t seed) {
  BenchServeOptions o;
  o.url = server.url();
  o.numRequests = n;
  o.seed = seed;
  o.timeoutSeconds = 60; // a hang fails the test instead of blocking it
  return o;
}

int64_t sum(const std::vector<Served> &v, int64_t Served::*field) {
  int64_t s = 0;
  for (const Served &x : v)
    s += x.*field;
  return s;
}

TEST(BenchServe, CompletionsRunCountsTokensAndReportsFailures) {
  MockConfig config;
  config.failArrival = 1;
  config.breakArrival = 3;
  config.apiKey = "test-key";
  MockOpenAIServer server(config);
  BenchServeOptions o = options(server, 12, 5);
  o.apiKey = "test-key";
  BenchServeRun run = benchServe(o);
  EXPECT_EQ(run.model.id, "mock-model");
  EXPECT_EQ(run.model.vocabSize, kMockVocab);
  EXPECT_EQ(run.model.maxModelLen, kMockMaxModelLen);

  std::lock_guard lock(server.mu);
  EXPECT_EQ(server.unauthorized, 0);
  EXPECT_EQ(server.badRequests, 0);
  ASSERT_EQ(server.failed.size(), 1u);
  ASSERT_EQ(server.broken.size(), 1u);
  EXPECT_EQ(server.streamed.size(), 10u);

  const ServeReport &r = run.report;
  EXPECT_EQ(r.completed, 10);
  EXPECT_EQ(r.failed, 2);
  EXPECT_EQ(r.maxConcurrentRequests, 12) << "an infinite rate sends everything at once";
  std::vector<BenchRequest> work = syntheticWorkload(12, 5, kMockVocab, kMockMaxModelLen);
  ASSERT_EQ(r.requests.size(), work.size());
  int64_t outputs = 0, prompts = 0;
  for (size_t i = 0; i < work.size(); ++i) {
    const RequestOutcome &q = r.requests[i];
    const int64_t out = work[i].outputTokens, in = static_cast<int64_t>(work[i].prompt.size());
    SCOPED_TRACE(testing::Message() << "request " << i);
    if (q.success) {
      EXPECT_EQ(q.outputTokens, out);
      EXPECT_EQ(q.contentChunks, out);
      EXPECT_EQ(q.promptTokens, in);
      EXPECT_EQ(q.itl.size(), static_cast<size_t>(out - 1));
      EXPECT_GE(q.ttft, 0);
      EXPECT_GE(q.latency, q.ttft);
      outputs += out;
      prompts += in;
    } else if (q.error == "HTTP 500: mock failure") {
      EXPECT_EQ(server.failed[0].output, out);
      EXPECT_EQ(server.failed[0].prompt, in);
    } else {
      EXPECT_THAT(q.error, StartsWith("the stream broke after "));
      EXPECT_EQ(server.broken[0].output, out);
      EXPECT_EQ(server.broken[0].prompt, in);
    }
  }
  EXPECT_EQ(r.totalOutputTokens, outputs);
  EXPECT_EQ(r.totalInputTokens, prompts);
  EXPECT_EQ(r.totalOutputTokens, sum(server.streamed, &Served::output));
  EXPECT_EQ(r.totalInputTokens, sum(server.streamed, &Served::prompt));
  EXPECT_GT(r.duration, 0);
  EXPECT_GT(r.e2el.mean, 0);

  json report = json::parse(serveReportJson(o, run));
  EXPECT_EQ(report["completed"], 10);
  EXPECT_EQ(report["failed"], 2);
  EXPECT_EQ(report["total_output_tokens"], outputs);
  EXPECT_EQ(report["model"], "mock-model");
  EXPECT_TRUE(report["request_rate"].is_null());
  EXPECT_TRUE(report["max_concurrency"].is_null());
  EXPECT_EQ(report["errors"].size(), 12u);
  EXPECT_EQ(report["itls"].size(), 12u);
  for (const char *key :
       {"duration", "request_throughput", "output_throughput", "total_token_throughput",
        "mean_ttft_ms", "median_tpot_ms", "p90_itl_ms", "p99_e2el_ms", "std_e2el_ms",
        "max_concurrent_requests", "max_output_tokens_per_s", "mean_client_queue_time_ms"})
    EXPECT_TRUE(report.contains(key)) << key;
}

TEST(BenchServe, AnEventWithoutItsBlankLineIsNotTakenForDone) {
  MockConfig config;
  config.unterminatedArrival = 0;
  MockOpenAIServer server(config);
  BenchServeRun run = benchServe(options(server, 3, 1));
  EXPECT_EQ(run.report.completed, 2);
  ASSERT_EQ(run.report.failed, 1);
  for (const RequestOutcome &q : run.report.requests) {
    if (!q.success) {
      EXPECT_THAT(q.error, HasSubstr("the response ended inside an event"));
    }
  }
}

TEST(BenchServe, ChatRunUnderAConcurrencyCap) {
  MockOpenAIServer server({});
  BenchServeOptions o = options(server, 6, 3);
  o.endpoint = "/v1/chat/completions";
  o.maxConcurrency = 2;
  BenchServeRun run = benchServe(o);
  const ServeReport &r = run.report;
  ASSERT_EQ(r.completed, 6) << (r.requests.empty() ? "" : r.requests[0].error);
  EXPECT_EQ(r.maxConcurrentRequests, 2);
  std::vector<BenchRequest> work = syntheticWorkload(6, 3, kMockVocab, kMockMaxModelLen);
  for (size_t i = 0; i < work.size(); ++i) {
    // The role announcement and the bare finish chunk are not content chunks.
    EXPECT_EQ(r.requests[i].contentChunks, work[i].outputTokens) << "request " << i;
    EXPECT_EQ(r.requests[i].promptTokens, static_cast<int64_t>(work[i].prompt.size()));
    EXPECT_GE(r.requests[i].start, r.requests[i].arrival);
  }
  std::lock_guard lock(server.mu);
  EXPECT_EQ(server.badRequests, 0);
}

TEST(BenchServe, PoissonArrivalsAreNeverReleasedEarly) {
  MockOpenAIServer server({});
  BenchServeOptions o = options(server, 8, 11);
  o.requestRate = 400;
  BenchServeRun run = benchServe(o);
  std::vector<double> schedule = poissonArrivals(8, 400, 11);
  ASSERT_EQ(run.report.completed, 8);
  for (size_t i = 0; i < schedule.size(); ++i)
    EXPECT_GE(run.report.requests[i].arrival, schedule[i]) << "request " << i;
  EXPECT_EQ(json::parse(serveReportJson(o, run))["request_rate"], 400.0);
}

TEST(BenchServe, ModelLimitsFromOptionsWhenTheServerGivesNone) {
  MockConfig config;
  config.listLimits = false;
  MockOpenAIServer server(config);
  BenchServeOptions o = options(server, 2, 0);
  try {
    benchServe(o);
    FAIL() << "expected an error naming --max-model-len";
  } catch (const llm::Error &e) {
    EXPECT_THAT(e.what(), HasSubstr("--max-model-len"));
  }
  o.maxModelLen = 64;
  try {
    benchServe(o);
    FAIL() << "expected an error naming --vocab-size";
  } catch (const llm::Error &e) {
    EXPECT_THAT(e.what(), HasSubstr("--vocab-size"));
  }
  o.vocabSize = 50;
  BenchServeRun run = benchServe(o);
  EXPECT_EQ(run.report.completed, 2);
  EXPECT_EQ(run.model.maxModelLen, 64);
  std::vector<BenchRequest> work = syntheticWorkload(2, 0, 50, 64);
  EXPECT_EQ(run.report.totalOutputTokens, work[0].outputTokens + work[1].outputTokens);
}

TEST(BenchServe, AnUnknownModelIsRefused) {
  MockOpenAIServer server({});
  BenchServeOptions o = options(server, 1, 0);
  o.model = "other";
  try {
    benchServe(o);
    FAIL() << "expected an error";
  } catch (const llm::Error &e) {
    EXPECT_THAT(e.what(), HasSubstr("does not serve model 'other'; it serves: mock-model"));
  }
}

TEST(BenchServe, ANonListeningServerFailsEveryRequest) {
  unsigned short port;
  {
    net::io_context io;
    tcp::acceptor probe(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    port = probe.local_endpoint().port();
  } // closed: nothing listens there now
  BenchServeOptions o;
  o.url = "http://127.0.0.1:" + std::to_string(port);
  o.numRequests = 3;
  o.model = "m";
  o.vocabSize = 100;
  o.maxModelLen = 64;
  BenchServeRun run = benchServe(o);
  EXPECT_EQ(run.report.completed, 0);
  EXPECT_EQ(run.report.failed, 3);
  EXPECT_THAT(run.report.requests[0].error, HasSubstr("cannot connect to http://127.0.0.1:"));
}

TEST(PoissonArrivals, SeededAndOfTheRequestedRate) {
  EXPECT_EQ(poissonArrivals(100, 5, 42), poissonArrivals(100, 5, 42));
  EXPECT_NE(poissonArrivals(100, 5, 42), poissonArrivals(100, 5, 43));
  const int n = 200000;
  const double rate = 8;
  std::vector<double> at = poissonArrivals(n, rate, 7);
  ASSERT_EQ(at.size(), static_cast<size_t>(n));
  EXPECT_TRUE(std::is_sorted(at.begin(), at.end()));
  EXPECT_GT(at[0], 0);
  // The mean gap is at[n-1] / n; its standard deviation is 1 / (rate sqrt(n)), 0.2% here.
  EXPECT_NEAR(at.back() / n, 1 / rate, 0.01 / rate);
  // Exponential gaps: P(gap > mean) = 1/e.
  int longer = 0;
  for (int i = 1; i < n; ++i)
    longer += at[i] - at[i - 1] > 1 / rate;
  EXPECT_NEAR(double(longer) / (n - 1), std::exp(-1.0), 0.01);
}

TEST(PoissonArrivals, InfiniteRateReleasesAllAtOnce) {
  EXPECT_EQ(poissonArrivals(4, INFINITY, 1), std::vector<double>(4, 0.0));
  EXPECT_THROW(poissonArrivals(4, 0, 1), llm::Error);
  EXPECT_THROW(poissonArrivals(4, -2, 1), llm::Error);
  EXPECT_THROW(poissonArrivals(4, NAN, 1), llm::Error);
}

TEST(RequestBody, CompletionsSendTheDrawnTokenIds) {
  BenchRequest r{{5, 7, 11}, 9};
  json b = json::parse(requestBody(ServeApi::Completions, "m", r));
  EXPECT_EQ(b["model"], "m");
  EXPECT_EQ(b["prompt"], json({5, 7, 11}));
  EXPECT_EQ(b["max_tokens"], 9);
  EXPECT_EQ(b["ignore_eos"], true);
  EXPECT_EQ(b["temperature"], 0);
  EXPECT_EQ(b["stream"], true);
  EXPECT_EQ(b["stream_options"]["include_usage"], true);
}

TEST(RequestBody, ChatSendsOneWordPerDrawnToken) {
  BenchRequest r{{0, 1, 64, 65, 127}, 4};
  json b = json::parse(requestBody(ServeApi::ChatCompletions, "m", r));
  ASSERT_EQ(b["messages"].size(), 1u);
  EXPECT_EQ(b["messages"][0]["role"], "user");
  EXPECT_EQ(b["messages"][0]["content"], chatPromptText(r.prompt));
  EXPECT_EQ(chatPromptText(r.prompt), "the of the of make");
  EXPECT_EQ(b["max_tokens"], 4);
  EXPECT_FALSE(b.contains("prompt"));
}

TEST(ServedModel, PicksTheFirstOrTheNamedModel) {
  std::string body = R"({"object": "list", "data": [
      {"id": "a", "max_model_len": 2048, "vocab_size": 32000},
      {"id": "b", "max_model_len": 4096}]})";
  ServedModel a = pickServedModel(body, "");
  EXPECT_EQ(a.id, "a");
  EXPECT_EQ(a.maxModelLen, 2048);
  EXPECT_EQ(a.vocabSize, 32000);
  ServedModel b = pickServedModel(body, "b");
  EXPECT_EQ(b.maxModelLen, 4096);
  EXPECT_EQ(b.vocabSize, 0);
  EXPECT_THROW(pickServedModel("[]", ""), llm::Error);
  EXPECT_THROW(pickServedModel(R"({"data": []})", ""), llm::Error);
  EXPECT_THROW(serveApi("/v1/embeddings"), llm::Error);
}

TEST(HttpUrl, Parses) {
  HttpUrl u = parseHttpUrl("http://127.0.0.1:8000");
  EXPECT_EQ(u.host, "127.0.0.1");
  EXPECT_EQ(u.port, "8000");
  EXPECT_EQ(u.prefix, "");
  u = parseHttpUrl("http://example.com/api/");
  EXPECT_EQ(u.host, "example.com");
  EXPECT_EQ(u.port, "80");
  EXPECT_EQ(u.prefix, "/api");
  u = parseHttpUrl("http://[::1]:9000/x");
  EXPECT_EQ(u.host, "::1");
  EXPECT_EQ(u.hostHeader(), "[::1]:9000");
  EXPECT_EQ(u.prefix, "/x");
  EXPECT_THROW(parseHttpUrl("https://example.com"), llm::Error);
  EXPECT_THROW(parseHttpUrl("http://:80"), llm::Error);
  EXPECT_THROW(parseHttpUrl("http://h:0"), llm::Error);
  EXPECT_THROW(parseHttpUrl("http://h:99999"), llm::Error);
  EXPECT_THROW(parseHttpUrl("http://h:8x"), llm::Error);
}

} // namespace
