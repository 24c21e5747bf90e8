#include "tools/BenchServe.h"

#include "support/Error.h"
#include "tools/SseClient.h"

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <memory>
#include <random>

namespace llmrt::tools {

namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;
namespace net = boost::asio;

constexpr uint64_t kArrivalStream = 0x9E3779B97F4A7C15ull;

// Common English words that BPE vocabularies hold as one token each (with a leading space).
constexpr const char *kChatWords[64] = {
    "the",  "of",    "and",   "to",    "in",   "is",    "it",   "that", "was",   "for",  "on",
    "are",  "with",  "as",    "his",   "they", "be",    "at",   "one",  "have",  "this", "from",
    "or",   "had",   "by",    "word",  "but",  "what",  "some", "we",   "can",   "out",  "other",
    "were", "all",   "there", "when",  "up",   "use",   "your", "how",  "said",  "an",   "each",
    "she",  "which", "do",    "their", "time", "if",    "will", "way",  "about", "many", "then",
    "them", "write", "would", "like",  "so",   "these", "her",  "long", "make"};

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

struct PreparedRequest {
  std::string body;
  int64_t promptTokens = 0;
};

// Releases requests on the schedule, holds them while --max-concurrency are in flight, and
// records each one's outcome. Everything runs on the thread that runs the io_context.
class LoadRunner {
public:
  LoadRunner(net::io_context &io, HttpClient &client, ServeApi api, std::string path,
             std::vector<PreparedRequest> work, std::vector<double> arrivals, int maxConcurrency)
      : io_(io), client_(client), timer_(io), api_(api), path_(std::move(path)),
        work_(std::move(work)), arrivals_(std::move(arrivals)), maxConcurrency_(maxConcurrency),
        released_(work_.size()), outcomes_(work_.size()) {}

  ServeReport run() {
    start_ = end_ = Clock::now();
    progress_ = isatty(STDERR_FILENO) != 0;
    releaseDue();
    io_.restart();
    io_.run();
    if (progress_)
      fmt::print(stderr, "\n");
    return summarizeRun(std::move(outcomes_), seconds(end_ - start_), maxInFlight_);
  }

private:
  double since(Clock::time_point t) const { return seconds(t - start_); }

  // Releases every request whose time has come, then waits for the next one.
  void releaseDue() {
    double now = since(Clock::now());
    while (next_ < work_.size() && arrivals_[next_] <= now)
      release(next_++, now);
    if (next_ == work_.size())
      return;
    timer_.expires_at(start_ + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(arrivals_[next_])));
    timer_.async_wait([this](const boost::system::error_code &ec) {
      if (!ec)
        releaseDue();
    });
  }

  void release(size_t i, double now) {
    released_[i] = now;
    if (maxConcurrency_ > 0 && inFlight_ >= maxConcurrency_)
      waiting_.push_back(i);
    else
      send(i);
  }

  void send(size_t i) {
    maxInFlight_ = std::max(maxInFlight_, ++inFlight_);
    auto stream = std::make_shared<ResponseStream>(api_, work_[i].promptTokens, released_[i],
                                                   since(Clock::now()));
    StreamHandlers handlers;
    handlers.onEvent = [this, stream](const SseEvent &e, Clock::time_point t) {
      stream->onEvent(e, since(t));
    };
    handlers.onEnd = [this, stream, i](const HttpResult &r) {
      outcomes_[i] = stream->finish(r.status, r.error, r.body);
      finished();
    };
    client_.postStreaming(path_, std::move(work_[i].body), std::move(handlers));
  }

  void finished() {
    --inFlight_;
    ++done_;
    end_ = Clock::now();
    if (progress_)
      fmt::print(stderr, "\rrequests done: {}/{}", done_, work_.size());
    if (!waiting_.empty()) {
      size_t next = waiting_.front();
      waiting_.pop_front();
      send(next);
    }
  }

