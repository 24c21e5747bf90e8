// The `quantization_config` of a Hugging Face config.json for the pre-quantized checkpoints llmc
// keeps as they are: GPTQ (v1 packing) and AWQ (GEMM packing), 4-bit, groups of 32, 64 or 128.
//
// Their quantized linears store `qweight`, `qzeros`, `scales` (and GPTQ's `g_idx`) in place of
// `weight`; PackedInt4.h repacks them into llmc's w4g{G}a rows. Everything else (norms, embeddings,
// modules_to_not_convert, an unquantized lm_head) stays float, as the checkpoint has it.
// NOTE: every field is read or known to be informational; a value that changes the computation
// and that llmc does not implement (another method, bits, group size, packing, act-order grouping)
// is refused with a message naming the field and the supported values.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace llmc {

struct QuantizationConfig {
  enum class Method { GPTQ, AWQ };
  Method method = Method::GPTQ;
  int64_t bits = 4;
  int64_t groupSize = 128;  // 32, 64 or 128
  bool symmetric = false;   // GPTQ `sym`: informational (the zeros are stored either way)
  bool descAct = false;     // GPTQ: allowed only when every g_idx is the identity grouping
  std::vector<std::string> modulesToNotConvert; // informational: those modules store `weight`
};

// "gptq" or "awq".
const char *methodName(QuantizationConfig::Method m);

// Throws llm::Error naming `source` (the config file) and the offending field.
QuantizationConfig parseQuantizationConfig(const nlohmann::json &config, const std::string &source);

} // namespace llmc
