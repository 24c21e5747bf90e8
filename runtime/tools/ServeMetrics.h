// What `llmrt bench-serve` measures, with vLLM's definitions (benchmarks/serve.py), so that the
// numbers read the same as `vllm bench serve`'s.
//
// Per request (ResponseStream reads one streaming completion's events):
//  - a content chunk is a chunk whose first choice carries a generated token: on
//    /v1/completions a choice with non-empty `text`, or with empty text and no finish_reason (a
//    token whose text the server holds back); on /v1/chat/completions the same with
//    `delta.content`, except the role announcement (a delta with `role` and no content). A bare
//    finish chunk (empty text, finish_reason set) and the usage chunk (no choices) are not
//    content chunks;
//  - TTFT: from sending (connecting included) to the first content chunk;
//  - ITL: the gaps between consecutive content chunks (events read together share a time);
//  - E2E latency: from sending to the last content chunk (vLLM's "latency");
//  - TPOT: (E2E - TTFT) / (output tokens - 1), only for requests with more than one output token;
//  - output tokens: `usage.completion_tokens` of the usage chunk, else the number of content
//    chunks; prompt tokens: `usage.prompt_tokens`, else the length the workload drew;
//  - failure: an HTTP status other than 200 (with the error message of its body), a connection
//    that fails or breaks before the response ends, an `error` object in the stream, an event
//    that is not JSON, a stream without `data: [DONE]`, or a stream without any content chunk.
// Over the run (summarizeRun): counts; duration (first send to last response, given by the
// runner); request, output-token and total-token throughput over the duration (successful
// requests only); mean / median / std / p90 / p99 in ms of TTFT, TPOT, ITL (all gaps of all
// successful requests), E2E latency and client queue time (arrival to send: the wait for a
// --max-concurrency slot); the peak output tokens per whole second (vLLM's
// max_output_tokens_per_s); the most requests in flight at once.
// NOTE: statistics follow numpy bit for bit (np.mean's pairwise summation, np.std, np.median,
// np.percentile's default linear interpolation), and an empty list gives 0 for all, as
// `np.mean(x or 0)` does in vLLM.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace llmrt::tools {

struct SseEvent;

enum class ServeApi { Completions, ChatCompletions };

// numpy.mean / numpy.std (population) / numpy.median / numpy.percentile(values, p) with p in
// [0, 100]; 0 for an empty list.
double numpyMean(const std::vector<double> &values);
double numpyStd(const std::vector<double> &values);
double numpyMedian(std::vector<double> values);
double numpyPercentile(std::vector<double> values, double p);

// A distribution of latencies, in milliseconds.
struct LatencyStats {
  double mean = 0, median = 0, std = 0, p90 = 0, p99 = 0;
};
LatencyStats latencyStats(const std::vector<double> &seconds);

struct RequestOutcome {
  bool success = false;
  std::string error; // why it failed; empty on success
  int64_t promptTokens = 0;
  int64_t outputTokens = 0; // 0 for a failed request
  int contentChunks = 0;
  double arrival = 0;      // seconds from the start of the run: when the schedule released it
  double start = 0;        // when it was sent (after waiting for a concurrency slot)
  double ttft = 0;         // seconds
  double latency = 0;      // E2E, seconds
  std::vector<double> itl; // seconds
};

// Interprets the events of one streaming response as they arrive, then its end.
// NOTE: never throws: whatever the server sends ends as a success or a failure with a message.
class ResponseStream {
public:
  // `start` is when the request was sent, in seconds from the start of the run.
  ResponseStream(ServeApi api, int64_t promptTokens, double arrival, double start);
  // `now` is when the event's bytes were read, in seconds from the start of the run.
  void onEvent(const SseEvent &event, double now);
  // The HTTP exchange ended: `status` 0 when no response came, `transportError` empty when the
  // whole response arrived, `body` the body of a response that was not 200.
  RequestOutcome finish(int status, const std::string &transportError, const std::string &body);

private:
  void fail(std::string message);

  ServeApi api_;
  RequestOutcome out_;
  double lastContent_ = 0;
  int64_t usageCompletion_ = -1, usagePrompt_ = -1;
  bool done_ = false;
  int events_ = 0;
};

// The message to report for a response with status `status` and body `body`: "HTTP 500: " and
// the `error.message` (or `message`, or `detail`) of a JSON body, else the body's start.
std::string httpErrorMessage(int status, const std::string &body);

struct ServeReport {
  int completed = 0, failed = 0;
  double duration = 0;                                 // seconds
  int64_t totalInputTokens = 0, totalOutputTokens = 0; // successful requests
  double requestThroughput = 0, outputThroughput = 0, totalTokenThroughput = 0; // per second
  LatencyStats ttft, tpot, itl, e2el, queue;
  double maxOutputTokensPerSecond = 0;
  int maxConcurrentRequests = 0;
  std::vector<RequestOutcome> requests; // in workload order
};

// Summarizes a run (duration in seconds; the most requests that were in flight at once).
ServeReport summarizeRun(std::vector<RequestOutcome> requests, double duration,
                         int maxConcurrentRequests);

} // namespace llmrt::tools
