// Emission: a translation from the kernel-plan dialect (after plan-buffers) to plan.fb and its
// weight file. The module decides everything; emission only writes it down.
#pragma once

#include "import/HFConfig.h"
#include "import/WeightSource.h"
#include "plan/KVCacheDtype.h"

#include "mlir/IR/BuiltinOps.h"

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace llmc {

struct EmitInputs {
  std::string modelName;
  const ModelConfig *config = nullptr;
  GenerationConfig generation;
  const WeightSource *weights = nullptr;
  // Tokenizer files to carry in the plan (name -> bytes) and the chat template, if any.
  std::vector<std::pair<std::string, std::string>> tokenizerFiles;
  std::string chatTemplate;
  // KVCacheSpec.dtype: the KV cache's element type (llmc compile --kv-cache-dtype); llmrt may
  // override it at run time.
  llmrt::KVCacheDtype kvCacheDtype = llmrt::KVCacheDtype::F32;
};

struct EmitSummary {
  std::map<std::string, int> callsByKernel;
  size_t numCalls = 0;
  uint64_t arenaBytesPerToken = 0;
  uint64_t arenaBytesPerLogitRow = 0;
  uint64_t weightBytes = 0;
  std::map<std::string, uint64_t> bytesByDType; // "F32", "Q4_1", ...
  size_t numWeights = 0;
  std::string weightFile;
};

using Progress = std::function<void(uint64_t doneBytes, uint64_t totalBytes)>;

// Writes `planPath` and `<planPath minus .fb>.weights` (both through a temporary file renamed at
// the end, so a failed compile never leaves a half-written plan). Throws llm::Error on I/O errors
// or a module that is not a planned kernel plan. Never throws from inside MLIR callbacks.
EmitSummary emitPlan(mlir::ModuleOp module, const EmitInputs &inputs, const std::string &planPath,
                     const Progress &progress);

} // namespace llmc