  net::io_context &io_;
  HttpClient &client_;
  net::steady_timer timer_;
  ServeApi api_;
  std::string path_;
  std::vector<PreparedRequest> work_;
  std::vector<double> arrivals_;
  int maxConcurrency_;
  std::vector<double> released_;
  std::vector<RequestOutcome> outcomes_;
  std::deque<size_t> waiting_;
  Clock::time_point start_, end_;
  size_t next_ = 0, done_ = 0;
  int inFlight_ = 0, maxInFlight_ = 0;
  bool progress_ = false;
};

// The model to benchmark: the server's answer to GET /v1/models, with the options' values
// replacing what it gives (or supplying what it lacks).
ServedModel resolveModel(HttpClient &client, const BenchServeOptions &o, ServeApi api) {
  HttpResult r = client.get("/v1/models");
  ServedModel m;
  if (r.status == 200 && r.error.empty()) {
    m = pickServedModel(r.body, o.model);
  } else {
    std::string why = r.status == 0 ? r.error : httpErrorMessage(r.status, r.body);
    if (o.model.empty() || o.maxModelLen == 0 || (api == ServeApi::Completions && o.vocabSize == 0))
      llm::fail("GET {}/v1/models failed ({}); is the server up at {}? Without it give --model, "
                "--max-model-len and (for /v1/completions) --vocab-size",
                parseHttpUrl(o.url).prefix, why, o.url);
    fmt::print(stderr, "llmrt: warning: GET /v1/models failed ({}); using --model {}\n", why,
               o.model);
    m.id = o.model;
  }
  if (o.vocabSize > 0)
    m.vocabSize = o.vocabSize;
  if (o.maxModelLen > 0)
    m.maxModelLen = o.maxModelLen;
  if (m.maxModelLen == 0)
    llm::fail("the server gives no max_model_len for model '{}'; pass --max-model-len", m.id);
  if (m.vocabSize == 0) {
    if (api == ServeApi::Completions)
      llm::fail("the server gives no vocab_size for model '{}'; pass --vocab-size (token-id "
                "prompts need it)",
                m.id);
    m.vocabSize = 64; // chat prompts only use the ids to pick words
  }
  return m;
}

// One connection per in-flight request: a burst of a thousand requests needs as many sockets.
// Raises the open-file limit as far as allowed, and warns when that is still too low.
void makeRoomForSockets(int inFlight) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0)
    return;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
    getrlimit(RLIMIT_NOFILE, &limit);
  }
  constexpr rlim_t kSpare = 32; // the process's other files
  if (limit.rlim_cur != RLIM_INFINITY && rlim_t(inFlight) + kSpare > limit.rlim_cur)
    fmt::print(stderr,
               "llmrt: warning: up to {} requests in flight need as many sockets, but the "
               "open-file limit is {}: requests beyond it will fail (raise `ulimit -n` or pass "
               "--max-concurrency)\n",
               inFlight, static_cast<uint64_t>(limit.rlim_cur));
}

void statsJson(json &out, const std::string &name, const LatencyStats &s) {
  out["mean_" + name + "_ms"] = s.mean;
  out["median_" + name + "_ms"] = s.median;
  out["std_" + name + "_ms"] = s.std;
  out["p90_" + name + "_ms"] = s.p90;
  out["p99_" + name + "_ms"] = s.p99;
}

void printStats(const char *title, const char *name, const LatencyStats &s) {
  fmt::print("{:-^50}\n", title);
  fmt::print("{:<40} {:<10.2f}\n", fmt::format("Mean {} (ms):", name), s.mean);
  fmt::print("{:<40} {:<10.2f}\n", fmt::format("Median {} (ms):", name), s.median);
  fmt::print("{:<40} {:<10.2f}\n", fmt::format("P90 {} (ms):", name), s.p90);
  fmt::print("{:<40} {:<10.2f}\n", fmt::format("P99 {} (ms):", name), s.p99);
}

