// Parameter checks shared by the CPU kernel families' shapes() functions.
#pragma once

#include "backends/cpu/CpuKernels.h"
#include "support/Error.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace llmrt::cpu {

// Sizes are capped so that products of two of them, in bytes, cannot overflow int64.
inline constexpr int64_t kMaxSize = int64_t{1} << 24;

// An integer parameter in [1, kMaxSize]; llm::Error naming it otherwise.
inline int64_t positiveInt(const KernelParams &p, std::string_view name) {
  int64_t v = p.getInt(name);
  if (v <= 0 || v > kMaxSize)
    llm::fail("parameter '{}' is {}, expected a positive integer up to {}", name, v, kMaxSize);
  return v;
}

// A linear's has_bias (0 or 1), checked against the number of weights the call passes (the
// matrix, then the bias when there is one).
inline int64_t linearBias(const KernelParams &p, int numWeights) {
  int64_t hasBias = p.getInt("has_bias");
  if (hasBias != 0 && hasBias != 1)
    llm::fail("parameter 'has_bias' is {}, expected 0 or 1", hasBias);
  if (numWeights != 1 + hasBias)
    llm::fail("has_bias is {} but the call passes {} weights, expected {}", hasBias, numWeights,
              1 + hasBias);
  return hasBias;
}

// A linear's glu epilogue activation ("epilogue": glu_silu, glu_gelu, glu_gelu_tanh), or nullopt
// for a plain linear ("none" or absent).
inline std::optional<Activation> linearEpilogue(const KernelParams &p) {
  if (!p.has("epilogue") || p.getString("epilogue") == "none")
    return std::nullopt;
  const std::string &e = p.getString("epilogue");
  if (e == "glu_silu")
    return Activation::Silu;
  if (e == "glu_gelu")
    return Activation::Gelu;
  if (e == "glu_gelu_tanh")
    return Activation::GeluTanh;
  llm::fail("parameter 'epilogue' is '{}', expected none, glu_silu, glu_gelu or glu_gelu_tanh", e);
}

} // namespace llmrt::cpu
