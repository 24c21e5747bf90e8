// Runs one kernel call of the CPU backend (the runtime's own kernels, llmrt_core) on synthetic
// inputs, for `llmc tune`: the inputs, weights and outputs are allocated once per problem from
// the kernel's shapes(), filled with seeded pseudo-random values, and reused by every candidate.
#pragma once

#include "backends/cpu/CpuKernels.h"
#include "tune/TuneSpace.h"

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace llmc::tune {

class CpuHarness {
public:
  // `params`: the call's registry parameters; `rows`: the rows it computes (T, and R for kernels
  // with logit-row outputs, where the step is taken to want every row). llm::Error when the
  // kernel has no CPU implementation, rejects the parameters, or reads the KV cache.
  CpuHarness(const std::string &kernel, const llmrt::cpu::KernelParams &params, int64_t rows,
             uint64_t seed = 1);
  ~CpuHarness();

  // Runs the call once with `tunables` replacing the call's; returns the wall time in seconds.
  double run(const Params &tunables);
  // The outputs of the last run (the call's outputs in registry order).
  std::vector<std::span<float>> outputs();

private:
  struct State;
  std::unique_ptr<State> s_;
};

// Largest |a - b| over all outputs (infinity when the shapes differ or a value is NaN).
double maxAbsDiff(const std::vector<std::vector<float>> &a, const std::vector<std::span<float>> &b);

} // namespace llmc::tune