void printReport(const BenchServeOptions &o, const BenchServeRun &run) {
  const ServeReport &r = run.report;
  if (r.failed > 0) {
    constexpr int kShown = 5;
    fmt::print("Failed requests ({}; the first {} shown):\n", r.failed, std::min(kShown, r.failed));
    int shown = 0;
    for (size_t i = 0; i < r.requests.size() && shown < kShown; ++i)
      if (!r.requests[i].success) {
        fmt::print("  request {}: {}\n", i, r.requests[i].error);
        ++shown;
      }
  }
  fmt::print("{:=^50}\n", " Serving Benchmark Result ");
  fmt::print("{:<40} {:<10}\n", "Model:", run.model.id);
  fmt::print("{:<40} {:<10}\n", "Endpoint:", o.endpoint);
  fmt::print("{:<40} {:<10}\n", "Successful requests:", r.completed);
  fmt::print("{:<40} {:<10}\n", "Failed requests:", r.failed);
  if (o.maxConcurrency > 0)
    fmt::print("{:<40} {:<10}\n", "Maximum request concurrency:", o.maxConcurrency);
  if (!std::isinf(o.requestRate))
    fmt::print("{:<40} {:<10.2f}\n", "Request rate configured (RPS):", o.requestRate);
  fmt::print("{:<40} {:<10.2f}\n", "Benchmark duration (s):", r.duration);
  fmt::print("{:<40} {:<10}\n", "Total input tokens:", r.totalInputTokens);
  fmt::print("{:<40} {:<10}\n", "Total generated tokens:", r.totalOutputTokens);
  fmt::print("{:<40} {:<10.2f}\n", "Request throughput (req/s):", r.requestThroughput);
  fmt::print("{:<40} {:<10.2f}\n", "Output token throughput (tok/s):", r.outputThroughput);
  fmt::print("{:<40} {:<10.2f}\n",
             "Peak output token throughput (tok/s):", r.maxOutputTokensPerSecond);
  fmt::print("{:<40} {:<10}\n", "Peak concurrent requests:", r.maxConcurrentRequests);
  fmt::print("{:<40} {:<10.2f}\n", "Total token throughput (tok/s):", r.totalTokenThroughput);
  printStats("Time to First Token", "TTFT", r.ttft);
  printStats("Time per Output Token (excl. 1st token)", "TPOT", r.tpot);
  printStats("Inter-token Latency", "ITL", r.itl);
  printStats("End-to-end Latency", "E2EL", r.e2el);
  if (o.maxConcurrency > 0)
    printStats("Client-side Queueing", "Client Queue Time", r.queue);
  fmt::print("{}\n", std::string(50, '='));
}

} // namespace

ServedModel pickServedModel(const std::string &modelsBody, const std::string &wanted) {
  json j = json::parse(modelsBody, nullptr, /*allow_exceptions=*/false);
  auto data = j.is_object() ? j.find("data") : j.end();
  if (!j.is_object() || data == j.end() || !data->is_array())
    llm::fail("GET /v1/models answered something other than a model list ({{\"data\": [...]}})");
  std::vector<std::string> ids;
  for (const json &entry : *data) {
    if (!entry.is_object() || !entry.contains("id") || !entry["id"].is_string())
      continue;
    std::string id = entry["id"].get<std::string>();
    ids.push_back(id);
    if (!wanted.empty() && id != wanted)
      continue;
    ServedModel m;
    m.id = id;
    auto number = [&](const char *key) {
      auto it = entry.find(key);
      return it != entry.end() && it->is_number_integer() ? it->get<int>() : 0;
    };
    m.vocabSize = number("vocab_size");
    m.maxModelLen = number("max_model_len");
    return m;
  }
  if (ids.empty())
    llm::fail("GET /v1/models lists no model");
  llm::fail("the server does not serve model '{}'; it serves: {}", wanted, fmt::join(ids, ", "));
}

ServeApi serveApi(const std::string &endpoint) {
  if (endpoint == "/v1/completions")
    return ServeApi::Completions;
  if (endpoint == "/v1/chat/completions")
    return ServeApi::ChatCompletions;
  llm::fail("--endpoint '{}' is not supported: expected /v1/completions or /v1/chat/completions",
            endpoint);
}

