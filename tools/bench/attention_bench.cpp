// Decode attention on its own: one token's attention_qkv call per layer, over a context of
// `--context` positions already in the cache, as a decode step runs it (not a test).
//
// Prints, per KV cache dtype, the median microseconds of one layer's call and the K/V bytes it
// reads per microsecond, twice: with the layer's rows in cache (the same layer called again and
// again) and cold (every layer of --layers in turn, with a streaming read of --evict-mb between
// calls, as a decode step reads the layer's weights between two attention calls).
//
//   attention_bench [--threads N] [--context N] [--layers N] [--heads N] [--kv-heads N]
//                   [--head-dim N] [--evict-mb N] [--reps N]
#include "backends/cpu/CpuKernels.h"
#include "engine/PagedKVCache.h"
#include "support/ThreadPool.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace {

struct Options {
  int threads = 0, context = 576, layers = 30, heads = 9, kvHeads = 3, headDim = 64, reps = 20;
  int evictMb = 3;
};

Options parse(int argc, char **argv) {
  Options o;
  const std::pair<const char *, int *> flags[] = {
      {"--threads", &o.threads}, {"--context", &o.context},   {"--layers", &o.layers},
      {"--heads", &o.heads},     {"--kv-heads", &o.kvHeads},  {"--head-dim", &o.headDim},
      {"--evict-mb", &o.evictMb}, {"--reps", &o.reps}};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto flag = std::find_if(std::begin(flags), std::end(flags),
                             [&](const auto &f) { return a == f.first; });
    if (flag == std::end(flags)) {
      std::fprintf(stderr, "attention_bench: unknown option %s\n", a.c_str());
      std::exit(2);
    }
    char *end = nullptr;
    const long v = i + 1 < argc ? std::strtol(argv[i + 1], &end, 10) : 0;
    if (i + 1 >= argc || *end != '\0' || v < INT_MIN || v > INT_MAX) {
      std::fprintf(stderr, "attention_bench: %s needs an integer value\n", a.c_str());
      std::exit(2);
    }
    *flag->second = static_cast<int>(v);
    ++i;
  }
  if (o.context < 1 || o.layers < 1 || o.heads < 1 || o.kvHeads < 1 || o.headDim < 1 ||
      o.heads % o.kvHeads != 0 || o.reps < 1 || o.evictMb < 0) {
    std::fprintf(stderr, "attention_bench: sizes must be positive, heads a multiple of kv-heads\n");
    std::exit(2);
  }
  return o;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

} // namespace

int main(int argc, char **argv) {
  using namespace llmrt;
  using Clock = std::chrono::steady_clock;
  const Options o = parse(argc, argv);
  ThreadPool::global().setThreads(o.threads > 0 ? o.threads : ThreadPool::defaultThreads());
  const int64_t qW = int64_t(o.heads) * o.headDim, kvW = int64_t(o.kvHeads) * o.headDim;
  const int64_t rowW = qW + 2 * kvW;
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> row(rowW);
  for (float &x : row)
    x = normal(rng);
  std::vector<float> inv(o.headDim / 2);
  for (size_t i = 0; i < inv.size(); ++i)
    inv[i] = std::pow(10000.0f, -2.0f * float(i) / float(o.headDim));
  std::vector<char> evict(size_t(o.evictMb) << 20, 1);
  volatile char sink = 0;
  std::printf("attention_bench: %d threads, context %d, %d layers, %d heads, %d kv heads, "
              "head_dim %d, %d MB read between cold calls\n",
              ThreadPool::global().threads(), o.context, o.layers, o.heads, o.kvHeads, o.headDim,
              o.evictMb);
  std::printf("%-6s %12s %12s %12s %12s\n", "dtype", "hot us", "hot GB/s", "cold us",
              "cold GB/s");
  for (KVCacheDtype dtype : {KVCacheDtype::F32, KVCacheDtype::BF16, KVCacheDtype::Fp8E4M3}) {
    PagedKVCache kv(o.layers, o.kvHeads, o.headDim, 1, o.context + 1, true, dtype);
    const int32_t table[1] = {0};
    std::vector<float> out(qW);
    void *outputs[1] = {out.data()};
    auto call = [&](int layer, int32_t position) {
      cpu::KernelParams p;
      p.setInt("layer", layer).setInt("num_heads", o.heads).setInt("num_kv_heads", o.kvHeads);
      p.setInt("head_dim", o.headDim).setFloat("scale", 1.0 / std::sqrt(double(o.headDim)));
      p.setInt("sliding_window", 0).setFloatArray("inv_freq", inv);
      const int32_t queryStart[2] = {0, 1};
      const int64_t slot = position;
      cpu::AttentionBatch batch{1, queryStart, table, 1, &slot};
      const void *inputs[1] = {row.data()};
      cpu::KernelArgs args{p, inputs, nullptr, out.data(), outputs, 1, 0, &position, &kv, &batch};
      static const cpu::CpuKernelFn *kernel = cpu::findCpuKernel("attention_qkv");
      auto t0 = Clock::now();
      kernel->run(args);
      return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
    };
    // Fill the context: one prefill-like write per position (each call also attends; untimed).
    for (int layer = 0; layer < o.layers; ++layer)
      for (int32_t pos = 0; pos < o.context; ++pos) {
        for (float &x : row)
          x = normal(rng);
        call(layer, pos);
      }
    // K and V bytes one call reads: context + 1 rows per kv head.
    const double bytes = 2.0 * double(o.context + 1) * double(kv.headBytes()) * o.kvHeads;
    std::vector<double> hot, cold;
    for (int r = 0; r < o.reps; ++r)
      for (int layer = 0; layer < o.layers; ++layer)
        hot.push_back(call(0, o.context));
    for (int r = 0; r < o.reps; ++r)
      for (int layer = 0; layer < o.layers; ++layer) {
        for (size_t i = 0; i < evict.size(); i += 64)
          sink = sink + evict[i];
        cold.push_back(call(layer, o.context));
      }
    const double h = median(hot), c = median(cold);
    std::printf("%-6s %12.2f %12.2f %12.2f %12.2f\n",
                std::string(kvCacheDtypeName(dtype)).c_str(), h, bytes / h / 1e3, c,
                bytes / c / 1e3);
  }
  return 0;
}
