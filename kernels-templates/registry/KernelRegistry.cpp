#include "registry/KernelRegistry.h"

#include <array>

namespace llm::registry {
namespace {

using P = ParamSpec;
using T = ParamType;

constexpr std::array kEmbedding{
    P{"hidden", T::Int, true, "row width of the table"},
    P{"vocab", T::Int, true, "rows of the table; ids outside [0, vocab) are an error"},
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
    P{"out_features", T::Int, true, "N: row width of the output; the weight is N x K row-major"},
    P{"has_bias", T::Int, true, "1 when a bias of N elements is the second weight"},
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
};

constexpr std::array kKernels{
    KernelSpec{"embedding", "gather rows of the embedding table by token id", kEmbedding, 1, 1, 1,
               Rows::Tokens},
    KernelSpec{"rms_norm", "x / sqrt(mean(x^2) + eps) * weight", kRmsNorm, 1, 1, 1, Rows::Tokens},
    KernelSpec{"layer_norm", "(x - mean) / sqrt(var + eps) * weight + bias", kLayerNorm, 1, 2, 2,
               Rows::Tokens},
    KernelSpec{"linear", "x W^T (+ b)", kLinear, 1, 1, 2, Rows::Tokens},
    KernelSpec{"rope", "rotary position embedding (rotate-half form) by the step's positions",
               kRope, 2, 0, 0, Rows::Tokens},
    KernelSpec{"attention",
               "append k, v to the layer's KV cache, then causal grouped-query attention", kAttention,
               3, 0, 0, Rows::Tokens},
    KernelSpec{"gated_act", "act(gate) * up", kGatedAct, 2, 0, 0, Rows::Tokens},
    KernelSpec{"add", "a + b", kElementwise, 2, 0, 0, Rows::Tokens},
    KernelSpec{"mul", "a * b", kElementwise, 2, 0, 0, Rows::Tokens},
    KernelSpec{"logits", "gather the requested rows, then x W^T to vocabulary logits", kLogits, 2, 1,
               1, Rows::LogitRows},
};

} // namespace

std::span<const KernelSpec> allKernels() { return kKernels; }

const KernelSpec *findKernel(std::string_view name) {
  for (const KernelSpec &k : kKernels)
    if (k.name == name)
      return &k;
  return nullptr;
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
