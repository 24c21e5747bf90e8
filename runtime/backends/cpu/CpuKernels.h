// The CPU backend: one implementation per kernel registry name.
//
// A kernel sees its decoded parameters, pointers to its activation inputs, weights and output, the
// step's token count T and logit-row count R, the step's positions, the paged KV cache and where
// the step's sequences are in it. Rows of every
// activation are contiguous with the width the kernel's shapes() function states; the executor
// checks the plan's buffers against those widths once, when it binds the plan.
//
// Invariants every kernel keeps:
//  - batch invariance: a row's result depends only on that row's inputs (and its own sequence's
//    KV rows), never on T, R, the other sequences or the thread count: each dot product and
//    reduction has one fixed order;
//  - in place is allowed where an output row is computed only from the same row of the inputs
//    (norms, rope, elementwise, gated_act, attention); linear, embedding and logits need distinct
//    output buffers;
//  - no allocation per call beyond thread-local scratch that only grows.
#pragma once

#include "backends/cpu/Isa.h"
#include "plan/FloatTiles.h"
#include "plan_generated.h"
#include "registry/KernelRegistry.h"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace llmrt {
class PagedKVCache;
}

namespace llmrt::cpu {

// A kernel call's parameters, decoded once from the plan (or set directly by tests).
class KernelParams {
public:
  static KernelParams fromPlan(const fb::KernelCall &call);

  KernelParams &setInt(std::string_view name, int64_t v);
  KernelParams &setFloat(std::string_view name, double v);
  KernelParams &setString(std::string_view name, std::string v);
  KernelParams &setFloatArray(std::string_view name, std::vector<float> v);

