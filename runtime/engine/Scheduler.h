// The continuous-batching scheduler: pure bookkeeping over requests and the KV cache manager; it
// never touches a tensor. The engine loop is
//
//   out = schedule();  executor runs out (copies first);  sample;  update(out, sampled);
//   stream update's tokens;  takeFinished();
//
// Each step has a token budget (max_num_batched_tokens) and a sequence cap (max_num_seqs). There
// are no prefill and decode phases: every scheduled request computes min(num_tokens -
// num_computed_tokens, remaining budget) tokens. Running requests go first, in order (so decodes
// are never starved by new prompts); then waiting requests are admitted in order (FCFS, or by
// priority then arrival), their prompts chunked to the remaining budget (chunked prefill), their
// cached prefix counted as computed. When the KV pool runs dry for a running request, the
// lowest-priority, latest-arrived running request (possibly itself) is preempted by recompute: its
// blocks are freed, its computed count reset to 0, and it waits again at the front of the queue.
#pragma once

#include "engine/KVCacheManager.h"
#include "engine/Request.h"

#include <cstdint>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace llmrt {

enum class SchedulingPolicy {
  Fcfs,     // arrival order; priorities are ignored
  Priority, // smaller priority value first, then arrival order
};

struct SchedulerConfig {
  int maxNumBatchedTokens = 2048; // tokens per step
  int maxNumSeqs = 256;           // running requests at once
  int maxModelLen = 0;            // longest sequence; 0 = the KV cache capacity (never above it)
  SchedulingPolicy policy = SchedulingPolicy::Fcfs;
  KVCacheConfig kvCache;
};

// One request's part of a step.
struct ScheduledRequest {
  std::string id;
  int numTokens = 0;     // tokens to compute this step
  int startPosition = 0; // = num_computed_tokens before the step; positions start here
  std::vector<int32_t> tokenIds;
  std::vector<int32_t> positions;   // startPosition, startPosition + 1, ...
  std::vector<BlockId> blockTable;  // covers positions [0, startPosition + numTokens)
  std::vector<int64_t> slotMapping; // per token: block_table[pos / bs] * bs + pos % bs
  // NOTE: true exactly when the step computes the request's last token (it finishes the prompt,
  // or it is a decode): the executor returns this request's logits for its last token only.
  bool needsLogits = false;

  int seqLen() const { return startPosition + numTokens; } // context length for attention
};

struct SchedulerOutput {
  uint64_t step = 0;                      // 1, 2, ...: update() checks it
  std::vector<ScheduledRequest> requests; // running ones first, then the newly admitted
  int totalTokens = 0;
  // NOTE: the executor performs these in order, all before the step's forward pass (a block freed
  // by a preemption in this step may be the source of one copy and the destination of a later
  // one).
  std::vector<BlockCopy> copies;
  std::vector<std::string> preemptedIds; // since the last step; their blocks are gone
  std::vector<std::string> finishedIds;  // since the last step (stopped, length, aborted)

  bool empty() const { return requests.empty(); }
};

// A token that update() or fork() appended.
struct NewToken {
  std::string id;
  int32_t token = 0;
  RequestStatus status = RequestStatus::Running; // after the token (finished ones say why)
};

class Scheduler {
public:
  // Throws llm::Error on a bad configuration (a limit below 1, a bad KV cache config).
  explicit Scheduler(SchedulerConfig config);

  // Queues a request. Throws llm::Error (and queues nothing) on an empty or duplicate id, an empty
  // prompt, a negative token id, a prompt longer than max_model_len (itself never above the KV
  // cache capacity, so no request can wait forever for room it can never have), max_tokens < 1 or
  // min_tokens < 0.
  void addRequest(Request request);

  // Decides the next step. Throws llm::Error when the previous step was not update()d (a step
  // that scheduled nothing needs no update()).
  SchedulerOutput schedule();

