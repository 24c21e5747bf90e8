#include "registry/KernelRegistry.h"

#include <array>

namespace llm::registry {
namespace {

using P = ParamSpec;
using T = ParamType;

constexpr std::array kEmbedding{
    P{"hidden", T::Int, true, "row width of the table"},
    P{"vocab", T::Int, true, "rows of the table; ids outside [0, vocab) are an error"},
    P{"weight_format", T::String, false,
      "f32 (default) | q8_0 | q4_0 | q4_1 | q5_0 | q5_1 | w8 | q4_k | q5_k | q6_k | w4g32 .. "
      "w4g128a | fp8: the weight's storage (llm::quant blocks)"},
    P{"weight_layout", T::String, false,
      "row_blocks (default) | rows8_blocks (q8_0, q4_0, q4_1, q5_0, q5_1, w4g32 .. w4g128a; rows "
      "a multiple of 8): the quantized weight's layout, as its plan entry says (llm::quant tiles)"},
};
constexpr std::array kRmsNorm{
    P{"hidden", T::Int, true, "row width"},
    P{"eps", T::Float, true, "added to the mean square"},
};
constexpr std::array kLayerNorm{
    P{"hidden", T::Int, true, "row width"},
    P{"eps", T::Float, true, "added to the variance"},
};
constexpr std::array kLinear{
    P{"in_features", T::Int, true, "K: row width of the input"},
    P{"out_features", T::Int, true,
      "N: row width of the output; the weight is N x K row-major (2N x K with a glu epilogue)"},
    P{"has_bias", T::Int, true, "1 when a bias (N, or 2N with a glu epilogue) is the second weight"},
    P{"epilogue", T::String, false,
      "none | glu_silu | glu_gelu | glu_gelu_tanh: act(x Wg^T) * (x Wu^T), W = [Wg; Wu]"},
    P{"weight_format", T::String, false,
      "f32 (default) | q8_0 | q4_0 | q4_1 | q5_0 | q5_1 | w8 | q4_k | q5_k | q6_k | w4g32 .. "
      "w4g128a | fp8: the weight's storage (llm::quant blocks)"},
    P{"weight_layout", T::String, false,
      "row_blocks (default) | rows8_blocks (q8_0, q4_0, q4_1, q5_0, q5_1, w4g32 .. w4g128a; rows "
      "a multiple of 8): the quantized weight's layout, as its plan entry says (llm::quant tiles)"},
};
constexpr std::array kGlu{
    P{"width", T::Int, true, "N: the output width; the input is 2N wide, gate then up"},
    P{"act", T::String, true, "silu | gelu | gelu_tanh"},
};
constexpr std::array kAddRmsNorm{
    P{"hidden", T::Int, true, "row width"},
    P{"eps", T::Float, true, "added to the mean square"},
};
constexpr std::array kRope{
    P{"num_heads", T::Int, true, "heads in the row (query or key heads)"},
    P{"head_dim", T::Int, true, "elements per head"},
    P{"inv_freq", T::FloatArray, true,
      "rotary_dim/2 inverse frequencies, scaling already applied by the compiler"},
    P{"attention_factor", T::Float, false, "multiplies cos and sin (1 unless the scaling says)"},
};
constexpr std::array kAttention{
    P{"layer", T::Int, true, "KV cache layer this call reads and appends to"},
    P{"num_heads", T::Int, true, "query heads"},
    P{"num_kv_heads", T::Int, true, "key/value heads; num_heads is a multiple of it"},
    P{"head_dim", T::Int, true, "elements per head"},
    P{"scale", T::Float, true, "multiplies q.k before the softmax"},
    P{"sliding_window", T::Int, true, "0: full causal; w > 0: query i sees keys j with i - j < w"},
    P{"inv_freq", T::FloatArray, false,
      "rope prologue: rotate q and k (as the rope kernel does) before the cache write"},
    P{"attention_factor", T::Float, false, "rope prologue: multiplies cos and sin"},
};
constexpr std::array kGatedAct{
    P{"width", T::Int, true, "row width of gate, up and the output"},
    P{"act", T::String, true, "silu | gelu | gelu_tanh, applied to gate, times up"},
};
constexpr std::array kElementwise{
    P{"width", T::Int, true, "row width"},
};
constexpr std::array kLogits{
    P{"hidden", T::Int, true, "row width of the input"},
    P{"vocab", T::Int, true, "rows of the output projection"},
    P{"weight_format", T::String, false,
      "f32 (default) | q8_0 | q4_0 | q4_1 | q5_0 | q5_1 | w8 | q4_k | q5_k | q6_k | w4g32 .. "
      "w4g128a | fp8: the weight's storage (llm::quant blocks)"},
    P{"weight_layout", T::String, false,
      "row_blocks (default) | rows8_blocks (q8_0, q4_0, q4_1, q5_0, q5_1, w4g32 .. w4g128a; rows "
      "a multiple of 8): the quantized weight's layout, as its plan entry says (llm::quant tiles)"},
};

// Tunables. CPU GEMMs: a thread task covers block_cols output features and walks the rows in
// passes of block_rows (register tiles are fixed at 3 x 4, so every choice computes every dot
// product in the same order). CUDA GEMMs and attention: the tile shapes of the templates.
constexpr std::array<int64_t, 4> kCpuBlockCols{8, 16, 32, 64};
constexpr std::array<int64_t, 5> kCpuBlockRows{3, 6, 12, 24, 48};
constexpr std::array kCpuGemm{
    TunableSpec{"block_cols", 16, kCpuBlockCols, "output features per thread task"},
    TunableSpec{"block_rows", 24, kCpuBlockRows, "input rows per pass over a feature block"},
};
constexpr std::array<int64_t, 4> kTile16to128{16, 32, 64, 128};
constexpr std::array<int64_t, 3> kTile32to128{32, 64, 128};
constexpr std::array<int64_t, 2> kTile32to64{32, 64};
constexpr std::array<int64_t, 2> kWarps{4, 8};
constexpr std::array<int64_t, 3> kStages{2, 3, 4};
constexpr std::array kCudaGemm{
    TunableSpec{"block_m", 64, kTile16to128, "rows per thread block"},
    TunableSpec{"block_n", 64, kTile32to128, "output features per thread block"},
    TunableSpec{"block_k", 32, kTile32to64, "reduction slice per pipeline stage"},
    TunableSpec{"num_warps", 4, kWarps, "warps per thread block"},
    TunableSpec{"num_stages", 3, kStages, "software pipeline depth"},
};
constexpr std::array<int64_t, 3> kKvBlock{16, 32, 64};
constexpr std::array kCudaAttention{
    TunableSpec{"block_kv", 32, kKvBlock, "keys per inner tile"},
    TunableSpec{"num_warps", 4, kWarps, "warps per thread block"},
};
constexpr std::array<std::string_view, 2> kLinearShape{"in_features", "out_features"};
constexpr std::array<std::string_view, 2> kLogitsShape{"hidden", "vocab"};
constexpr std::array<std::string_view, 3> kAttentionShape{"num_heads", "num_kv_heads", "head_dim"};

constexpr std::array kKernels{
    KernelSpec{"embedding", "gather rows of the embedding table by token id", kEmbedding, 1, 1, 1,
               Rows::Tokens},
    KernelSpec{"rms_norm", "x / sqrt(mean(x^2) + eps) * weight", kRmsNorm, 1, 1, 1, Rows::Tokens,
               1, true},
    KernelSpec{"layer_norm", "(x - mean) / sqrt(var + eps) * weight + bias", kLayerNorm, 1, 2, 2,
               Rows::Tokens, 1, true},
    KernelSpec{"linear", "x W^T (+ b), optionally with a glu epilogue", kLinear, 1, 1, 2,
               Rows::Tokens, 1, false, kCpuGemm, kCudaGemm, kLinearShape},
    KernelSpec{"rope", "rotary position embedding (rotate-half form) by the step's positions",
               kRope, 2, 0, 0, Rows::Tokens, 1, true},
    KernelSpec{"attention",
               "(rope q and k,) append k, v to the layer's KV cache, then causal grouped-query "
               "attention",
               kAttention, 3, 0, 0, Rows::Tokens, 1, false, {}, kCudaAttention, kAttentionShape},
    KernelSpec{"attention_qkv",
               "attention over one packed input row [q | k | v] (rope prologue optional)",
               kAttention, 1, 0, 0, Rows::Tokens, 1, false, {}, kCudaAttention, kAttentionShape},
    KernelSpec{"gated_act", "act(gate) * up", kGatedAct, 2, 0, 0, Rows::Tokens, 1, true},
    KernelSpec{"glu", "act(x[:, :N]) * x[:, N:] over one packed [gate | up] input", kGlu, 1, 0, 0,
               Rows::Tokens},
    KernelSpec{"add", "a + b", kElementwise, 2, 0, 0, Rows::Tokens, 1, true},
    KernelSpec{"mul", "a * b", kElementwise, 2, 0, 0, Rows::Tokens, 1, true},
    KernelSpec{"add_rms_norm", "s = a + b; outputs s and rms_norm(s) * weight", kAddRmsNorm, 2, 1,
               1, Rows::Tokens, 2, true},
    KernelSpec{"logits", "gather the requested rows, then x W^T to vocabulary logits", kLogits, 2, 1,
               1, Rows::LogitRows, 1, false, kCpuGemm, kCudaGemm, kLogitsShape},
};

constexpr std::array kTargets{
    TargetInfo{"cpu", TargetFamily::Cpu, "any x86-64 with AVX2; the runtime picks its ISA paths"},
    TargetInfo{"cpu-avx2", TargetFamily::Cpu, "x86-64 with AVX2 and FMA"},
    TargetInfo{"cpu-avx512", TargetFamily::Cpu, "x86-64 with AVX-512 (F, BW, VL, DQ)"},
    TargetInfo{"cuda-sm80", TargetFamily::Cuda, "NVIDIA Ampere (A100) and newer"},
    TargetInfo{"cuda-sm90", TargetFamily::Cuda, "NVIDIA Hopper (H100, H200)"},
};

} // namespace

std::span<const KernelSpec> allKernels() { return kKernels; }

const KernelSpec *findKernel(std::string_view name) {
  for (const KernelSpec &k : kKernels)
    if (k.name == name)
      return &k;
  return nullptr;
}

std::span<const TargetInfo> allTargets() { return kTargets; }

const TargetInfo *findTarget(std::string_view name) {
  for (const TargetInfo &t : kTargets)
    if (t.name == name)
      return &t;
  return nullptr;
}

std::span<const TunableSpec> tunables(const KernelSpec &kernel, TargetFamily family) {
  return family == TargetFamily::Cpu ? kernel.cpuTunables : kernel.cudaTunables;
}

const TunableSpec *findTunable(const KernelSpec &kernel, TargetFamily family,
                               std::string_view name) {
  for (const TunableSpec &t : tunables(kernel, family))
    if (t.name == name)
      return &t;
  return nullptr;
}

std::string targetNames() {
  std::string out;
  for (const TargetInfo &t : kTargets)
    out += (out.empty() ? "" : ", ") + std::string(t.name);
  return out;
}

std::string_view paramTypeName(ParamType t) {
  switch (t) {
  case ParamType::Int: return "int";
  case ParamType::Float: return "float";
  case ParamType::String: return "string";
  case ParamType::FloatArray: return "float array";
  }
  return "?";
}

} // namespace llm::registry
