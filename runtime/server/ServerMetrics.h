// The server's Prometheus metrics (GET /metrics): request states and outcomes, token counters,
// latency histograms, KV cache usage, prefix-cache hits and preemptions.
//
// Engine gauges and counters are refreshed from the AsyncEngine's snapshot after every step (on
// the engine thread); request-level figures are recorded by the generation jobs when their
// tokens arrive and when they finish.
#pragma once

#include "engine/AsyncEngine.h"
#include "metrics/Registry.h"

namespace llmrt::server {

struct ServerMetrics {
  ServerMetrics();

  // After an engine step: gauges and the counters the engine keeps cumulatively.
  void observeEngine(const EngineSnapshot &snapshot);

  metrics::Registry registry;
  metrics::Gauge &running, &waiting, &kvUsage;
  metrics::Family<metrics::Counter> &finished; // {reason}
  metrics::Counter &finishedStop, &finishedLength, &finishedAbort;
  metrics::Family<metrics::Counter> &errors;   // {status}: requests refused
  metrics::Counter &promptTokens, &generationTokens;
  metrics::Counter &prefixQueries, &prefixHits, &preemptions;
  metrics::Histogram &timeToFirstToken, &interTokenLatency, &e2eLatency;

private:
  EngineSnapshot last_; // the engine's cumulative counters at the last observation
};

} // namespace llmrt::server
