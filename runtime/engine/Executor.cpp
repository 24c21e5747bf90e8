#include "engine/Executor.h"

#include "backends/cpu/Isa.h"

#include "plan/QuantFormat.h"
#include "registry/KernelRegistry.h"
#include "support/Error.h"
#include "support/ThreadPool.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace llmrt {
namespace reg = llm::registry;
using llm::fail;

namespace {
constexpr int kDefaultMaxSeqLen = 4096;
constexpr int kDefaultBlockSize = 16; // when the plan names none
constexpr size_t kArenaAlignment = 64;

std::string callWhere(const LoadedPlan &plan, uint32_t index, const fb::KernelCall &call) {
  std::string s =
      fmt::format("plan '{}': call {} '{}'", plan.path(), index, call.kernel()->string_view());
  if (call.label() && call.label()->size())
    s += fmt::format(" ({})", call.label()->string_view());
  return s;
}
} // namespace

void Executor::FreeDeleter::operator()(void *p) const { std::free(p); }

Executor::Executor(const LoadedPlan &plan, ExecutorOptions options) : plan_(plan) {
  if (options.threads < 0 || options.maxSeqLen < 0 || options.kvCacheBlocks < 0 ||
      options.kvBlockSize < 0)
    fail("executor options: threads {}, max_seq_len {}, KV cache blocks {} and block size {} must "
         "be >= 0",
         options.threads, options.maxSeqLen, options.kvCacheBlocks, options.kvBlockSize);
  if (options.threads > 0)
    ThreadPool::global().setThreads(options.threads);
  cpu::checkIsaSetting(); // a bad LLMRT_CPU_ISA fails here, not inside a kernel
  const fb::Plan &p = plan.plan();
  // NOTE: the loader has checked the target is a registry target; this executor runs CPU plans.
  std::string_view target = p.target() ? p.target()->string_view() : "";
  const reg::TargetInfo *info = reg::findTarget(target);
  if (!info || info->family != reg::TargetFamily::Cpu)
    fail("plan '{}' targets {}; this runtime executes CPU plans (compile with --target cpu, "
         "cpu-avx2 or cpu-avx512)",
         plan.path(), target);
  program_ = p.programs()->Get(0);
  const fb::KVCacheSpec *spec = p.kv_cache();
  int64_t planMax = spec ? spec->max_seq_len() : 0;
  paged_ = options.kvCacheBlocks > 0;
  int64_t maxSeqLen = options.maxSeqLen > 0 ? options.maxSeqLen
                      : planMax > 0 ? (paged_ ? planMax : std::min<int64_t>(planMax, kDefaultMaxSeqLen))
                                    : kDefaultMaxSeqLen;
  if (planMax > 0 && maxSeqLen > planMax)
    fail("executor options: max_seq_len {} exceeds the plan's maximum of {} positions", maxSeqLen,
         planMax);
  if (maxSeqLen > std::numeric_limits<int32_t>::max())
    fail("plan '{}': max_seq_len {} does not fit a position", plan.path(), maxSeqLen);
  maxSeqLen_ = static_cast<int>(maxSeqLen);
  // The plan's dtype is checked only when it is used: an override runs a plan whose dtype this
  // backend lacks.
  const KVCacheDtype kvDtype =
      options.kvCacheDtype ? *options.kvCacheDtype
      : spec               ? kvCacheDtypeOf(spec->dtype(), fmt::format("plan '{}'", plan.path()))
                           : KVCacheDtype::F32;
  int64_t layers = spec ? spec->num_layers() : 0, kvHeads = spec ? spec->num_kv_heads() : 0,
          headDim = spec ? spec->head_dim() : 0;
  if (paged_) {
    int64_t blockSize = options.kvBlockSize > 0                 ? options.kvBlockSize
                        : spec && spec->block_size() > 0 ? spec->block_size()
                                                         : kDefaultBlockSize;
    kv_ = std::make_unique<PagedKVCache>(layers, kvHeads, headDim, options.kvCacheBlocks,
                                         blockSize, options.kvCachePrefault, kvDtype);
  } else {
    // One block holding every position of the one sequence: slot = position.
    kv_ = std::make_unique<PagedKVCache>(layers, kvHeads, headDim, 1, maxSeqLen, false, kvDtype);
  }
  bindInputs(*program_);
  if (program_->calls())
    for (uint32_t i = 0; i < program_->calls()->size(); ++i)
      bindCall(i, *program_->calls()->Get(i));
  if (StepProfile::requested()) {
    std::vector<std::string> labels;
    for (const BoundCall &c : calls_)
      labels.push_back(c.label);
    profile_ = std::make_unique<StepProfile>(std::move(labels));
  }
  const fb::Buffer &out = *program_->output();
  if (out.row_bytes() % sizeof(float) != 0 || out.row_bytes() == 0 ||
      out.row_bytes() > (uint64_t{1} << 24) * sizeof(float))
    fail("plan '{}': program output has {} bytes per row, expected a whole number of floats "
         "(at most 2^24)",
         plan.path(), out.row_bytes());
  vocabSize_ = static_cast<int>(out.row_bytes() / sizeof(float));
  output_ = bindBuffer(fmt::format("plan '{}': program output", plan.path()), out, vocabSize_,
                       fb::DType::F32, fb::Rows::LogitRows);
  if (vocabLimit_ == 0)
    vocabLimit_ = p.model() && p.model()->vocab_size() ? p.model()->vocab_size() : vocabSize_;
}

