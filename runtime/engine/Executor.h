// The executor: runs rank 0's program of a loaded plan, one step at a time, over a flattened batch
// of sequences whose K and V rows live in a paged KV cache.
//
// Construction binds the plan once: every call gets its CPU kernel, decoded parameters and weight
// pointers, and every buffer and weight is checked against the kernel's shapes, so a step does no
// name lookups, no validation of the plan and no allocation except growing the arena (amortized)
// and the returned logits.
//
// A step runs the calls in order over an activation arena of arena_bytes_per_token * T bytes; each
// arena buffer lives at offset_per_token * T.
//
// Two ways to own the KV cache:
//  - paged (kvCacheBlocks > 0): num_blocks blocks of block_size positions; the caller (the engine,
//    from the scheduler's output) says where each token goes and which blocks each sequence reads
//    (step()), and which blocks to copy first (copyBlocks());
//  - single sequence (kvCacheBlocks == 0): one block of max_seq_len positions, slot = position;
//    forward() runs steps of that one sequence (a thin wrapper over step()), and the executor
//    remembers how many positions are filled until reset().
//
// NOTE: batch invariance: a token's logits are the same bits whatever else is in the step and
// however its sequence was split into steps (every kernel keeps a fixed order per row).
#pragma once

#include "backends/cpu/CpuKernels.h"
#include "engine/KVCacheManager.h"
#include "engine/PagedKVCache.h"
#include "engine/StepProfile.h"
#include "plan/PlanLoader.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace llmrt {

struct ExecutorOptions {
  int threads = 0; // 0 = all cores
  // The longest sequence, never above the plan's kv_cache.max_seq_len. 0 = single sequence: the
  // plan's maximum capped at 4096; paged: the plan's maximum.
  int maxSeqLen = 0;
  int kvCacheBlocks = 0; // > 0: a paged KV cache of this many blocks; 0: one sequence
  int kvBlockSize = 0;   // positions per block (paged); 0 = the plan's kv_cache.block_size
  bool kvCachePrefault = false; // touch every KV page now (see PagedKVCache)
  // The KV cache's element type; unset = the plan's kv_cache.dtype (llmrt --kv-cache-dtype auto).
  std::optional<KVCacheDtype> kvCacheDtype = std::nullopt;
};

// One step over a flattened batch: the tokens of sequence s are [queryStart[s], queryStart[s + 1])
// (every sequence has at least one), in position order or not.
struct StepBatch {
  std::span<const int32_t> tokenIds;    // T
  std::span<const int32_t> positions;   // T: absolute positions in the token's sequence
  std::span<const int64_t> slotMapping; // T: block_table[pos / bs] * bs + pos % bs
  std::span<const int32_t> queryStart;  // S + 1: 0, ..., T
  std::span<const int32_t> seqLens;     // S: the sequence's context length after this step
  std::span<const int32_t> blockTables; // S x blockTableStride; entries past a table's end unused
  int blockTableStride = 0;
  std::span<const int32_t> logitRows;   // R: rows in [0, T) whose logits are returned, in order
};

class Executor {
public:
  // Binds the plan (which must outlive the executor); throws llm::Error naming the call when a
  // buffer or weight does not match its kernel, or an option is out of range.
  explicit Executor(const LoadedPlan &plan, ExecutorOptions options = {});
  ~Executor();

  // Runs one step over a flattened batch and returns the logits of its R logit rows, R *
  // vocabSize() floats. Throws llm::Error on a bad input: mismatched lengths, a token id outside
  // the vocabulary, a sequence length above maxSeqLen() or beyond its block table, a block id
  // outside the cache, a position outside its sequence, a slot that is not its position's slot, a
  // logit row outside [0, T). A refused step changes nothing. The caller guarantees that every
  // position a token attends to was written (by this step or an earlier one).
  std::vector<float> step(const StepBatch &batch);

  // Copies every layer's K and V rows of each copy's src block into its dst block, in order (run
  // before the step that needs them). Throws llm::Error (and copies nothing) on a block id outside
  // the cache.
  void copyBlocks(std::span<const BlockCopy> copies);

