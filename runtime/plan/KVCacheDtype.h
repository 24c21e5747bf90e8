// The KV cache's element type: what llmc writes into KVCacheSpec.dtype (--kv-cache-dtype) and
// what llmrt may override at run time (--kv-cache-dtype auto|f32|bf16|fp8_e4m3, auto = the
// plan's), as vLLM's --kv-cache-dtype does. Shared by the compiler and the runtime, so both
// accept the same spellings.
//
// NOTE: the plan names the dtype with the weight DType enum (F32, BF16, FP8_E4M3); any other
// value in KVCacheSpec.dtype is refused by the runtime with a message naming it.
#pragma once

#include "plan_generated.h"
#include "support/Error.h"

#include <optional>
#include <string>
#include <string_view>

namespace llmrt {

enum class KVCacheDtype : uint8_t { F32, BF16, Fp8E4M3 };

// The spelling users type (and the log prints): f32, bf16, fp8_e4m3.
inline std::string_view kvCacheDtypeName(KVCacheDtype d) {
  switch (d) {
  case KVCacheDtype::F32:
    return "f32";
  case KVCacheDtype::BF16:
    return "bf16";
  case KVCacheDtype::Fp8E4M3:
    return "fp8_e4m3";
  }
  return "?";
}

// "f32" | "float32" | "bf16" | "bfloat16" | "fp8" | "fp8_e4m3"; fp8 means e4m3, as in vLLM.
// Throws llm::Error naming the accepted spellings.
inline KVCacheDtype parseKVCacheDtype(std::string_view s) {
  if (s == "f32" || s == "float32")
    return KVCacheDtype::F32;
  if (s == "bf16" || s == "bfloat16")
    return KVCacheDtype::BF16;
  if (s == "fp8" || s == "fp8_e4m3")
    return KVCacheDtype::Fp8E4M3;
  llm::fail("KV cache dtype '{}' is not known, expected f32, bf16 or fp8_e4m3 (fp8)", s);
}

// The run-time option: "auto" (nullopt: the plan's dtype) or a dtype as above.
inline std::optional<KVCacheDtype> parseKVCacheDtypeOption(std::string_view s) {
  if (s == "auto")
    return std::nullopt;
  if (s == "f32" || s == "float32" || s == "bf16" || s == "bfloat16" || s == "fp8" ||
      s == "fp8_e4m3")
    return parseKVCacheDtype(s);
  llm::fail("--kv-cache-dtype '{}' is not known, expected auto (the plan's), f32, bf16 or "
            "fp8_e4m3 (fp8)",
            s);
}

inline fb::DType planDType(KVCacheDtype d) {
  switch (d) {
  case KVCacheDtype::F32:
    return fb::DType::F32;
  case KVCacheDtype::BF16:
    return fb::DType::BF16;
  case KVCacheDtype::Fp8E4M3:
    return fb::DType::FP8_E4M3;
  }
  return fb::DType::F32;
}

// The plan's KVCacheSpec.dtype as a KV cache dtype. Throws llm::Error for any other DType
// (`where` names the plan).
inline KVCacheDtype kvCacheDtypeOf(fb::DType d, std::string_view where) {
  switch (d) {
  case fb::DType::F32:
    return KVCacheDtype::F32;
  case fb::DType::BF16:
    return KVCacheDtype::BF16;
  case fb::DType::FP8_E4M3:
    return KVCacheDtype::Fp8E4M3;
  default:
    break;
  }
  const char *name = fb::EnumNameDType(d);
  llm::fail("{}: KV cache dtype {} is not supported by the CPU backend, expected F32, BF16 or "
            "FP8_E4M3 (llmrt --kv-cache-dtype f32|bf16|fp8_e4m3 overrides the plan's)",
            where, name && *name ? std::string(name) : std::to_string(static_cast<int>(d)));
}

} // namespace llmrt