Executor::~Executor() {
  if (profile_)
    fmt::print(stderr, "LLMRT_PROFILE\n{}", profile_->report());
}

void Executor::bindInputs(const fb::Program &program) {
  if (!program.inputs())
    return;
  for (const flatbuffers::String *name : *program.inputs()) {
    std::string_view n = name->string_view();
    if (n == reg::kInputTokenIds)
      inputKinds_.push_back(InputKind::TokenIds);
    else if (n == reg::kInputPositions)
      inputKinds_.push_back(InputKind::Positions);
    else if (n == reg::kInputLogitRows)
      inputKinds_.push_back(InputKind::LogitRows);
    else
      fail("plan '{}': unknown step input '{}', expected token_ids, positions or logit_rows",
           plan_.path(), n);
  }
}

Executor::Slot Executor::bindBuffer(const std::string &where, const fb::Buffer &b, int64_t width,
                                    fb::DType dtype, fb::Rows rows) const {
  uint64_t rowBytes = static_cast<uint64_t>(width) * dtypeSize(dtype);
  if (b.dtype() != dtype || b.row_bytes() != rowBytes || b.rows() != rows)
    fail("{}: buffer is {} x {} bytes per row of {}, expected {} x {} bytes per row of {}", where,
         fb::EnumNameRows(b.rows()), b.row_bytes(), fb::EnumNameDType(b.dtype()),
         fb::EnumNameRows(rows), rowBytes, fb::EnumNameDType(dtype));
  Slot slot;
  if (b.space() == fb::Space::StepInput) {
    // Step inputs are int32 vectors: token_ids and positions have T rows, logit_rows R.
    InputKind kind = inputKinds_.at(b.input_index());
    fb::Rows natural = kind == InputKind::LogitRows ? fb::Rows::LogitRows : fb::Rows::Tokens;
    if (dtype != fb::DType::I32 || width != 1 || rows != natural)
      fail("{}: step input '{}' cannot stand for this buffer", where,
           program_->inputs()->Get(b.input_index())->string_view());
    slot.stepInput = true;
    slot.inputIndex = b.input_index();
    return slot;
  }
  if (b.offset_per_token() % dtypeSize(dtype) != 0)
    fail("{}: arena offset {} bytes/token is not aligned to its {}-byte elements", where,
         b.offset_per_token(), dtypeSize(dtype));
  slot.offsetPerToken = b.offset_per_token();
  slot.logitRegion = rows == fb::Rows::LogitRows;
  return slot;
}

// Each bucket's params are the call's with the bucket's tunables replaced; the kernel validates
// them as it validates the call's (a bucket's tunables never change buffer shapes).
void Executor::bindBuckets(BoundCall &bound, const fb::KernelCall &call, int numWeights) {
  const reg::KernelSpec &spec = *reg::findKernel(call.kernel()->string_view());
  bound.bucketByLogitRows = spec.outputRows == reg::Rows::LogitRows;
  if (!call.buckets())
    return;
  for (const fb::TunableBucket *b : *call.buckets()) {
    ParamBucket bucket{b->min_rows(), b->max_rows(), bound.params};
    if (b->params())
      for (const fb::Param *p : *b->params())
        bucket.params.setInt(p->name()->string_view(), p->int_value());
    bound.kernel->shapes(bucket.params, numWeights);
    bound.buckets.push_back(std::move(bucket));
  }
}

