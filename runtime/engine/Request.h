// A request's state inside the engine: what the scheduler and the KV cache manager keep about one
// sequence. Plain data: the HTTP layer fills the parameters, the scheduler owns the rest.
//
// NOTE: there are no prefill and decode phases. A request has num_tokens() tokens (prompt, then
// the outputs sampled so far) of which the first num_computed_tokens have their K and V rows in
// the KV cache; every step computes some of the rest, and a step that computes the last one yields
// logits, from which the next output token is sampled.
#pragma once

#include "engine/BlockPool.h"
#include "sampler/Sampler.h"

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace llmrt {

// Ordered, so that "finished" is one comparison: every finished state is above Preempted.
enum class RequestStatus : uint8_t {
  Waiting,
  Running,
  Preempted,       // waiting again after preemption: its blocks were freed, it will recompute
  FinishedStopped, // an eos id, a stop token id or (through the detokenizer) a stop string
  FinishedLength,  // max_tokens outputs, or the maximum sequence length
  FinishedAborted,
};

constexpr bool isFinished(RequestStatus status) { return status > RequestStatus::Preempted; }

// When generation stops. Stop strings are not here: the detokenizer matches them and finishes the
// request through Scheduler::finish().
struct StopParams {
  int maxTokens = 16;                // at least 1: the most output tokens
  int minTokens = 0;                 // no eos / stop-id stop before this many outputs
  bool ignoreEos = false;            // keep going past eos ids (stop token ids still stop)
  std::vector<int32_t> eosTokenIds;  // the model's (generation config)
  std::vector<int32_t> stopTokenIds; // the request's
};

struct Request {
  Request(std::string requestId, std::vector<int32_t> promptTokens, StopParams stopParams = {},
          SamplingParams samplingParams = {}, int requestPriority = 0)
      : id(std::move(requestId)), sampling(samplingParams), stop(std::move(stopParams)),
        priority(requestPriority), tokens(std::move(promptTokens)),
        numPromptTokens(static_cast<int>(tokens.size())) {}

  // --- Set by the caller.
  std::string id;
  SamplingParams sampling;
  StopParams stop;
  int priority = 0;       // the priority policy schedules smaller values first
  uint64_t cacheSalt = 0; // mixed into every block hash: requests share cached blocks only when
                          // their salts are equal (0 = none; e.g. a LoRA id or a tenant key)

  // --- Owned by the scheduler.
  uint64_t arrival = 0; // arrival order (a forked child shares its parent's)
  uint64_t seq = 0;     // unique, increasing: breaks ties between equal arrivals
  RequestStatus status = RequestStatus::Waiting;
  std::vector<int32_t> tokens; // prompt, then outputs
  int numPromptTokens = 0;
  int numComputedTokens = 0; // tokens [0, n) have K/V rows in this request's blocks
  int numCachedTokens = 0;   // tokens found in the prefix cache at the last admission
  int numPreemptions = 0;
  uint64_t lastScheduledStep = 0; // the step whose output last scheduled it (0 = none)

  // --- Owned by the KV cache manager.
  // NOTE: block_table[i] holds positions [i * block_size, (i + 1) * block_size); a request's
  // table covers at least its computed tokens (and, during a step, the tokens scheduled in it).
  std::vector<BlockId> blockTable;
  // NOTE: block_hashes[i] is the chained hash of the full block i of `tokens` (computed lazily;
  // it depends on tokens only, so it survives preemption).
  std::vector<BlockHash> blockHashes;
  // Leading table entries already offered to the prefix cache (cached, or duplicates of blocks
  // cached by others).
  int numCacheCheckedBlocks = 0;

  int numTokens() const { return static_cast<int>(tokens.size()); }
  int numOutputTokens() const { return numTokens() - numPromptTokens; }
  std::span<const int32_t> promptTokens() const { return {tokens.data(), size_t(numPromptTokens)}; }
  std::span<const int32_t> outputTokens() const {
    return std::span<const int32_t>(tokens).subspan(numPromptTokens);
  }
  bool finished() const { return isFinished(status); }
};

} // namespace llmrt