  // Single sequence: runs one step over T tokens of the sequence (positions are absolute) and
  // returns the logits of the R requested rows. Throws llm::Error on a bad input: a paged
  // executor, a token id outside the vocabulary, a position outside the KV cache or that skips
  // positions not yet filled, a logit row outside [0, T), mismatched lengths. A refused step
  // changes nothing.
  std::vector<float> forward(std::span<const int32_t> tokenIds, std::span<const int32_t> positions,
                             std::span<const int32_t> logitRows);

  // Single sequence: starts a new sequence (forgets the KV cache contents).
  void reset();

  int vocabSize() const { return vocabSize_; }
  // Token ids in [0, tokenLimit()) are valid inputs (the smallest embedding's vocabulary).
  int tokenLimit() const { return vocabLimit_; }
  int maxSeqLen() const { return maxSeqLen_; }
  // Single sequence: positions filled in the KV cache so far.
  int sequenceLength() const { return length_; }
  bool paged() const { return paged_; }
  const PagedKVCache &kvCache() const { return *kv_; }

private:
  // A buffer, resolved: a step input (by index) or an arena offset per token.
  struct Slot {
    bool stepInput = false;
    uint32_t inputIndex = 0;
    uint64_t offsetPerToken = 0; // per logit row in the logit region
    bool logitRegion = false;   // a LogitRows buffer: after the per-token region
  };
  // Tunables for steps whose call computes rows in [minRows, maxRows] (plan schema 1.2).
  struct ParamBucket {
    int64_t minRows = 1, maxRows = 0; // maxRows 0: no bound
    cpu::KernelParams params;         // the call's params with the bucket's tunables
  };
  struct BoundCall {
    const cpu::CpuKernelFn *kernel = nullptr;
    cpu::KernelParams params;
    std::vector<ParamBucket> buckets;
    bool bucketByLogitRows = false; // logits: the call computes R rows, not T
    const cpu::KernelParams &paramsFor(int64_t tokens, int64_t logitRows) const;
    std::vector<Slot> inputs;
    std::vector<Slot> outputs;
    std::vector<const float *> weights;
    std::string label; // StepProfile's group
  };
  enum class InputKind { TokenIds, Positions, LogitRows };

  void bindInputs(const fb::Program &program);
  void bindCall(uint32_t index, const fb::KernelCall &call);
  void bindBuckets(BoundCall &bound, const fb::KernelCall &call, int numWeights);
  Slot bindBuffer(const std::string &where, const fb::Buffer &buffer, int64_t width,
                  fb::DType dtype, fb::Rows rows) const;
  void validateStep(std::span<const int32_t> tokenIds, std::span<const int32_t> positions,
                    std::span<const int32_t> logitRows) const;
  void validateBatch(const StepBatch &batch) const;
  void growArena(int64_t tokens, int64_t rows);
  void *resolve(const Slot &slot, int64_t tokens, int64_t rows) const;

  const LoadedPlan &plan_;
  const fb::Program *program_ = nullptr;
  std::vector<InputKind> inputKinds_; // by input_index
  std::vector<BoundCall> calls_;
  Slot output_;
  int vocabSize_ = 0;
  int vocabLimit_ = 0; // smallest vocab of any embedding call
  std::unique_ptr<PagedKVCache> kv_;
  std::unique_ptr<StepProfile> profile_; // LLMRT_PROFILE; printed to stderr at destruction
  bool paged_ = false;
  int maxSeqLen_ = 0;
  int length_ = 0; // single sequence: positions filled

  // The arena: 64-byte aligned, grown geometrically, never shrunk.
  struct FreeDeleter {
    void operator()(void *p) const;
  };
  std::unique_ptr<uint8_t, FreeDeleter> arena_;
  size_t arenaCapacity_ = 0;
  std::span<const int32_t> stepInputs_[3]; // valid during forward(), by InputKind
  std::vector<const void *> inputPtrs_;
  std::vector<void *> outputPtrs_;    // reused per call
  std::vector<int64_t> slots_;        // forward(): the step's slots
};

} // namespace llmrt
