#include "engine/Scheduler.h"

#include "support/Error.h"

#include <algorithm>
#include <cassert>
#include <tuple>

namespace llmrt {

bool Scheduler::Order::operator()(const Request *a, const Request *b) const {
  int pa = byPriority ? a->priority : 0, pb = byPriority ? b->priority : 0;
  return std::tie(pa, a->arrival, a->seq) < std::tie(pb, b->arrival, b->seq);
}

namespace {

KVCacheManager checkedKVCache(const SchedulerConfig &config) {
  if (config.maxNumBatchedTokens < 1)
    llm::fail("scheduler: max_num_batched_tokens must be at least 1, got {}",
              config.maxNumBatchedTokens);
  if (config.maxNumSeqs < 1)
    llm::fail("scheduler: max_num_seqs must be at least 1, got {}", config.maxNumSeqs);
  if (config.maxModelLen < 0)
    llm::fail("scheduler: max_model_len must be 0 (the KV cache capacity) or positive, got {}",
              config.maxModelLen);
  return KVCacheManager(config.kvCache);
}

bool contains(const std::vector<int32_t> &ids, int32_t token) {
  return std::find(ids.begin(), ids.end(), token) != ids.end();
}

} // namespace

Scheduler::Scheduler(SchedulerConfig config)
    : config_(std::move(config)),
      kv_(checkedKVCache(config_)), order_{config_.policy == SchedulingPolicy::Priority},
      waiting_(order_) {
  // NOTE: max_model_len <= KV capacity: a request alone in the pool always has room to finish,
  // so preemption always makes progress.
  const int capacity = static_cast<int>(kv_.capacityTokens());
  maxModelLen_ = config_.maxModelLen == 0 ? capacity : std::min(config_.maxModelLen, capacity);
}

void Scheduler::validate(const Request &r) const {
  if (r.id.empty())
    llm::fail("request: the id is empty");
  if (live_.count(r.id))
    llm::fail("request '{}': a request with this id is already queued or running", r.id);
  if (r.tokens.empty() || r.numPromptTokens != r.numTokens())
    llm::fail("request '{}': the prompt must have at least one token and no outputs", r.id);
  if (r.numPromptTokens > maxModelLen_)
    llm::fail("request '{}': the prompt has {} tokens, more than the maximum of {} (KV cache: {} "
              "blocks of {} positions)",
              r.id, r.numPromptTokens, maxModelLen_, kv_.numBlocks(), kv_.blockSize());
  for (int32_t t : r.tokens)
    if (t < 0)
      llm::fail("request '{}': negative token id {} in the prompt", r.id, t);
  if (r.stop.maxTokens < 1)
    llm::fail("request '{}': max_tokens must be at least 1, got {}", r.id, r.stop.maxTokens);
  if (r.stop.minTokens < 0)
    llm::fail("request '{}': min_tokens must be at least 0, got {}", r.id, r.stop.minTokens);
}

void Scheduler::addRequest(Request request) {
  validate(request);
  auto owned = std::make_unique<Request>(std::move(request));
  Request *r = owned.get();
  r->status = RequestStatus::Waiting;
  r->arrival = nextArrival_++;
  r->seq = nextSeq_++;
  r->numComputedTokens = 0;
  r->blockTable.clear();
  r->blockHashes.clear();
  r->numCacheCheckedBlocks = 0;
  r->lastScheduledStep = 0;
  live_.emplace(r->id, std::move(owned));
  waiting_.insert(r);
}

SchedulerOutput Scheduler::schedule() {
  if (awaitingUpdate_)
    llm::fail("scheduler: schedule() called again before update() of step {}", step_);
  std::vector<Planned> plan;
  int budget = config_.maxNumBatchedTokens;
  const uint64_t preemptionsBefore = numPreemptions_;
  scheduleRunning(plan, budget);
  // A step that had to preempt admits nobody: the new request would only be preempted next.
  if (numPreemptions_ == preemptionsBefore)
    scheduleWaiting(plan, budget);
  return commit(plan);
}

void Scheduler::scheduleRunning(std::vector<Planned> &plan, int &budget) {
  // NOTE: victims come from the back of running_, so the requests before index i (scheduled this
  // step) are never preempted; at worst the request being scheduled preempts itself.
  for (size_t i = 0; i < running_.size() && budget > 0; ++i) {
    Request *r = running_[i];
    const int n = std::min(r->numTokens() - r->numComputedTokens, budget);
    assert(n >= 1 && "a running request always has a token to compute");
    std::vector<BlockCopy> copies;
    while (!kv_.allocateSlots(*r, n, copies)) {
      // A request alone in the pool always fits (max_model_len <= capacity).
      assert(running_.size() > 1 && "a lone request must fit in the KV cache");
      Request *victim = running_.back();
      preempt(*victim);
      if (victim == r)
        break;
    }
    if (r->status == RequestStatus::Preempted)
      break; // it was the last running request
    plan.push_back({r, n, std::move(copies)});
    budget -= n;
  }
}

void Scheduler::scheduleWaiting(std::vector<Planned> &plan, int &budget) {
  while (!waiting_.empty() && budget > 0 &&
         running_.size() < static_cast<size_t>(config_.maxNumSeqs)) {
    Request *r = *waiting_.begin();
    PrefixHit hit = kv_.findCachedPrefix(*r);
    const int n = std::min(r->numTokens() - hit.numTokens, budget);
    std::vector<BlockCopy> copies;
    if (!kv_.allocateSlots(*r, n, copies, hit))
      break; // in order: later requests wait behind the head (no overtaking)
    assert(copies.empty() && "a request without blocks has nothing to copy");
    waiting_.erase(waiting_.begin());
    r->numComputedTokens = hit.numTokens;
    r->status = RequestStatus::Running;
    insertRunning(r);
    plan.push_back({r, n, {}});
    budget -= n;
  }
}

void Scheduler::preempt(Request &victim) {
  if (&victim == running_.back())
    running_.pop_back();
  else
    running_.erase(std::find(running_.begin(), running_.end(), &victim));
  kv_.free(victim);
  victim.numComputedTokens = 0;
  victim.status = RequestStatus::Preempted;
  ++victim.numPreemptions;
  ++numPreemptions_;
  // NOTE: in arrival order the victim lands at the front of the waiting queue: it arrived before
  // every request that has never run.
  waiting_.insert(&victim);
  preemptedSinceStep_.push_back(victim.id);
}

void Scheduler::insertRunning(Request *request) {
  running_.insert(std::upper_bound(running_.begin(), running_.end(), request, order_), request);
}

ScheduledRequest Scheduler::describe(const Request &r, int numTokens) const {
  ScheduledRequest s;
  s.id = r.id;
  s.numTokens = numTokens;
  s.startPosition = r.numComputedTokens;
  s.tokenIds.assign(r.tokens.begin() + s.startPosition,
                    r.tokens.begin() + s.startPosition + numTokens);
  s.positions.resize(numTokens);
  s.slotMapping.resize(numTokens);
  for (int i = 0; i < numTokens; ++i) {
    s.positions[i] = s.startPosition + i;
    s.slotMapping[i] = kv_.slot(r, s.startPosition + i);
  }
  s.blockTable = r.blockTable;
  s.needsLogits = s.seqLen() == r.numTokens();
  return s;
}

SchedulerOutput Scheduler::commit(std::vector<Planned> &plan) {
  SchedulerOutput out;
  out.step = ++step_;
  out.requests.reserve(plan.size());
  for (Planned &p : plan) {
    out.requests.push_back(describe(*p.request, p.numTokens));
    out.copies.insert(out.copies.end(), p.copies.begin(), p.copies.end());
    out.totalTokens += p.numTokens;
    // NOTE: computed counts advance here, so between schedule() and update() they include the
    // tokens in flight (fork() relies on it).
    p.request->numComputedTokens += p.numTokens;
    p.request->lastScheduledStep = out.step;
  }
  out.preemptedIds = std::move(preemptedSinceStep_);
  out.finishedIds = std::move(finishedSinceStep_);
  preemptedSinceStep_.clear();
  finishedSinceStep_.clear();
  awaitingUpdate_ = !out.requests.empty(); // an empty step needs no update()
  return out;
}

Request *Scheduler::findLive(std::string_view id) const {
  auto it = live_.find(id);
  return it == live_.end() ? nullptr : it->second.get();
}

const Request *Scheduler::find(std::string_view id) const { return findLive(id); }

std::vector<NewToken> Scheduler::update(const SchedulerOutput &output,
                                        std::span<const int32_t> sampled) {
  if (output.requests.empty() && output.step == step_ && sampled.empty())
    return {};
  if (!awaitingUpdate_ || output.step != step_)
    llm::fail("scheduler: update() for step {}, but the step awaiting update is {}", output.step,
              awaitingUpdate_ ? std::to_string(step_) : std::string("none"));
  size_t expected = 0;
  for (const ScheduledRequest &s : output.requests)
    expected += s.needsLogits;
  if (sampled.size() != expected)
    llm::fail("scheduler: step {} needs {} sampled tokens (one per request needing logits), got {}",
              output.step, expected, sampled.size());
  for (int32_t t : sampled)
    if (t < 0)
      llm::fail("scheduler: negative sampled token id {}", t);

  awaitingUpdate_ = false;
  std::vector<NewToken> tokens;
  size_t k = 0;
  for (const ScheduledRequest &s : output.requests) {
    int32_t token = s.needsLogits ? sampled[k++] : -1;
    Request *r = findLive(s.id);
    // Finished (aborted) since schedule(), maybe replaced by a new request with the same id.
    if (!r || r->status != RequestStatus::Running || r->lastScheduledStep != output.step)
      continue;
    kv_.cacheComputedBlocks(*r);
    if (s.needsLogits)
      tokens.push_back(appendToken(*r, token));
  }
  return tokens;
}

RequestStatus Scheduler::stopStatus(const Request &r) const {
  const int32_t last = r.tokens.back();
  if (r.numOutputTokens() >= r.stop.minTokens) {
    if (contains(r.stop.stopTokenIds, last))
      return RequestStatus::FinishedStopped;
    if (!r.stop.ignoreEos && contains(r.stop.eosTokenIds, last))
      return RequestStatus::FinishedStopped;
  }
  if (r.numOutputTokens() >= r.stop.maxTokens || r.numTokens() >= maxModelLen_)
    return RequestStatus::FinishedLength;
  return r.status;
}

NewToken Scheduler::appendToken(Request &r, int32_t token) {
  r.tokens.push_back(token);
  RequestStatus status = stopStatus(r);
  NewToken event{r.id, token, status};
  if (isFinished(status))
    retire(r, status);
  return event;
}

bool Scheduler::finish(std::string_view id, RequestStatus reason) {
  if (!isFinished(reason))
    llm::fail("scheduler: finish() needs a finished status, got {}", static_cast<int>(reason));
  Request *r = findLive(id);
  if (!r)
    return false;
  retire(*r, reason);
  return true;
}

void Scheduler::retire(Request &r, RequestStatus reason) {
  if (r.status == RequestStatus::Running)
    running_.erase(std::find(running_.begin(), running_.end(), &r));
  else
    waiting_.erase(&r);
  kv_.free(r); // NOTE: blocks return at once; cached ones stay reusable
  r.status = reason;
  finishedSinceStep_.push_back(r.id);
  auto node = live_.extract(std::string_view(r.id));
  finished_.push_back(std::move(node.mapped()));
}

NewToken Scheduler::fork(std::string_view parentId, std::string childId, int32_t childToken) {
  Request *parent = findLive(parentId);
  if (!parent || parent->status != RequestStatus::Running)
    llm::fail("fork: no running request '{}'", parentId);
  if (!awaitingUpdate_ || parent->lastScheduledStep != step_ ||
      parent->numComputedTokens != parent->numTokens())
    llm::fail("fork: request '{}' must be forked between schedule() and update() of a step that "
              "computes its last token",
              parentId);
  if (childId.empty() || findLive(childId))
    llm::fail("fork: child id '{}' is empty or already in use", childId);
  if (childToken < 0)
    llm::fail("fork: negative token id {}", childToken);

  auto owned = std::make_unique<Request>(*parent);
  Request *child = owned.get();
  child->id = std::move(childId);
  child->seq = nextSeq_++;
  child->numPreemptions = 0;
  child->lastScheduledStep = 0; // not in this step's output: update() leaves it alone
  child->blockTable.clear();
  kv_.fork(*parent, *child);
  live_.emplace(child->id, std::move(owned));
  insertRunning(child);
  NewToken event = appendToken(*child, childToken);
  // No room to run: wait, recomputing later (from the parent's cached full blocks).
  if (!isFinished(event.status) && running_.size() > static_cast<size_t>(config_.maxNumSeqs))
    preempt(*child);
  return event;
}

std::vector<std::unique_ptr<Request>> Scheduler::takeFinished() {
  std::vector<std::unique_ptr<Request>> out;
  out.swap(finished_);
  return out;
}

} // namespace llmrt