std::vector<double> poissonArrivals(int n, double rate, uint64_t seed) {
  if (!(rate > 0))
    llm::fail("--request-rate {} is not a rate: expected a positive number or inf", rate);
  std::vector<double> at(std::max(n, 0), 0.0);
  if (std::isinf(rate))
    return at;
  std::mt19937_64 rng(seed ^ kArrivalStream);
  double t = 0;
  for (double &a : at) {
    double u = double(rng() >> 11) * 0x1.0p-53; // [0, 1)
    t += -std::log1p(-u) / rate;                // exponential with mean 1 / rate
    a = t;
  }
  return at;
}

std::string chatPromptText(const std::vector<int32_t> &ids) {
  std::string text;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0)
      text.push_back(' ');
    text += kChatWords[static_cast<uint32_t>(ids[i]) % 64];
  }
  return text;
}

std::string requestBody(ServeApi api, const std::string &model, const BenchRequest &request) {
  json body;
  body["model"] = model;
  if (api == ServeApi::Completions)
    body["prompt"] = request.prompt;
  else
    body["messages"] =
        json::array({{{"role", "user"}, {"content", chatPromptText(request.prompt)}}});
  body["max_tokens"] = request.outputTokens;
  body["ignore_eos"] = true;
  body["temperature"] = 0;
  body["stream"] = true;
  body["stream_options"] = {{"include_usage", true}};
  return body.dump();
}

BenchServeRun benchServe(const BenchServeOptions &o) {
  if (o.numRequests < 1)
    llm::fail("--num-requests {} is not a count: expected at least 1", o.numRequests);
  if (o.maxConcurrency < 0)
    llm::fail("--max-concurrency {}: expected 0 (no cap) or more", o.maxConcurrency);
  if (!(o.timeoutSeconds > 0))
    llm::fail("--timeout {}: expected a positive number of seconds", o.timeoutSeconds);
  BenchServeRun run;
  run.api = serveApi(o.endpoint);
  std::vector<double> arrivals = poissonArrivals(o.numRequests, o.requestRate, o.seed);
  HttpUrl url = parseHttpUrl(o.url);
  std::vector<HttpHeader> headers;
  if (!o.apiKey.empty())
    headers.push_back({"Authorization", "Bearer " + o.apiKey});
  net::io_context io;
  auto timeout = std::chrono::milliseconds(static_cast<int64_t>(o.timeoutSeconds * 1000));
  HttpClient client(io, url, headers, timeout);
  run.model = resolveModel(client, o, run.api);
  std::vector<BenchRequest> work =
      syntheticWorkload(o.numRequests, o.seed, run.model.vocabSize, run.model.maxModelLen);
  std::vector<PreparedRequest> prepared(work.size());
  for (size_t i = 0; i < work.size(); ++i)
    prepared[i] = {requestBody(run.api, run.model.id, work[i]),
                   static_cast<int64_t>(work[i].prompt.size())};
  makeRoomForSockets(o.maxConcurrency > 0 ? std::min(o.maxConcurrency, o.numRequests)
                                          : o.numRequests);
  LoadRunner runner(io, client, run.api, o.endpoint, std::move(prepared), std::move(arrivals),
                    o.maxConcurrency);
  run.report = runner.run();
  return run;
}