  // After the executor ran `output`: counts its tokens as computed, caches the blocks they filled,
  // and appends one sampled token per scheduled request with needsLogits (in output order), then
  // checks stop conditions: a stop token id or (unless ignore_eos) an eos id once min_tokens
  // outputs exist -> FinishedStopped; then max_tokens outputs or max_model_len tokens ->
  // FinishedLength. Finished requests free their blocks (cached blocks stay reusable). Requests
  // aborted since schedule() are skipped (their sampled token is ignored). Throws llm::Error (and
  // changes nothing) when output is not the last scheduled step or the token count is wrong.
  std::vector<NewToken> update(const SchedulerOutput &output, std::span<const int32_t> sampled);

  // Finishes a waiting or running request now (e.g. the detokenizer matched a stop string, with
  // FinishedStopped): its blocks return at once. Returns false when no live request has this id.
  // Throws llm::Error when reason is not a finished status.
  bool finish(std::string_view id, RequestStatus reason);
  bool abort(std::string_view id) { return finish(id, RequestStatus::FinishedAborted); }

  // n > 1 samples of one prompt: between schedule() and update() of a step that computes the
  // parent's last token (needsLogits), the child copies the parent, shares all its blocks (copy on
  // write protects the partial tail), and gets `childToken` (sampled from the parent's logits) as
  // its next token, with the stop checks of update(). The parent gets its own token from update().
  // If max_num_seqs requests run already, the child waits (preempted: it recomputes later, reusing
  // the parent's cached full blocks). Throws llm::Error on an unknown or not-running parent, a
  // parent outside that window, a used child id, or a negative token.
  NewToken fork(std::string_view parentId, std::string childId, int32_t childToken);

  // Requests finished since the last call (any reason), with their final state; their blocks are
  // already free.
  std::vector<std::unique_ptr<Request>> takeFinished();

  const Request *find(std::string_view id) const;
  size_t numWaiting() const { return waiting_.size(); }
  size_t numRunning() const { return running_.size(); }
  bool hasUnfinished() const { return !waiting_.empty() || !running_.empty(); }
  int maxModelLen() const { return maxModelLen_; }
  const SchedulerConfig &config() const { return config_; }

  // --- Counters.
  uint64_t numPreemptions() const { return numPreemptions_; }
  uint64_t numSteps() const { return step_; }
  // Prefix-cache queries and hits (tokens), blocks in use, KV waste.
  const KVCacheManager &kvCache() const { return kv_; }

private:
  // The policy's order: smaller first. Running requests are kept in this order too, so the last
  // running request is the one to preempt.
  struct Order {
    bool byPriority;
    bool operator()(const Request *a, const Request *b) const;
  };
  struct Planned {
    Request *request;
    int numTokens;
    std::vector<BlockCopy> copies;
  };

  void scheduleRunning(std::vector<Planned> &plan, int &budget);
  void scheduleWaiting(std::vector<Planned> &plan, int &budget);
  void preempt(Request &victim);
  void insertRunning(Request *request);
  SchedulerOutput commit(std::vector<Planned> &plan);
  ScheduledRequest describe(const Request &request, int numTokens) const;
  Request *findLive(std::string_view id) const;
  RequestStatus stopStatus(const Request &request) const;
  NewToken appendToken(Request &request, int32_t token);
  void retire(Request &request, RequestStatus reason);
  void validate(const Request &request) const;

  SchedulerConfig config_;
  int maxModelLen_;
  KVCacheManager kv_;
  Order order_;
  // NOTE: waiting requests hold no blocks; running ones hold blocks covering their computed tokens.
  std::set<Request *, Order> waiting_;
  std::vector<Request *> running_;                                      // sorted by order_
  std::unordered_map<std::string_view, std::unique_ptr<Request>> live_; // key views the id
  std::vector<std::unique_ptr<Request>> finished_;
  std::vector<std::string> finishedSinceStep_, preemptedSinceStep_;
  uint64_t step_ = 0;
  bool awaitingUpdate_ = false;
  uint64_t nextArrival_ = 1, nextSeq_ = 1;
  uint64_t numPreemptions_ = 0;
};

} // namespace llmrt