const cpu::KernelParams &Executor::BoundCall::paramsFor(int64_t tokens, int64_t logitRows) const {
  int64_t rows = bucketByLogitRows ? logitRows : tokens;
  for (const ParamBucket &b : buckets)
    if (rows >= b.minRows && (b.maxRows == 0 || rows <= b.maxRows))
      return b.params;
  return params;
}

void Executor::bindCall(uint32_t index, const fb::KernelCall &call) {
  std::string where = callWhere(plan_, index, call);
  BoundCall bound;
  bound.kernel = cpu::findCpuKernel(call.kernel()->string_view());
  if (!bound.kernel)
    fail("{}: the CPU backend has no kernel '{}'", where, call.kernel()->string_view());
  bound.params = cpu::KernelParams::fromPlan(call);
  int numWeights = call.weights() ? static_cast<int>(call.weights()->size()) : 0;
  cpu::KernelShapes shapes;
  try {
    shapes = bound.kernel->shapes(bound.params, numWeights);
    bindBuckets(bound, call, numWeights);
  } catch (const llm::Error &e) {
    fail("{}: {}", where, e.what());
  }
  bound.label = StepProfile::label(
      call.kernel()->string_view(),
      bound.params.has("weight_format") ? std::string_view(bound.params.getString("weight_format"))
                                        : std::string_view(),
      StepProfile::byShape() && !shapes.weights.empty() ? shapes.weights[0]
                                                        : std::vector<int64_t>());
  // The loader checked counts against the registry; the CPU kernel's shapes must agree with it.
  if (shapes.inputWidths.size() != call.inputs()->size() ||
      shapes.weights.size() != static_cast<size_t>(numWeights))
    fail("{}: the CPU kernel expects {} inputs and {} weights, the call has {} and {}", where,
         shapes.inputWidths.size(), shapes.weights.size(), call.inputs()->size(), numWeights);
  for (uint32_t i = 0; i < call.inputs()->size(); ++i)
    bound.inputs.push_back(bindBuffer(fmt::format("{} input {}", where, i), *call.inputs()->Get(i),
                                      shapes.inputWidths[i], shapes.inputDtypes[i],
                                      shapes.inputRows[i]));
  const reg::KernelSpec &spec = *reg::findKernel(call.kernel()->string_view());
  if (shapes.outputWidths.size() != call.outputs()->size())
    fail("{}: the CPU kernel has {} outputs, the call {}", where, shapes.outputWidths.size(),
         call.outputs()->size());
  for (uint32_t o = 0; o < call.outputs()->size(); ++o)
    bound.outputs.push_back(bindBuffer(
        fmt::format("{} output {}", where, o), *call.outputs()->Get(o), shapes.outputWidths[o],
        fb::DType::F32,
        spec.outputRows == reg::Rows::LogitRows ? fb::Rows::LogitRows : fb::Rows::Tokens));
  for (int i = 0; i < numWeights; ++i) {
    uint32_t wi = call.weights()->Get(i);
    const fb::WeightEntry &w = *plan_.plan().weights()->Get(wi);
    std::vector<int64_t> have(w.shape()->begin(), w.shape()->end());
    fb::DType dtype = shapes.weightDtypes.empty() ? fb::DType::F32 : shapes.weightDtypes[i];
    if (have != shapes.weights[i] || w.dtype() != dtype)
      fail("{}: weight {} '{}' has shape [{}] of {}, expected [{}] of {}", where, i,
           w.name()->string_view(), fmt::join(have, ", "), fb::EnumNameDType(w.dtype()),
           fmt::join(shapes.weights[i], ", "), fb::EnumNameDType(dtype));
    std::string_view layout = w.layout() ? w.layout()->string_view() : std::string_view();
    if (dtype == fb::DType::F32 && layout.empty()) // a plan may leave a float layout out
      layout = llm::floattiles::kRowMajorLayout;
    std::string_view want = i < static_cast<int>(shapes.weightLayouts.size())
                                ? shapes.weightLayouts[i]
                                : (dtype == fb::DType::F32 ? llm::floattiles::kRowMajorLayout
                                                           : llm::quant::kRowBlocksLayout);
    if (layout != want)
      fail("{}: weight {} '{}' is stored {}, but the call reads it as {} (its weight_layout)", where,
           i, w.name()->string_view(), layout, want);
    // Quantized weights travel as untyped block bytes; the kernel reads them by its format.
    bound.weights.push_back(dtype == fb::DType::F32
                                ? plan_.weightF32(wi)
                                : reinterpret_cast<const float *>(plan_.weightBytes(wi)));
  }
  if (shapes.kvLayer >= 0) {
    if (shapes.kvLayer >= kv_->numLayers() || shapes.kvRowWidth != kv_->rowWidth() ||
        shapes.kvHeadDim != kv_->headDim())
      fail("{}: uses KV cache layer {} with {} kv heads x {}, but the plan's KV cache has {} "
           "layers of {} kv heads x {}",
           where, shapes.kvLayer, shapes.kvRowWidth / std::max<int64_t>(1, shapes.kvHeadDim),
           shapes.kvHeadDim, kv_->numLayers(), kv_->numKvHeads(), kv_->headDim());
    bool hasPositions = std::find(inputKinds_.begin(), inputKinds_.end(), InputKind::Positions) !=
                        inputKinds_.end();
    if (!hasPositions)
      fail("{}: attention needs the step input 'positions', which the program does not list",
           where);
  }
  if (call.kernel()->string_view() == "embedding") {
    int vocab = static_cast<int>(bound.params.getInt("vocab"));
    vocabLimit_ = vocabLimit_ == 0 ? vocab : std::min(vocabLimit_, vocab);
  }
  calls_.push_back(std::move(bound));
}

