#include "tune/CpuHarness.h"

#include "registry/KernelRegistry.h"
#include "support/Error.h"

#include <chrono>
#include <cmath>
#include <limits>

namespace llmc::tune {

namespace cpu = llmrt::cpu;
namespace reg = llm::registry;

struct CpuHarness::State {
  const cpu::CpuKernelFn *kernel = nullptr;
  cpu::KernelParams params;
  int64_t rows = 1;
  std::vector<std::vector<float>> floatInputs, weights, outputs;
  std::vector<std::vector<int32_t>> intInputs;
  std::vector<int32_t> positions;
  std::vector<const void *> inputPtrs;
  std::vector<const float *> weightPtrs;
  std::vector<void *> outputPtrs;
};

namespace {

// Uniform in [-1, 1), from a 64-bit LCG: the same inputs on every machine.
void fill(std::vector<float> &v, uint64_t &state) {
  for (float &x : v) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    x = static_cast<float>(static_cast<double>(state >> 40) / double(1 << 23) - 1.0);
  }
}

// The kernel's shapes with the weight count the call needs (the first the kernel accepts).
cpu::KernelShapes shapesOf(const cpu::CpuKernelFn &k, const reg::KernelSpec &spec,
                           const cpu::KernelParams &p) {
  for (int n = spec.minWeights; n <= spec.maxWeights; ++n) {
    try {
      return k.shapes(p, n);
    } catch (const llm::Error &e) {
      if (n == spec.maxWeights)
        throw;
    }
  }
  llm::fail("kernel '{}' takes no weights count in [{}, {}]", spec.name, spec.minWeights,
            spec.maxWeights);
}

} // namespace

CpuHarness::CpuHarness(const std::string &kernel, const cpu::KernelParams &params, int64_t rows,
                       uint64_t seed)
    : s_(std::make_unique<State>()) {
  State &s = *s_;
  s.kernel = cpu::findCpuKernel(kernel);
  const reg::KernelSpec *spec = reg::findKernel(kernel);
  if (!s.kernel || !spec)
    llm::fail("the CPU backend has no kernel '{}' to measure", kernel);
  if (rows < 1)
    llm::fail("a measurement needs at least one row, got {}", rows);
  s.params = params;
  s.rows = rows;
  cpu::KernelShapes shapes = shapesOf(*s.kernel, *spec, params);
  if (shapes.kvLayer >= 0)
    llm::fail("kernel '{}' reads the KV cache; the CPU harness measures kernels without one",
              kernel);
  uint64_t state = seed;
  s.floatInputs.resize(shapes.inputWidths.size());
  s.intInputs.resize(shapes.inputWidths.size());
  for (size_t i = 0; i < shapes.inputWidths.size(); ++i) {
    size_t n = static_cast<size_t>(rows * shapes.inputWidths[i]);
    if (shapes.inputDtypes[i] == llmrt::fb::DType::I32) {
      // Int inputs are row indices (logits' rows: every row wanted) or ids in [0, rows).
      s.intInputs[i].resize(n);
      for (size_t j = 0; j < n; ++j)
        s.intInputs[i][j] = static_cast<int32_t>(j % static_cast<size_t>(rows));
      s.inputPtrs.push_back(s.intInputs[i].data());
    } else {
      s.floatInputs[i].resize(n);
      fill(s.floatInputs[i], state);
      s.inputPtrs.push_back(s.floatInputs[i].data());
    }
  }
  for (const std::vector<int64_t> &shape : shapes.weights) {
    size_t n = 1;
    for (int64_t d : shape)
      n *= static_cast<size_t>(d);
    s.weights.emplace_back(n);
    fill(s.weights.back(), state);
    s.weightPtrs.push_back(s.weights.back().data());
  }
  for (int64_t w : shapes.outputWidths) {
    s.outputs.emplace_back(static_cast<size_t>(rows * w));
    s.outputPtrs.push_back(s.outputs.back().data());
  }
  s.positions.resize(static_cast<size_t>(rows));
  for (int64_t t = 0; t < rows; ++t)
    s.positions[t] = static_cast<int32_t>(t);
}

CpuHarness::~CpuHarness() = default;

double CpuHarness::run(const Params &tunables) {
  State &s = *s_;
  cpu::KernelParams p = s.params;
  for (const auto &[name, v] : tunables)
    p.setInt(name, v);
  cpu::KernelArgs args{p,
                       s.inputPtrs.data(),
                       s.weightPtrs.data(),
                       s.outputPtrs[0],
                       s.outputPtrs.data(),
                       s.rows,
                       s.rows,
                       s.positions.data(),
                       nullptr};
  auto start = std::chrono::steady_clock::now();
  s.kernel->run(args);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::vector<std::span<float>> CpuHarness::outputs() {
  std::vector<std::span<float>> out;
  for (std::vector<float> &o : s_->outputs)
    out.emplace_back(o);
  return out;
}

double maxAbsDiff(const std::vector<std::vector<float>> &a, const std::vector<std::span<float>> &b) {
  if (a.size() != b.size())
    return std::numeric_limits<double>::infinity();
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].size() != b[i].size())
      return std::numeric_limits<double>::infinity();
    for (size_t j = 0; j < a[i].size(); ++j) {
      double d = std::fabs(static_cast<double>(a[i][j]) - b[i][j]);
      if (!(d <= worst)) // NaN compares false: it is never within any tolerance
        worst = std::isnan(d) ? std::numeric_limits<double>::infinity() : d;
    }
  }
  return worst;
}

} // namespace llmc::tune
