// `llmrt bench-serve`: a load generator for an OpenAI-compatible server (ours or vLLM), the
// counterpart of vLLM's `vllm bench serve` (benchmarks/serve.py) with its metric definitions
// (runtime/tools/ServeMetrics.h).
//
//   llmrt bench-serve [--url http://127.0.0.1:8000] [--endpoint /v1/completions]
//                     [--model NAME] [--api-key KEY] [--num-requests N] [--request-rate R]
//                     [--max-concurrency C] [--seed S] [--json FILE]
//                     [--vocab-size V] [--max-model-len L] [--timeout SECONDS]
//
// Workload: the offline benchmark's (syntheticWorkload in runtime/tools/Bench.h: log-normal
// prompt lengths, geometric output lengths, uniform token ids, all from --seed), sized by the
// model's vocabulary and longest sequence, so that `llmrt bench` and `llmrt bench-serve` with the
// same seed run the same requests. GET /v1/models gives the model name (first listed unless
// --model), `vocab_size` and `max_model_len`; --vocab-size and --max-model-len replace them, and
// are needed where the server does not give them.
//  - /v1/completions: "prompt" is the drawn token ids (exact length), "max_tokens" the drawn
//    output length, "ignore_eos": true, "temperature": 0, "stream": true,
//    "stream_options": {"include_usage": true}.
//  - /v1/chat/completions: one user message whose text is one word per drawn token id (a fixed
//    list of 64 common English words, which BPE vocabularies hold as one token each with their
//    leading space), so prompts have about the drawn length plus the chat template; the other
//    fields as above.
//
// Arrivals: a Poisson process of --request-rate requests per second (exponential gaps drawn from
// a std::mt19937_64 seeded with seed ^ 0x9E3779B97F4A7C15 through its raw 64-bit outputs, so a
// seed names the same schedule on every machine and the gaps do not repeat the workload's
// draws); an infinite rate (the default) releases every request at once. --max-concurrency C
// (0 = no cap) holds released requests in a FIFO queue while C are in flight.
//
// Execution: one thread runs one io_context that drives every request on its own connection
// (HttpClient, runtime/tools/SseClient.h). A request that makes no progress for --timeout
// seconds (default 600) fails.
//
// Report (stdout, laid out like vLLM's): successful and failed requests with the first errors,
// duration, throughputs, peak output tokens/s and concurrency, and mean / median / p90 / p99 of
// TTFT, TPOT, ITL and E2E latency in ms. --json FILE writes one object with these keys (vLLM's
// names where vLLM has the value):
//   endpoint, model, num_prompts, seed, request_rate (null = all at once), max_concurrency
//   (null = no cap), duration (s), completed, failed, total_input_tokens, total_output_tokens,
//   request_throughput (req/s), output_throughput and total_token_throughput (tokens/s),
//   max_output_tokens_per_s, max_concurrent_requests,
//   {mean,median,std,p90,p99}_{ttft,tpot,itl,e2el,client_queue_time}_ms,
//   and per request, in workload order: input_lens, output_lens (0 when failed), ttfts (s),
//   itls (lists, s), latencies (s), start_times (s from the start of the run), queue_times (s),
//   errors ("" when it succeeded).
#pragma once

#include "tools/Bench.h"
#include "tools/ServeMetrics.h"

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace llmrt::tools {

struct BenchServeOptions {
  std::string url = "http://127.0.0.1:8000";
  std::string endpoint = "/v1/completions";
  std::string model;  // empty = the first model the server lists
  std::string apiKey; // sent as "Authorization: Bearer KEY" when not empty
  int numRequests = 64;
  double requestRate = std::numeric_limits<double>::infinity(); // requests per second
  int maxConcurrency = 0;                                       // 0 = no cap
  uint64_t seed = 0;
  std::string jsonPath;
  int vocabSize = 0;   // 0 = the server's
  int maxModelLen = 0; // 0 = the server's
  double timeoutSeconds = 600;
};

// What the benchmark learned about the served model.
struct ServedModel {
  std::string id;
  int vocabSize = 0, maxModelLen = 0; // 0 = not given
};

// Picks `wanted` (the first model if empty) from a GET /v1/models body. Throws llm::Error on a
// body that is not a model list or that lacks the model.
ServedModel pickServedModel(const std::string &modelsBody, const std::string &wanted);

// The endpoint's API; throws llm::Error for another endpoint.
ServeApi serveApi(const std::string &endpoint);

// When each of n requests is released, in seconds from the start: the running sum of exponential
// gaps of mean 1 / rate (all 0 for an infinite rate).
std::vector<double> poissonArrivals(int n, double rate, uint64_t seed);

// The chat prompt for drawn token ids: one word per id (word kChatWords[id % 64]), joined by
// spaces.
std::string chatPromptText(const std::vector<int32_t> &ids);

// The JSON body of one streaming request (see above).
std::string requestBody(ServeApi api, const std::string &model, const BenchRequest &request);

struct BenchServeRun {
  ServedModel model;
  ServeApi api = ServeApi::Completions;
  ServeReport report;
};

// Fetches the model, builds the workload and runs it. Prints only warnings (to stderr). Throws
// llm::Error on a bad option or when the model cannot be determined; failed requests are in the
// report.
BenchServeRun benchServe(const BenchServeOptions &options);

// The report as the --json object described above.
std::string serveReportJson(const BenchServeOptions &options, const BenchServeRun &run);

// Adds the `bench-serve` subcommand, filling `options` when parsed.
CLI::App *addBenchServeCommand(CLI::App &app, BenchServeOptions &options);

// Runs the benchmark, prints its report and writes --json. Returns 0, or 1 when every request
// failed.
int runBenchServe(const BenchServeOptions &options);

} // namespace llmrt::tools