std::string serveReportJson(const BenchServeOptions &o, const BenchServeRun &run) {
  const ServeReport &r = run.report;
  json out;
  out["endpoint"] = o.endpoint;
  out["model"] = run.model.id;
  out["num_prompts"] = o.numRequests;
  out["seed"] = o.seed;
  out["request_rate"] = std::isinf(o.requestRate) ? json(nullptr) : json(o.requestRate);
  out["max_concurrency"] = o.maxConcurrency > 0 ? json(o.maxConcurrency) : json(nullptr);
  out["duration"] = r.duration;
  out["completed"] = r.completed;
  out["failed"] = r.failed;
  out["total_input_tokens"] = r.totalInputTokens;
  out["total_output_tokens"] = r.totalOutputTokens;
  out["request_throughput"] = r.requestThroughput;
  out["output_throughput"] = r.outputThroughput;
  out["total_token_throughput"] = r.totalTokenThroughput;
  out["max_output_tokens_per_s"] = r.maxOutputTokensPerSecond;
  out["max_concurrent_requests"] = r.maxConcurrentRequests;
  statsJson(out, "ttft", r.ttft);
  statsJson(out, "tpot", r.tpot);
  statsJson(out, "itl", r.itl);
  statsJson(out, "e2el", r.e2el);
  statsJson(out, "client_queue_time", r.queue);
  json inputLens = json::array(), outputLens = json::array(), ttfts = json::array(),
       itls = json::array(), latencies = json::array(), starts = json::array(),
       queues = json::array(), errors = json::array();
  for (const RequestOutcome &q : r.requests) {
    inputLens.push_back(q.promptTokens);
    outputLens.push_back(q.outputTokens);
    ttfts.push_back(q.ttft);
    itls.push_back(q.itl);
    latencies.push_back(q.latency);
    starts.push_back(q.start);
    queues.push_back(q.start - q.arrival);
    errors.push_back(q.error);
  }
  out["input_lens"] = std::move(inputLens);
  out["output_lens"] = std::move(outputLens);
  out["ttfts"] = std::move(ttfts);
  out["itls"] = std::move(itls);
  out["latencies"] = std::move(latencies);
  out["start_times"] = std::move(starts);
  out["queue_times"] = std::move(queues);
  out["errors"] = std::move(errors);
  return out.dump(2);
}

CLI::App *addBenchServeCommand(CLI::App &app, BenchServeOptions &o) {
  CLI::App *cmd = app.add_subcommand(
      "bench-serve", "load an OpenAI-compatible server with the synthetic workload and report "
                     "latencies and throughput (see runtime/tools/BenchServe.h)");
  if (const char *key = std::getenv("OPENAI_API_KEY"))
    o.apiKey = key;
  cmd->add_option("--url", o.url, "the server: http://HOST[:PORT][/PREFIX]")->capture_default_str();
  cmd->add_option("--endpoint", o.endpoint, "the API to load")
      ->capture_default_str()
      ->check(CLI::IsMember({"/v1/completions", "/v1/chat/completions"}));
  cmd->add_option("--model", o.model, "model name (default: the first the server lists)");
  cmd->add_option("--api-key", o.apiKey, "bearer token (default: $OPENAI_API_KEY)");
  cmd->add_option("--num-requests", o.numRequests, "requests (default 64)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--request-rate", o.requestRate,
                  "Poisson arrivals per second (default inf: all at once)");
  cmd->add_option("--max-concurrency", o.maxConcurrency, "requests in flight at most (0 = no cap)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--seed", o.seed, "workload and arrival seed");
  cmd->add_option("--json", o.jsonPath, "also write the report as JSON to this file");
  cmd->add_option("--vocab-size", o.vocabSize, "token ids to draw from (default: the server's)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-model-len", o.maxModelLen,
                  "the model's longest sequence, which sizes the workload (default: the "
                  "server's)")
      ->check(CLI::Range(16, std::numeric_limits<int>::max()));
  cmd->add_option("--timeout", o.timeoutSeconds,
                  "seconds without progress before a request fails (default 600)");
  return cmd;
}

int runBenchServe(const BenchServeOptions &o) {
  BenchServeRun run = benchServe(o);
  printReport(o, run);
  if (!o.jsonPath.empty()) {
    std::ofstream file(o.jsonPath);
    file << serveReportJson(o, run) << "\n";
    if (!file)
      llm::fail("cannot write the JSON report to '{}'", o.jsonPath);
  }
  if (run.report.completed == 0) {
    fmt::print(stderr, "llmrt: error: all {} requests failed\n", run.report.failed);
    return 1;
  }
  return 0;
}

} // namespace llmrt::tools
