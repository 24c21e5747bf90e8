// The plan loader: maps a plan file and its weight files and checks everything the runtime relies
// on before anything executes. A LoadedPlan that exists is a plan whose FlatBuffer verified, whose
// schema major version is ours, whose weight files belong to it and are intact, and whose kernel
// calls match the kernel registry. Kernel-specific shape checks (does a linear's weight have
// out_features x in_features elements?) are the backend's, done when an executor binds the plan.
#pragma once

#include "plan/QuantFormat.h"
#include "plan_generated.h"
#include "support/MappedFile.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace llmrt {

// Where a plan's weight bytes live while it runs (support/MappedFile.h).
enum class WeightMemory {
  Auto,      // HugePages for a CPU plan (its kernels stream the weights) whose weights take at
             // most half the available memory, Mapped otherwise (a CUDA plan copies its weights
             // to the device once)
  Mapped,    // the weight files mapped in place: shared page cache, no copy (`--mmap`)
  HugePages, // read into 2 MiB pages: one copy per process, 1.10-1.16x faster CPU decode
};

// What Auto means for a plan: HugePages for a CPU target whose weights take at most half the
// available memory (nullopt: unknown, so Mapped), else Mapped. Other choices stay as they are.
WeightMemory chooseWeightMemory(WeightMemory requested, bool cpuTarget, uint64_t weightBytes,
                                std::optional<uint64_t> availableBytes);

struct LoadOptions {
  // XXH3 over every tensor; on by default. Turning it off trades the corruption check for start-up
  // time on very large weight files (bounds, sizes and headers are still checked).
  bool verifyChecksums = true;
  WeightMemory weightMemory = WeightMemory::Auto;
};

class LoadedPlan {
public:
  // Throws llm::Error naming the file and what is wrong (and what was expected).
  static std::unique_ptr<LoadedPlan> load(const std::string &planPath, LoadOptions options = {});

  const fb::Plan &plan() const { return *plan_; }
  const std::string &path() const { return path_; }

  // The bytes of weight `index` (an index into Plan.weights), inside its weight file's image.
  const uint8_t *weightBytes(uint32_t index) const;
  // Same, as floats; throws llm::Error when the weight is not F32.
  const float *weightF32(uint32_t index) const;

  // What the plan holds, for `llmrt info`.
  std::string describe() const;
  // Where the weights are, for start-up logs: "88.0 MiB read from 1 file into huge pages" or
  // "88.0 MiB mapped from 1 file".
  std::string describeWeightMemory() const;

private:
  LoadedPlan() = default;
  void verifyPlanBuffer();
  void mapWeightFiles(WeightMemory memory);
  void checkWeights(const LoadOptions &options);
  void checkPrograms();

  std::string path_;
  llm::MappedFile planFile_;
  const fb::Plan *plan_ = nullptr;
  std::vector<llm::MappedFile> weightFiles_;
};

// The block format of a quantized weight dtype (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, W8, Q4_K, Q5_K, Q6_K,
// W4G*, WFP8); nullopt for the others.
std::optional<llm::quant::Scheme> quantScheme(fb::DType dtype);

// Bytes per element of a dtype; llm::Error for block formats.
uint64_t dtypeSize(fb::DType dtype);

} // namespace llmrt
