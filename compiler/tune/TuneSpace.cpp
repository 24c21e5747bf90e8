#include "tune/TuneSpace.h"

#include "support/Error.h"

#include <algorithm>

namespace llmc::tune {

namespace reg = llm::registry;

namespace {

int64_t get(const Params &p, const char *name, int64_t fallback = 0) {
  auto it = p.find(name);
  return it == p.end() ? fallback : it->second;
}

// Opt-in shared memory per thread block (bytes) of a CUDA target.
int64_t sharedMemoryLimit(const reg::TargetInfo &target) {
  return target.name == "cuda-sm90" ? 227 * 1024 : 163 * 1024;
}

int64_t roundUp(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

// The smallest registered choice >= need (the largest when none is).
int64_t smallestCovering(const reg::TunableSpec &t, int64_t need) {
  int64_t best = 0;
  for (int64_t c : t.choices)
    if (c >= need && (best == 0 || c < best))
      best = c;
  return best ? best : *std::max_element(t.choices.begin(), t.choices.end());
}

// The output width of a GEMM-like call.
int64_t gemmColumns(const reg::KernelSpec &kernel, const Params &shape) {
  return kernel.name == "logits" ? get(shape, "vocab") : get(shape, "out_features");
}

// False when the setting is invalid on the target or equivalent to another candidate.
bool admissible(const reg::KernelSpec &kernel, const reg::TargetInfo &target, const Params &shape,
                int64_t rows, const Params &c) {
  if (target.family == reg::TargetFamily::Cpu) {
    if (const auto *t = reg::findTunable(kernel, target.family, "block_cols"))
      if (get(c, "block_cols") > smallestCovering(*t, roundUp(gemmColumns(kernel, shape), 4)))
        return false;
    if (const auto *t = reg::findTunable(kernel, target.family, "block_rows"))
      if (get(c, "block_rows") > smallestCovering(*t, rows))
        return false;
    return true;
  }
  int64_t smem = sharedMemoryLimit(target), warps = get(c, "num_warps", 4);
  if (c.count("block_m")) {
    int64_t bm = get(c, "block_m"), bn = get(c, "block_n"), bk = get(c, "block_k");
    int64_t rowCap = 16;
    while (rowCap < rows)
      rowCap *= 2;
    return (bm + bn) * bk * get(c, "num_stages", 1) * 2 <= smem && bm * bn >= 128 * warps &&
           bm <= rowCap;
  }
  if (c.count("block_kv"))
    return 2 * 2 * get(c, "block_kv") * get(shape, "head_dim", 128) * 2 <= smem;
  return true;
}

} // namespace

Params defaultTunables(const reg::KernelSpec &kernel, const reg::TargetInfo &target) {
  Params p;
  for (const reg::TunableSpec &t : reg::tunables(kernel, target.family))
    p[std::string(t.name)] = t.defaultValue;
  return p;
}

size_t fullSpaceSize(const reg::KernelSpec &kernel, const reg::TargetInfo &target) {
  size_t n = 1;
  for (const reg::TunableSpec &t : reg::tunables(kernel, target.family))
    n *= t.choices.size();
  return n;
}

std::vector<Params> enumerateSpace(const reg::KernelSpec &kernel, const reg::TargetInfo &target,
                                   const Params &shape, int64_t rows) {
  auto tunables = reg::tunables(kernel, target.family);
  Params defaults = defaultTunables(kernel, target);
  std::vector<Params> out{defaults};
  if (tunables.empty())
    return out;
  // Odometer over the registry's choices, first tunable slowest.
  std::vector<size_t> idx(tunables.size(), 0);
  for (;;) {
    Params c;
    for (size_t i = 0; i < tunables.size(); ++i)
      c[std::string(tunables[i].name)] = tunables[i].choices[idx[i]];
    if (c != defaults && admissible(kernel, target, shape, rows, c))
      out.push_back(std::move(c));
    size_t i = tunables.size();
    while (i > 0 && ++idx[i - 1] == tunables[i - 1].choices.size())
      idx[--i] = 0;
    if (i == 0)
      break;
  }
  return out;
}

std::vector<Bucket> bucketsFromPoints(std::vector<int64_t> points) {
  if (points.empty())
    llm::fail("--tokens needs at least one token count");
  std::sort(points.begin(), points.end());
  points.erase(std::unique(points.begin(), points.end()), points.end());
  if (points.front() < 1)
    llm::fail("--tokens: token count {} is not positive", points.front());
  std::vector<Bucket> out;
  int64_t lo = 1;
  for (size_t i = 0; i < points.size(); ++i) {
    bool last = i + 1 == points.size();
    out.push_back(Bucket{lo, last ? 0 : points[i], points[i]});
    lo = points[i] + 1;
  }
  return out;
}

} // namespace llmc::tune
