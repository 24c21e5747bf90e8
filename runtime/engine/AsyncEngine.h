// The engine on its own thread: the one place where the engine loop runs, fed by a queue.
//
// Any thread (the HTTP I/O threads) submits requests and aborts; the engine thread drains the
// queue before every step, runs the step, and delivers each request's new tokens and finished
// samples to that request's RequestSink, on the engine thread, in step order. When there is
// nothing to do the thread sleeps on a condition variable.
//
// NOTE: sinks run on the engine thread, between steps: they must be quick and must not block
// (format text and hand it to a socket writer that queues it). A sink may ask to stop a sample
// (a stop string matched) by returning false from onToken; the engine finishes it before the
// next step.
#pragma once

#include "engine/Engine.h"

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <variant>
#include <vector>

namespace llmrt {

// Receives one request's outputs (all its samples). Called on the engine thread only.
class RequestSink {
public:
  virtual ~RequestSink() = default;
  // The engine refused the request (Engine::add threw): nothing else follows.
  virtual void onRejected(const std::string &message) = 0;
  // A new token of sample `sample` (0..n-1); `status` is the sample's state after it. Return false
  // to finish the sample now (FinishedStopped): its later tokens, if any were computed, are
  // dropped.
  virtual bool onToken(int sample, int32_t token, const TokenLogprobs *logprobs,
                       RequestStatus status) = 0;
  // Sample `sample` finished; `final` is its last state (tokens, prompt length, cached tokens).
  // Every sample finishes exactly once, after its last onToken.
  virtual void onFinished(int sample, const Request &final) = 0;
};

// Engine gauges and counters, copied after every step (for /metrics and /health).
struct EngineSnapshot {
  size_t running = 0, waiting = 0;
  int usedKvBlocks = 0, totalKvBlocks = 0;
  int blockSize = 0;        // positions per KV block
  int64_t kvCacheBytes = 0; // K and V of every block
  KVCacheDtype kvCacheDtype = KVCacheDtype::F32;
  uint64_t prefixQueryTokens = 0, prefixHitTokens = 0;
  uint64_t preemptions = 0;
  uint64_t steps = 0;
  int maxModelLen = 0;
  bool failed = false; // an internal error stopped the engine (/health reports it)
};

struct AsyncEngineOptions {
  // Requests queued or waiting in the scheduler beyond which submit() refuses (overload: 503).
  size_t maxPendingRequests = 4096;
  // Called on the engine thread after every step that ran or finished something.
  std::function<void(const EngineOutput &, const EngineSnapshot &)> stepObserver;
};

class AsyncEngine {
public:
  // Builds the engine (throws llm::Error as Engine does) and starts its thread.
  AsyncEngine(const LoadedPlan &plan, EngineConfig config, AsyncEngineOptions options = {});
  ~AsyncEngine(); // stop()

  AsyncEngine(const AsyncEngine &) = delete;
  AsyncEngine &operator=(const AsyncEngine &) = delete;

  // Queues a request with n samples; its outputs go to `sink`. Returns false (and queues
  // nothing) when the engine is overloaded or stopping. Thread-safe.
  bool submit(Request request, int numSamples, std::shared_ptr<RequestSink> sink);
  // Aborts every sample of a request (queued: the engine thread does it before its next step;
  // sinks then get onFinished with FinishedAborted). Unknown ids are ignored. Thread-safe.
  void abort(const std::string &requestId);

  // Aborts everything, then ends the thread once every sink got its onFinished. Idempotent.
  void stop();

  EngineSnapshot snapshot() const; // thread-safe
  int maxModelLen() const { return maxModelLen_; }
  int vocabSize() const { return vocabSize_; }

private:
  struct Submit {
    Request request;
    int numSamples;
    std::shared_ptr<RequestSink> sink;
  };
  struct Abort {
    std::string requestId;
  };
  using Command = std::variant<Submit, Abort>;
  // Where a sample's outputs go.
  struct Route {
    std::shared_ptr<RequestSink> sink;
    std::string requestId;
    int sample = 0;
  };

  void run();
  void apply(Command &command);
  void deliver(const EngineOutput &out);
  void publish(const EngineOutput *out);
  void fail(const std::string &message);

  Engine engine_;
  AsyncEngineOptions options_;
  int maxModelLen_ = 0, vocabSize_ = 0;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Command> queue_;
  bool stopping_ = false;
  size_t inFlight_ = 0; // submitted requests not finished yet (all samples)
  EngineSnapshot snapshot_;

  // Engine thread only.
  std::unordered_map<std::string, Route> routes_;                 // sample id -> route
  std::unordered_map<std::string, std::vector<std::string>> samples_; // request id -> sample ids
  std::vector<std::pair<std::string, RequestStatus>> toFinish_;   // sinks asked to stop
  std::thread thread_;
};

} // namespace llmrt
