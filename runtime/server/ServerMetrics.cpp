#include "server/ServerMetrics.h"

namespace llmrt::server {

namespace {

// Seconds: from a millisecond (a tiny model's token) to minutes (a long request on a CPU).
const std::vector<double> kLatencyBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075,
                                             0.1,   0.25,   0.5,   0.75, 1.0,   2.5,  5.0,
                                             7.5,   10.0,   20.0,  40.0, 80.0,  160.0};

} // namespace

ServerMetrics::ServerMetrics()
    : running(registry.gauge("llmrt_num_requests_running", "Requests in the running batch.")),
      waiting(registry.gauge("llmrt_num_requests_waiting", "Requests waiting to be scheduled.")),
      kvUsage(registry.gauge("llmrt_kv_cache_usage_ratio",
                             "Fraction of KV cache blocks in use (0 to 1).")),
      finished(registry.counterFamily("llmrt_request_success_total",
                                      "Requests finished, by finish reason.", {"finished_reason"})),
      finishedStop(finished.labels({"stop"})), finishedLength(finished.labels({"length"})),
      finishedAbort(finished.labels({"abort"})),
      errors(registry.counterFamily("llmrt_request_errors_total",
                                    "Requests refused with an error, by HTTP status.",
                                    {"status"})),
      promptTokens(registry.counter("llmrt_prompt_tokens_total", "Prompt tokens processed.")),
      generationTokens(
          registry.counter("llmrt_generation_tokens_total", "Generated tokens (all choices).")),
      prefixQueries(registry.counter("llmrt_prefix_cache_queries_total",
                                     "Prompt tokens looked up in the prefix cache.")),
      prefixHits(registry.counter("llmrt_prefix_cache_hits_total",
                                  "Prompt tokens found in the prefix cache.")),
      preemptions(registry.counter("llmrt_num_preemptions_total",
                                   "Requests preempted (their KV blocks freed, to recompute).")),
      timeToFirstToken(registry.histogram("llmrt_time_to_first_token_seconds",
                                          "Time from arrival to the first generated token.",
                                          kLatencyBuckets)),
      interTokenLatency(registry.histogram("llmrt_inter_token_latency_seconds",
                                           "Time between consecutive tokens of a choice.",
                                           kLatencyBuckets)),
      e2eLatency(registry.histogram("llmrt_e2e_request_latency_seconds",
                                    "Time from arrival to the last token of a request.",
                                    kLatencyBuckets)) {}

void ServerMetrics::observeEngine(const EngineSnapshot &s) {
  running.set(double(s.running));
  waiting.set(double(s.waiting));
  kvUsage.set(s.totalKvBlocks > 0 ? double(s.usedKvBlocks) / s.totalKvBlocks : 0.0);
  prefixQueries.inc(double(s.prefixQueryTokens - last_.prefixQueryTokens));
  prefixHits.inc(double(s.prefixHitTokens - last_.prefixHitTokens));
  preemptions.inc(double(s.preemptions - last_.preemptions));
  last_ = s;
}

} // namespace llmrt::server