void Executor::validateStep(std::span<const int32_t> tokenIds, std::span<const int32_t> positions,
                            std::span<const int32_t> logitRows) const {
  size_t t = tokenIds.size();
  if (t == 0)
    fail("step: no tokens, expected at least one");
  if (positions.size() != t)
    fail("step: {} positions for {} tokens, expected one position per token", positions.size(), t);
  if (logitRows.size() > t)
    fail("step: {} logit rows for {} tokens, expected at most one per token", logitRows.size(), t);
  for (size_t i = 0; i < t; ++i)
    if (tokenIds[i] < 0 || tokenIds[i] >= vocabLimit_)
      fail("step: token id {} at index {} is outside the vocabulary [0, {})", tokenIds[i], i,
           vocabLimit_);
  // Positions fill the cache without gaps: each is at most one past the furthest seen so far
  // (attention would otherwise read cache rows nothing wrote).
  int filled = length_;
  for (size_t i = 0; i < t; ++i) {
    if (positions[i] < 0 || positions[i] >= maxSeqLen_)
      fail("step: position {} at index {} is outside the KV cache capacity of {} positions",
           positions[i], i, maxSeqLen_);
    if (positions[i] > filled)
      fail("step: position {} at index {} skips positions: the sequence holds {} positions, "
           "expected a position <= {}",
           positions[i], i, filled, filled);
    filled = std::max(filled, positions[i] + 1);
  }
  for (size_t r = 0; r < logitRows.size(); ++r)
    if (logitRows[r] < 0 || static_cast<size_t>(logitRows[r]) >= t)
      fail("step: logit row {} at index {} is outside the step's tokens [0, {})", logitRows[r], r,
           t);
}

void *Executor::resolve(const Slot &slot, int64_t tokens, int64_t rows) const {
  if (slot.stepInput)
    return const_cast<int32_t *>(
        stepInputs_[static_cast<int>(inputKinds_[slot.inputIndex])].data());
  if (slot.logitRegion)
    return arena_.get() + program_->arena_bytes_per_token() * tokens + slot.offsetPerToken * rows;
  return arena_.get() + slot.offsetPerToken * tokens;
}

