#include "engine/Engine.h"

#include "engine/PagedKVCache.h"
#include "support/Error.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

namespace llmrt {

namespace {

constexpr int kDefaultBlockSize = 16; // when the plan names none
// Blocks are ids of int32 and slots of a layer fit an int64 index; keep pools far below both.
constexpr int64_t kMaxBlocks = int64_t{1} << 24;

// The KV cache's block count from the configuration: blocks, or a byte budget over the bytes of a
// block.
ExecutorOptions executorOptions(const LoadedPlan &plan, const EngineConfig &c) {
  if (c.kvCacheBlocks < 0 || c.kvCacheMemory < 0 || c.blockSize < 0 || c.maxModelLen < 0)
    llm::fail("engine: KV cache blocks {}, KV cache memory {}, block size {} and max_model_len {} "
              "must be >= 0",
              c.kvCacheBlocks, c.kvCacheMemory, c.blockSize, c.maxModelLen);
  const fb::KVCacheSpec *spec = plan.plan().kv_cache();
  ExecutorOptions o;
  o.threads = c.threads;
  o.maxSeqLen = c.maxModelLen;
  o.kvCachePrefault = c.kvCachePrefault;
  o.kvCacheDtype = c.kvCacheDtype;
  o.kvBlockSize = c.blockSize > 0                    ? c.blockSize
                  : spec && spec->block_size() > 0 ? static_cast<int>(spec->block_size())
                                                   : kDefaultBlockSize;
  if (c.kvCacheBlocks > 0) {
    o.kvCacheBlocks = c.kvCacheBlocks;
    return o;
  }
  const int64_t perBlock =
      spec ? PagedKVCache::bytesPerBlock(
                 spec->num_layers(), spec->num_kv_heads(), spec->head_dim(), o.kvBlockSize,
                 c.kvCacheDtype ? *c.kvCacheDtype
                                : kvCacheDtypeOf(spec->dtype(), fmt::format("plan '{}'",
                                                                            plan.path())))
           : 0;
  if (perBlock == 0) { // no attention: blocks cost nothing, give every sequence its maximum
    int64_t maxLen = c.maxModelLen > 0 ? c.maxModelLen
                     : spec && spec->max_seq_len() > 0 ? spec->max_seq_len()
                                                       : 4096;
    o.kvCacheBlocks = static_cast<int>(std::min<int64_t>(
        kMaxBlocks, (maxLen + o.kvBlockSize - 1) / o.kvBlockSize * std::max(1, c.maxNumSeqs)));
    return o;
  }
  const int64_t budget =
      c.kvCacheMemory > 0 ? c.kvCacheMemory : availableMemoryBudget(c.kvCacheMemoryFraction);
  const int64_t blocks = std::min(budget / perBlock, kMaxBlocks);
  if (blocks < 1)
    llm::fail("engine: a KV cache budget of {} bytes holds no block of {} positions ({} bytes)",
              budget, o.kvBlockSize, perBlock);
  o.kvCacheBlocks = static_cast<int>(blocks);
  return o;
}

SchedulerConfig schedulerConfig(const EngineConfig &c, const Executor &executor) {
  SchedulerConfig s;
  s.maxNumBatchedTokens = c.maxNumBatchedTokens;
  s.maxNumSeqs = c.maxNumSeqs;
  // NOTE: the scheduler caps this at the KV capacity; the executor's is the plan's maximum.
  s.maxModelLen = executor.maxSeqLen();
  s.policy = c.policy;
  s.kvCache.numBlocks = executor.kvCache().numBlocks();
  s.kvCache.blockSize = executor.kvCache().blockSize();
  s.kvCache.enablePrefixCaching = c.enablePrefixCaching;
  return s;
}

} // namespace

Engine::Engine(const LoadedPlan &plan, EngineConfig config)
    : plan_(plan), executor_(plan, executorOptions(plan, config)),
      scheduler_(schedulerConfig(config, executor_)) {
  if (const fb::GenerationDefaults *g = plan.plan().generation(); g && g->eos_token_ids())
    eosTokenIds_.assign(g->eos_token_ids()->begin(), g->eos_token_ids()->end());
}

std::string Engine::sampleId(std::string_view id, int sample) {
  return sample == 0 ? std::string(id) : fmt::format("{}#{}", id, sample);
}

void Engine::add(Request request, int numSamples) {
  constexpr int kMaxSamples = 256;
  if (numSamples < 1 || numSamples > kMaxSamples)
    llm::fail("request '{}': {} samples, expected 1..{}", request.id, numSamples, kMaxSamples);
  for (int32_t t : request.tokens)
    if (t >= executor_.tokenLimit())
      llm::fail("request '{}': token id {} is outside the vocabulary [0, {})", request.id, t,
                executor_.tokenLimit());
  if (request.stop.eosTokenIds.empty())
    request.stop.eosTokenIds = eosTokenIds_;
  Sampler sampler(request.sampling); // validates the sampling parameters
  std::vector<PendingSample> children;
  for (int i = 1; i < numSamples; ++i) {
    std::string childId = sampleId(request.id, i);
    if (scheduler_.find(childId) || samplers_.count(childId))
      llm::fail("request '{}': sample id '{}' is in use", request.id, childId);
    SamplingParams p = request.sampling;
    p.seed += static_cast<uint64_t>(i);
    children.push_back({std::move(childId), Sampler(p)});
  }
  std::string id = request.id;
  scheduler_.addRequest(std::move(request));
  samplers_.insert_or_assign(id, std::move(sampler));
  if (!children.empty())
    pendingSamples_[id] = std::move(children);
}

bool Engine::finish(std::string_view id, RequestStatus reason) {
  if (!scheduler_.finish(id, reason))
    return false;
  // Samples that never forked end with their parent, as aborted.
  if (auto it = pendingSamples_.find(std::string(id)); it != pendingSamples_.end()) {
    for (PendingSample &child : it->second) {
      auto dropped = std::make_unique<Request>(child.id, std::vector<int32_t>{});
      dropped->status = RequestStatus::FinishedAborted;
      droppedSamples_.push_back(std::move(dropped));
    }
    pendingSamples_.erase(it);
  }
  return true;
}

StepBatch Engine::flatten(const SchedulerOutput &out) {
  tokenIds_.clear();
  positions_.clear();
  slotMapping_.clear();
  queryStart_.assign(1, 0);
  seqLens_.clear();
  logitRows_.clear();
  size_t stride = 1;
  for (const ScheduledRequest &r : out.requests)
    stride = std::max(stride, r.blockTable.size());
  blockTables_.assign(out.requests.size() * stride, 0); // entries past a table are never read
  for (size_t s = 0; s < out.requests.size(); ++s) {
    const ScheduledRequest &r = out.requests[s];
    tokenIds_.insert(tokenIds_.end(), r.tokenIds.begin(), r.tokenIds.end());
    positions_.insert(positions_.end(), r.positions.begin(), r.positions.end());
    slotMapping_.insert(slotMapping_.end(), r.slotMapping.begin(), r.slotMapping.end());
    queryStart_.push_back(static_cast<int32_t>(tokenIds_.size()));
    seqLens_.push_back(r.seqLen());
    std::copy(r.blockTable.begin(), r.blockTable.end(), blockTables_.begin() + s * stride);
    // NOTE: logits only for the last token of a request that computes its last token.
    if (r.needsLogits)
      logitRows_.push_back(static_cast<int32_t>(tokenIds_.size()) - 1);
  }
  return {tokenIds_,    positions_,  slotMapping_, queryStart_, seqLens_,
          blockTables_, static_cast<int>(stride), logitRows_};
}

EngineOutput Engine::step() {
  EngineOutput result;
  SchedulerOutput out = scheduler_.schedule();
  result.step = out.step;
  result.preemptedIds = std::move(out.preemptedIds);
  if (!out.empty()) {
    const KVCacheManager &kv = scheduler_.kvCache();
    ++stats_.steps;
    stats_.computedTokens += out.totalTokens;
    stats_.peakUsedBlocks = std::max(stats_.peakUsedBlocks, kv.numUsedBlocks());
    stats_.kvWasteSum += kv.kvWaste();
    // NOTE: copies first, in order: a block freed by a preemption in this step may be the source
    // of one copy and the destination of a later one.
    executor_.copyBlocks(out.copies);
    std::vector<float> logits = executor_.step(flatten(out));
    sampleAndUpdate(out, logits, result);
    result.numScheduledTokens = out.totalTokens;
    result.numRequests = static_cast<int>(out.requests.size());
  }
  result.finished = scheduler_.takeFinished();
  for (std::unique_ptr<Request> &r : droppedSamples_)
    result.finished.push_back(std::move(r));
  droppedSamples_.clear();
  for (const std::unique_ptr<Request> &r : result.finished)
    if (!scheduler_.find(r->id)) // NOTE: an aborted id may have been reused by a new request
      samplers_.erase(r->id);
  return result;
}

void Engine::sampleAndUpdate(const SchedulerOutput &out, std::span<const float> logits,
                             EngineOutput &result) {
  std::vector<int32_t> sampled;
  std::unordered_map<std::string, TokenLogprobs> logprobs; // NOTE: owns its keys (children move)
  auto draw = [&](Sampler &sampler, const Request &history, std::string_view id,
                  std::span<const float> row) {
    int32_t token = sampler.sample(row, history.promptTokens(), history.outputTokens());
    if (sampler.params().logprobs >= 0)
      logprobs[std::string(id)] = computeLogprobs(row, token, sampler.params().logprobs);
    return token;
  };
  const size_t vocab = static_cast<size_t>(executor_.vocabSize());
  for (const ScheduledRequest &r : out.requests) {
    if (!r.needsLogits)
      continue;
    std::span<const float> row(logits.data() + sampled.size() * vocab, vocab);
    const Request &request = *scheduler_.find(r.id);
    sampled.push_back(draw(samplers_.at(r.id), request, r.id, row));
    // n > 1: the other samples fork from the first token of the prompt's logits.
    auto pending = pendingSamples_.find(r.id);
    if (pending == pendingSamples_.end() || request.numOutputTokens() != 0)
      continue;
    for (PendingSample &child : pending->second) {
      int32_t token = draw(child.sampler, request, child.id, row);
      result.tokens.push_back(scheduler_.fork(r.id, child.id, token));
      samplers_.insert_or_assign(child.id, std::move(child.sampler));
      ++stats_.sampledTokens;
    }
    pendingSamples_.erase(pending);
  }
  stats_.sampledTokens += sampled.size();
  std::vector<NewToken> updated = scheduler_.update(out, sampled);
  result.tokens.insert(result.tokens.end(), std::make_move_iterator(updated.begin()),
                       std::make_move_iterator(updated.end()));
  result.logprobs.resize(result.tokens.size());
  if (!logprobs.empty())
    for (size_t i = 0; i < result.tokens.size(); ++i)
      if (auto it = logprobs.find(result.tokens[i].id); it != logprobs.end())
        result.logprobs[i] = std::move(it->second);
}

} // namespace llmrt
