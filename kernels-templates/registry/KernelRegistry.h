// The kernel registry: the one list of kernel names and their parameter schemas.
//
// The compiler's select-kernels pass only emits calls to kernels listed here, with parameters that
// validate against the schema; every runtime backend implements kernels by these names and checks
// each call of a plan against the same schema when it loads the plan. Adding a kernel means adding
// an entry here, a lowering in the compiler and an implementation in each backend.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace llm::registry {

enum class ParamType { Int, Float, String, FloatArray };

struct ParamSpec {
  std::string_view name;
  ParamType type;
  bool required;
  std::string_view doc;
};

// Row count of an activation buffer: every activation is a matrix whose row count is either the
// step's token count or the number of rows whose logits are wanted.
enum class Rows { Tokens, LogitRows };

struct KernelSpec {
  std::string_view name;
  std::string_view summary;
  std::span<const ParamSpec> params;
  int numInputs;       // activation inputs, in order
  int minWeights;      // weight references, in order
  int maxWeights;
  Rows outputRows;     // row count of the single output
};

std::span<const KernelSpec> allKernels();
const KernelSpec *findKernel(std::string_view name);
std::string_view paramTypeName(ParamType t);

// Names of the step inputs that a program reads (Int32 vectors), in the order the plan lists them.
inline constexpr std::string_view kInputTokenIds = "token_ids";
inline constexpr std::string_view kInputPositions = "positions";
inline constexpr std::string_view kInputLogitRows = "logit_rows";

} // namespace llm::registry