void Executor::validateBatch(const StepBatch &b) const {
  const size_t t = b.tokenIds.size();
  if (t == 0)
    fail("step: no tokens, expected at least one");
  if (b.positions.size() != t || b.slotMapping.size() != t)
    fail("step: {} positions and {} slots for {} tokens, expected one of each per token",
         b.positions.size(), b.slotMapping.size(), t);
  if (b.queryStart.size() < 2 || b.seqLens.size() != b.queryStart.size() - 1)
    fail("step: {} query starts and {} sequence lengths, expected S + 1 and S for S >= 1 sequences",
         b.queryStart.size(), b.seqLens.size());
  const size_t numSeqs = b.seqLens.size();
  if (b.blockTableStride < 1 || b.blockTables.size() != numSeqs * b.blockTableStride)
    fail("step: {} block table entries with a stride of {}, expected {} sequences x the stride",
         b.blockTables.size(), b.blockTableStride, numSeqs);
  if (b.queryStart.front() != 0 || b.queryStart.back() != static_cast<int64_t>(t))
    fail("step: query starts run from {} to {}, expected 0 to the token count {}",
         b.queryStart.front(), b.queryStart.back(), t);
  if (b.logitRows.size() > t)
    fail("step: {} logit rows for {} tokens, expected at most one per token", b.logitRows.size(),
         t);
  for (size_t i = 0; i < t; ++i)
    if (b.tokenIds[i] < 0 || b.tokenIds[i] >= vocabLimit_)
      fail("step: token id {} at index {} is outside the vocabulary [0, {})", b.tokenIds[i], i,
           vocabLimit_);
  for (size_t s = 0; s < numSeqs; ++s)
    if (b.queryStart[s + 1] <= b.queryStart[s])
      fail("step: sequence {} has query rows [{}, {}), expected at least one token", s,
           b.queryStart[s], b.queryStart[s + 1]);
  const int64_t bs = kv_->blockSize();
  for (size_t s = 0; s < numSeqs; ++s) {
    const int32_t begin = b.queryStart[s], end = b.queryStart[s + 1], len = b.seqLens[s];
    if (len < 1 || len > maxSeqLen_ || (len + bs - 1) / bs > b.blockTableStride)
      fail("step: sequence {} has length {}, expected 1 to {} positions covered by its block table "
           "of {} blocks of {}",
           s, len, maxSeqLen_, b.blockTableStride, bs);
    const int32_t *table = b.blockTables.data() + s * b.blockTableStride;
    for (int64_t i = 0; i < (len + bs - 1) / bs; ++i)
      if (table[i] < 0 || table[i] >= kv_->numBlocks())
        fail("step: sequence {} block table entry {} is block {}, outside the KV cache's [0, {})", s,
             i, table[i], kv_->numBlocks());
    for (int32_t r = begin; r < end; ++r) {
      const int32_t pos = b.positions[r];
      if (pos < 0 || pos >= len)
        fail("step: position {} at index {} is outside its sequence's [0, {})", pos, r, len);
      if (b.slotMapping[r] != int64_t(table[pos / bs]) * bs + pos % bs)
        fail("step: slot {} at index {} is not position {}'s slot {} in its block table",
             b.slotMapping[r], r, pos, int64_t(table[pos / bs]) * bs + pos % bs);
    }
  }
  for (size_t r = 0; r < b.logitRows.size(); ++r)
    if (b.logitRows[r] < 0 || static_cast<size_t>(b.logitRows[r]) >= t)
      fail("step: logit row {} at index {} is outside the step's tokens [0, {})", b.logitRows[r],
           r, t);
}

