// The executor: runs rank 0's program of a loaded plan, one step at a time, for one sequence.
//
// Construction binds the plan once: every call gets its CPU kernel, decoded parameters and weight
// pointers, and every buffer and weight is checked against the kernel's shapes, so a step does no
// name lookups, no validation of the plan and no allocation except growing the arena (amortized)
// and the returned logits.
//
// A step runs the calls in order over an activation arena of arena_bytes_per_token * T bytes; each
// arena buffer lives at offset_per_token * T. The sequence's KV cache persists across steps until
// reset().
#pragma once

#include "backends/cpu/CpuKernels.h"
#include "engine/KVCache.h"
#include "plan/PlanLoader.h"

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace llmrt {

struct ExecutorOptions {
  int threads = 0;   // 0 = all cores
  int maxSeqLen = 0; // 0 = the plan's kv_cache.max_seq_len capped at 4096; never above the plan's
};

class Executor {
public:
  // Binds the plan (which must outlive the executor); throws llm::Error naming the call when a
  // buffer or weight does not match its kernel, or an option is out of range.
  explicit Executor(const LoadedPlan &plan, ExecutorOptions options = {});
  ~Executor();

  // Runs one step over T tokens (positions are absolute positions in the sequence) and returns
  // the logits of the R requested rows, R * vocabSize() floats. Throws llm::Error on a bad input:
  // a token id outside the vocabulary, a position outside the KV cache or that skips positions not
  // yet filled, a logit row outside [0, T), mismatched lengths. A refused step changes nothing.
  std::vector<float> forward(std::span<const int32_t> tokenIds, std::span<const int32_t> positions,
                             std::span<const int32_t> logitRows);

  // Starts a new sequence (forgets the KV cache contents).
  void reset();

  int vocabSize() const { return vocabSize_; }
  int maxSeqLen() const { return kv_->capacity(); }
  // Positions filled in the KV cache so far.
  int sequenceLength() const { return kv_->length(); }

private:
  // A buffer, resolved: a step input (by index) or an arena offset per token.
  struct Slot {
    bool stepInput = false;
    uint32_t inputIndex = 0;
    uint64_t offsetPerToken = 0; // per logit row in the logit region
    bool logitRegion = false;   // a LogitRows buffer: after the per-token region
  };
  struct BoundCall {
    const cpu::CpuKernelFn *kernel = nullptr;
    cpu::KernelParams params;
    std::vector<Slot> inputs;
    std::vector<Slot> outputs;
    std::vector<const float *> weights;
  };
  enum class InputKind { TokenIds, Positions, LogitRows };

  void bindInputs(const fb::Program &program);
  void bindCall(uint32_t index, const fb::KernelCall &call);
  Slot bindBuffer(const std::string &where, const fb::Buffer &buffer, int64_t width,
                  fb::DType dtype, fb::Rows rows) const;
  void validateStep(std::span<const int32_t> tokenIds, std::span<const int32_t> positions,
                    std::span<const int32_t> logitRows) const;
  void *resolve(const Slot &slot, int64_t tokens, int64_t rows) const;

  const LoadedPlan &plan_;
  const fb::Program *program_ = nullptr;
  std::vector<InputKind> inputKinds_; // by input_index
  std::vector<BoundCall> calls_;
  Slot output_;
  int vocabSize_ = 0;
  int vocabLimit_ = 0; // smallest vocab of any embedding call
  std::unique_ptr<KVCache> kv_;

  // The arena: 64-byte aligned, grown geometrically, never shrunk.
  struct FreeDeleter {
    void operator()(void *p) const;
  };
  std::unique_ptr<uint8_t, FreeDeleter> arena_;
  size_t arenaCapacity_ = 0;
  std::span<const int32_t> stepInputs_[3]; // valid during forward(), by InputKind
  std::vector<const void *> inputPtrs_;
  std::vector<void *> outputPtrs_;    // reused per call
};

} // namespace llmrt
