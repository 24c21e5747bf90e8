// The engine loop: one scheduler, one executor over a paged KV cache, one sampler per request. A
// step is
//
//   schedule -> copy-on-write block copies -> the executor runs the flattened batch -> sample one
//   token per request that computed its last token -> update the scheduler -> report new tokens
//   and finished requests.
//
// Single-threaded: the HTTP layer will talk to it through queues; native structs only (no JSON).
//
// NOTE: every request samples from its own Sampler, seeded by its SamplingParams, and the executor
// is batch invariant, so a request's tokens do not depend on what else runs (greedy or seeded).
#pragma once

#include "engine/Executor.h"
#include "engine/Request.h"
#include "engine/Scheduler.h"
#include "plan/PlanLoader.h"
#include "sampler/Sampler.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace llmrt {

struct EngineConfig {
  int maxNumBatchedTokens = 2048; // tokens per step
  int maxNumSeqs = 256;           // running requests at once
  int maxModelLen = 0;            // 0 = the plan's max_seq_len (never above the KV capacity)
  SchedulingPolicy policy = SchedulingPolicy::Fcfs;
  bool enablePrefixCaching = true;
  // The KV cache: kvCacheBlocks blocks when > 0; else kvCacheMemory bytes of K and V when > 0;
  // else kvCacheMemoryFraction of the memory the OS reports available.
  int kvCacheBlocks = 0;
  int64_t kvCacheMemory = 0;
  double kvCacheMemoryFraction = 0.25;
  int blockSize = 0; // positions per block; 0 = the plan's kv_cache.block_size
  int threads = 0;   // CPU threads; 0 = all cores
  bool kvCachePrefault = false; // commit the KV cache's memory at start (servers)
  // The KV cache's element type; unset = the plan's. The memory budget buys blocks of this dtype.
  std::optional<KVCacheDtype> kvCacheDtype = std::nullopt;
};

// What one step produced.
struct EngineOutput {
  uint64_t step = 0;                          // the scheduler's step number
  std::vector<NewToken> tokens;               // one per sample that got a token this step
  // Parallel to tokens: the log-probabilities of requests that asked for them (else nullopt).
  std::vector<std::optional<TokenLogprobs>> logprobs;
  std::vector<std::unique_ptr<Request>> finished; // final states, since the last step (any reason)
  std::vector<std::string> preemptedIds;      // preempted while scheduling this step
  int numScheduledTokens = 0;                 // tokens the model ran
  int numRequests = 0;                        // requests in the batch
};

// Counters over the engine's life, for benchmarks and metrics.
struct EngineStats {
  uint64_t steps = 0;          // steps that ran the model
  uint64_t computedTokens = 0; // tokens run through the model (prompt and output, recomputes too)
  uint64_t sampledTokens = 0;
  int peakUsedBlocks = 0;      // most KV blocks in use after scheduling a step
  double kvWasteSum = 0;       // sum over steps of KVCacheManager::kvWaste() after scheduling
  double meanKvWaste() const { return steps ? kvWasteSum / double(steps) : 0; }
};

class Engine {
public:
  // Loads nothing: `plan` must outlive the engine. Throws llm::Error on a bad configuration or a
  // KV cache budget smaller than one block.
  explicit Engine(const LoadedPlan &plan, EngineConfig config = {});

  // Queues a request. Empty eos ids take the plan's (generation defaults). Throws llm::Error (and
  // queues nothing) on a bad request: see Scheduler::addRequest, Sampler, and token ids outside
  // the vocabulary, or numSamples outside [1, 256].
  //
  // numSamples > 1 (OpenAI's `n`): the prompt is computed once; when its first token is sampled,
  // samples 1..n-1 fork from it (ids sampleId(id, i)), sharing its KV blocks (copy on write), each
  // with its own sampler seeded seed + i. Every sample id appears in exactly one step's
  // `finished`, also when the request is aborted before it forked.
  void add(Request request, int numSamples = 1);
  static std::string sampleId(std::string_view id, int sample);

  // Finishes a running sample now with `reason` (a stop string matched by the caller's
  // detokenizer: FinishedStopped). Returns false when no live request has this id.
  bool finish(std::string_view id, RequestStatus reason);

  // Runs one step (nothing when no request is waiting or running).
  EngineOutput step();

  // Finishes a waiting or running request now; the next step() reports it as finished. Returns
  // false when no live request has this id.
  bool abort(std::string_view id) { return finish(id, RequestStatus::FinishedAborted); }

  bool hasUnfinished() const { return scheduler_.hasUnfinished(); }
  const Scheduler &scheduler() const { return scheduler_; }
  const Executor &executor() const { return executor_; }
  const EngineStats &stats() const { return stats_; }
  int numKvBlocks() const { return executor_.kvCache().numBlocks(); }
  int blockSize() const { return executor_.kvCache().blockSize(); }

private:
  // The scheduler's output as one flattened batch (reusing the vectors below).
  StepBatch flatten(const SchedulerOutput &out);

  const LoadedPlan &plan_;
  Executor executor_;
  Scheduler scheduler_;
  std::vector<int32_t> eosTokenIds_;
  std::unordered_map<std::string, Sampler> samplers_;
  EngineStats stats_;
  // Samples a token for every request that computed its last token, forks pending samples, then
  // updates the scheduler.
  void sampleAndUpdate(const SchedulerOutput &out, std::span<const float> logits,
                       EngineOutput &result);
  // Samples that wait for their parent's first token (n > 1).
  struct PendingSample {
    std::string id;
    Sampler sampler;
  };
  std::unordered_map<std::string, std::vector<PendingSample>> pendingSamples_;
  std::vector<std::unique_ptr<Request>> droppedSamples_; // never forked: reported as aborted
  // The flattened batch of the current step.
  std::vector<int32_t> tokenIds_, positions_, queryStart_, seqLens_, blockTables_, logitRows_;
  std::vector<int64_t> slotMapping_;
};

} // namespace llmrt
