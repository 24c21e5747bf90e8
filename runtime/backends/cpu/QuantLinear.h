// Linear, logits and embedding over quantized weights (the registry's `weight_format` parameter:
// q8_0, q4_0, q4_1, w8, q4_k, q5_k, q6_k, w4g32 .. w4g128a, fp8; absent or f32: the float kernels
// of CpuKernels.cpp).
//
// Decode and prefill share one schedule: activation rows are quantized to int8 blocks once per
// call (QuantDot.h), then each thread takes groups of four weight rows and walks every activation
// row against them, so the weight rows stay in cache while T grows (GEMV at T = 1, GEMM tiles of
// 4 x T above). fp8 weights skip the activation quantization: their dot products run on the
// float activation rows (QuantDot.h). A row's results do not depend on T, the thread count or the
// ISA path.
#pragma once

#include "backends/cpu/CpuKernels.h"
#include "backends/cpu/QuantDot.h"

#include <optional>

namespace llmrt::cpu {

// The call's weight format: nullopt for f32 (parameter absent or "f32"); llm::Error for an
// unknown name.
std::optional<llm::quant::Scheme> weightFormat(const KernelParams &params);

// The call's weight layout (parameter `weight_layout`; absent: row_blocks); llm::Error for an
// unknown name or a layout the format does not have.
llm::quant::Layout weightLayout(const KernelParams &params, llm::quant::Scheme scheme);

// The kernel entry points CpuKernels.cpp delegates to when weightFormat() is set. NOTE: the
// delegating kernels have checked the call's token ids (embedding) and logit rows (logits).
KernelShapes quantLinearShapes(const KernelParams &p, int numWeights);
void quantLinearRun(const KernelArgs &a);
KernelShapes quantLogitsShapes(const KernelParams &p, int numWeights);
void quantLogitsRun(const KernelArgs &a);
KernelShapes quantEmbeddingShapes(const KernelParams &p, int numWeights);
void quantEmbeddingRun(const KernelArgs &a);

// out[r, n] = x[rowIdx ? rowIdx[r] : r] . W[n] (+ bias[n]) with W an n x k matrix of `scheme`
// blocks (k a multiple of blockElems(scheme)). With `glu`, W is [Wg; Wu] (2n rows) and out[r, j] =
// act(x.Wg[j] + bg[j]) * (x.Wu[j] + bu[j]). `isa` picks the dot path (tests); by default the
// process's best. `layout`: W's layout (rows8_blocks: n a multiple of 8; q8_0, q4_0, q4_1, q5_0,
// q5_1 or w4g*); either layout gives the same bits.
void quantMatmul(llm::quant::Scheme scheme, const float *x, int64_t ldx, const int32_t *rowIdx,
                 int64_t rows, const uint8_t *w, int64_t n, int64_t k, const float *bias,
                 float *out, std::optional<Activation> glu = std::nullopt, Isa isa = bestIsa(),
                 llm::quant::Layout layout = llm::quant::Layout::RowBlocks);

} // namespace llmrt::cpu