  bool has(std::string_view name) const { return find(name) != nullptr; }
  // Getters throw llm::Error when the parameter is absent or of another kind.
  int64_t getInt(std::string_view name) const;
  double getFloat(std::string_view name) const;
  double getFloat(std::string_view name, double fallback) const;
  const std::string &getString(std::string_view name) const;
  std::span<const float> getFloatArray(std::string_view name) const;

private:
  struct Value {
    std::string name;
    llm::registry::ParamType type;
    int64_t i = 0;
    double f = 0;
    std::string s;
    std::vector<float> array;
  };
  Value &slot(std::string_view name, llm::registry::ParamType type);
  const Value *find(std::string_view name) const;
  const Value &get(std::string_view name, llm::registry::ParamType type) const;
  std::vector<Value> values_;
};

// What a kernel expects of its buffers and weights, derived from its parameters.
struct KernelShapes {
  std::vector<int64_t> inputWidths; // elements per row, one per input
  std::vector<fb::DType> inputDtypes;
  std::vector<fb::Rows> inputRows;
  std::vector<int64_t> outputWidths;         // F32 elements per row, one per output
  std::vector<std::vector<int64_t>> weights; // expected shape of each weight
  std::vector<fb::DType> weightDtypes;       // dtype of each weight; empty: all F32
  // Plan layout of each weight (WeightEntry.layout); empty: row_major for F32, row_blocks for
  // quantized dtypes.
  std::vector<std::string_view> weightLayouts;
  int kvLayer = -1;                          // attention: the KV cache layer it uses
  int64_t kvRowWidth = 0;                    // attention: num_kv_heads * head_dim
  int64_t kvHeadDim = 0;
};

// Where a step's tokens sit in the paged KV cache, for attention kernels. The step's tokens are
// grouped by sequence: sequence s owns rows [queryStart[s], queryStart[s + 1]) of the step, and its
// block table (blockTableStride entries at blockTables + s * blockTableStride) maps position p to
// slot table[p / block_size] * block_size + p % block_size. Token t's K and V rows are written at
// slotMapping[t]; then the token at position p attends over positions [lo, p] of its own sequence.
// NOTE: the caller (the executor) guarantees that every block id in the tables is a block of the
// cache, that each table covers its tokens' positions, and that every position a token reads was
// written in an earlier step or in this one.
struct AttentionBatch {
  int64_t numSeqs = 0;
  const int32_t *queryStart = nullptr;  // numSeqs + 1 entries: 0, ..., T
  const int32_t *blockTables = nullptr; // numSeqs x blockTableStride block ids
  int64_t blockTableStride = 0;
  const int64_t *slotMapping = nullptr; // T entries
};

struct KernelArgs {
  const KernelParams &params;
  const void *const *inputs;   // registry order; float rows or int32 vectors
  const float *const *weights; // registry order
  void *output;              // outputs[0]
  void *const *outputs;      // registry order (add_rms_norm has two)
  int64_t tokens;           // T
  int64_t logitRows;        // R
  const int32_t *positions; // T entries: the step's positions
  PagedKVCache *kvCache;    // the KV cache (attention)
  // Attention: the step's sequences. Null: one sequence in a cache of one block (a KVCache), where
  // a position is its own slot.
  const AttentionBatch *batch = nullptr;
};

// A registry kernel's CPU implementation: `run` executes a call; `shapes` validates the parameters
// (llm::Error naming the bad one) and states what the buffers and weights must look like, given
// how many weights the call passes.
struct CpuKernelFn {
  std::string_view name;
  void (*run)(const KernelArgs &args);
  KernelShapes (*shapes)(const KernelParams &params, int numWeights);
};

const CpuKernelFn *findCpuKernel(std::string_view name);
std::span<const CpuKernelFn> allCpuKernels();

// The CPU GEMMs' tunables (registry: block_cols, block_rows); any choice gives the same bits.
struct GemmBlocks {
  int64_t cols = 16;
  int64_t rows = 24;
};

enum class Activation { Silu, Gelu, GeluTanh };

// The plan layout of a float weight matrix: row_major, or rows8 (plan/FloatTiles.h: groups of 8
// rows interleaved by 8 columns; rows and columns multiples of 8). Both give the same bits.
enum class FloatLayout : uint8_t { RowMajor, Rows8 };

// The call's float weight layout (parameter `weight_layout`; absent: row_major) for a matrix of
// `rows` x `cols`; llm::Error for an unknown name, or rows8 on a shape that is not whole tiles.
FloatLayout floatLayout(const KernelParams &params, int64_t rows, int64_t cols);
inline std::string_view floatLayoutName(FloatLayout l) {
  return l == FloatLayout::Rows8 ? llm::floattiles::kRows8Layout
                                 : llm::floattiles::kRowMajorLayout;
}

// out[r, n] = x[rowIdx ? rowIdx[r] : r] . W[n] (+ bias[n]) for r < rows, n < N; W is N x K in
// `layout`, x rows have stride ldx, on the float path `isa` (Isa.h; every path, layout and block
// size gives the same bits). Exposed for tests and benchmarks; linear and logits use it.
void matmulTransposedB(const float *x, int64_t ldx, const int32_t *rowIdx, int64_t rows,
                       const float *w, int64_t n, int64_t k, const float *bias, float *out,
                       GemmBlocks blocks = {}, FloatLayout layout = FloatLayout::RowMajor,
                       FloatIsa isa = bestFloatIsa());

// out[r, j] = act(x[r] . W[j] + b[j]) * (x[r] . W[n + j] + b[n + j]) for j < n: a linear over the
// stacked [Wg; Wu] (2n x k, in `layout`) with a glu epilogue, bit-identical to linear followed by
// glu.
void matmulGlu(const float *x, int64_t rows, const float *w, int64_t n, int64_t k,
               const float *bias, Activation act, float *out, GemmBlocks blocks = {},
               FloatLayout layout = FloatLayout::RowMajor, FloatIsa isa = bestFloatIsa());

// y[j] = act(g[j]) * u[j] for j < n.
void applyGlu(Activation act, const float *g, const float *u, float *y, int64_t n);

} // namespace llmrt::cpu