void Executor::growArena(int64_t tokens, int64_t rows) {
  size_t tokenBytes, rowBytes, need;
  if (__builtin_mul_overflow(program_->arena_bytes_per_token(), uint64_t(tokens), &tokenBytes) ||
      __builtin_mul_overflow(program_->arena_bytes_per_logit_row(), uint64_t(rows), &rowBytes) ||
      __builtin_add_overflow(tokenBytes, rowBytes, &need))
    fail("step: an arena of {} bytes/token for {} tokens and {} bytes/logit row for {} rows "
         "overflows",
         program_->arena_bytes_per_token(), tokens, program_->arena_bytes_per_logit_row(), rows);
  if (need <= arenaCapacity_)
    return;
  size_t cap = std::max(need, arenaCapacity_ * 2);
  cap = (cap + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment;
  arena_.reset(static_cast<uint8_t *>(std::aligned_alloc(kArenaAlignment, cap)));
  if (!arena_) {
    arenaCapacity_ = 0;
    fail("step: cannot allocate an activation arena of {} bytes for {} tokens", cap, tokens);
  }
  arenaCapacity_ = cap;
}

std::vector<float> Executor::step(const StepBatch &batch) {
  validateBatch(batch);
  int64_t tokens = static_cast<int64_t>(batch.tokenIds.size());
  int64_t rows = static_cast<int64_t>(batch.logitRows.size());
  growArena(tokens, rows);
  stepInputs_[static_cast<int>(InputKind::TokenIds)] = batch.tokenIds;
  stepInputs_[static_cast<int>(InputKind::Positions)] = batch.positions;
  stepInputs_[static_cast<int>(InputKind::LogitRows)] = batch.logitRows;
  const cpu::AttentionBatch attention{static_cast<int64_t>(batch.seqLens.size()),
                                      batch.queryStart.data(), batch.blockTables.data(),
                                      batch.blockTableStride, batch.slotMapping.data()};
  const auto phase = tokens == static_cast<int64_t>(batch.seqLens.size())
                         ? StepProfile::Phase::Decode
                         : StepProfile::Phase::Prefill;
  const auto stepStart = StepProfile::Clock::now();
  for (size_t c = 0; c < calls_.size(); ++c) {
    const BoundCall &call = calls_[c];
    inputPtrs_.clear();
    for (const Slot &s : call.inputs)
      inputPtrs_.push_back(resolve(s, tokens, rows));
    outputPtrs_.clear();
    for (const Slot &s : call.outputs)
      outputPtrs_.push_back(resolve(s, tokens, rows));
    cpu::KernelArgs args{call.paramsFor(tokens, rows),
                         inputPtrs_.data(),
                         call.weights.data(),
                         outputPtrs_[0],
                         outputPtrs_.data(),
                         tokens,
                         rows,
                         batch.positions.data(),
                         kv_.get(),
                         &attention};
    if (!profile_) {
      call.kernel->run(args);
      continue;
    }
    const auto start = StepProfile::Clock::now();
    call.kernel->run(args);
    profile_->addCall(phase, c, StepProfile::Clock::now() - start);
  }
  if (profile_)
    profile_->addStep(phase, tokens, StepProfile::Clock::now() - stepStart);
  const float *logits = static_cast<const float *>(resolve(output_, tokens, rows));
  return std::vector<float>(logits, logits + rows * vocabSize_);
}

void Executor::copyBlocks(std::span<const BlockCopy> copies) {
  for (const BlockCopy &c : copies)
    if (c.src < 0 || c.src >= kv_->numBlocks() || c.dst < 0 || c.dst >= kv_->numBlocks())
      fail("block copy {} -> {} names a block outside the KV cache's [0, {})", c.src, c.dst,
           kv_->numBlocks());
  for (const BlockCopy &c : copies)
    kv_->copyBlock(c.src, c.dst);
}

std::vector<float> Executor::forward(std::span<const int32_t> tokenIds,
                                     std::span<const int32_t> positions,
                                     std::span<const int32_t> logitRows) {
  if (paged_)
    fail("step: forward() runs one sequence, but this executor has a paged KV cache of {} blocks; "
         "use step()",
         kv_->numBlocks());
  validateStep(tokenIds, positions, logitRows);
  // One sequence in one block: a position is its own slot.
  int32_t length = length_;
  slots_.resize(positions.size());
  for (size_t i = 0; i < positions.size(); ++i) {
    slots_[i] = positions[i];
    length = std::max(length, positions[i] + 1);
  }
  const int32_t queryStart[2] = {0, static_cast<int32_t>(tokenIds.size())};
  const int32_t seqLen[1] = {length}, table[1] = {0};
  std::vector<float> logits =
      step({tokenIds, positions, slots_, queryStart, seqLen, table, 1, logitRows});
  length_ = length;
  return logits;
}

void Executor::reset() { length_ = 0; }

} // namespace llmrt
