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

// Targets come in families; a family's backend implements every kernel of the registry, and its
// variants differ by tunable parameters (tile sizes, ...), not by name.
enum class TargetFamily { Cpu, Cuda };

struct TargetInfo {
  std::string_view name; // the module's llm.target and the plan's target
  TargetFamily family;
  std::string_view doc;
};

// A parameter the kernel-selection pass chooses per target family: from the tuning database when
// it has an entry for the call's shape, else `defaultValue`. Every value in `choices` must give the
// same results (tunables change speed, never numerics).
struct TunableSpec {
  std::string_view name;
  int64_t defaultValue;
  std::span<const int64_t> choices;
  std::string_view doc;
};

struct KernelSpec {
  std::string_view name;
  std::string_view summary;
  std::span<const ParamSpec> params;
  int numInputs;       // activation inputs, in order
  int minWeights;      // weight references, in order
  int maxWeights;
  Rows outputRows;     // row count of every output
  int numOutputs = 1;
  // Output row r depends only on row r of the inputs, and the kernel finishes reading a row before
  // writing it: an output may share its buffer with an input of the same width that dies here.
  bool rowLocal = false;
  std::span<const TunableSpec> cpuTunables = {};
  std::span<const TunableSpec> cudaTunables = {};
  // The parameters that identify a call's problem shape (the tuning database's key).
  std::span<const std::string_view> shapeKey = {};
};

std::span<const KernelSpec> allKernels();
const KernelSpec *findKernel(std::string_view name);
std::string_view paramTypeName(ParamType t);

std::span<const TargetInfo> allTargets();
const TargetInfo *findTarget(std::string_view name);
std::span<const TunableSpec> tunables(const KernelSpec &kernel, TargetFamily family);
const TunableSpec *findTunable(const KernelSpec &kernel, TargetFamily family,
                               std::string_view name);
// "cpu, cpu-avx2, ..." for messages.
std::string targetNames();

// Names of the step inputs that a program reads (Int32 vectors), in the order the plan lists them.
inline constexpr std::string_view kInputTokenIds = "token_ids";
inline constexpr std::string_view kInputPositions = "positions";
inline constexpr std::string_view kInputLogitRows = "logit_rows";

} // namespace llm::registry
