// membw: the machine's memory read bandwidth, the physical limit of memory-bound decoding.
//
//   membw [--mib N] [--runs R] [--threads T] [--json]
//
// Every thread (all cores by default) streams its own contiguous slice of one buffer much larger
// than the last-level cache (default 1 GiB), summing it with AVX2 loads in four independent
// accumulators, so the loop is bound by DRAM, not by adds. The buffer is in 2 MiB transparent huge
// pages (support/PageMemory.h, as the runtime keeps weights and KV cache): 4 KiB pages read
// 5-10% slower here, and the limit should be the best a stream can do. It is written first
// (first-touch places each slice's pages with its thread). Reported: the best of R runs in GB/s
// (10^9 bytes/s), the number a decode step reading its weights once could at most reach.
// NOTE: a benchmark, not a test; the sum is printed so the reads cannot be optimized away.
#include "support/Error.h"
#include "support/PageMemory.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

struct Options {
  size_t mib = 1024;
  int runs = 10;
  int threads = 0;
  bool json = false;
};

[[noreturn]] void usage(const char *why) {
  std::fprintf(stderr,
               "membw: error: %s\nusage: membw [--mib N] [--runs R] [--threads T] [--json]\n", why);
  std::exit(1);
}

Options parse(int argc, char **argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> long {
      if (i + 1 >= argc)
        usage(("option " + a + " needs a value").c_str());
      char *end = nullptr;
      long v = std::strtol(argv[++i], &end, 10);
      if (*end != '\0' || v < 1)
        usage(("option " + a + " needs a positive integer").c_str());
      return v;
    };
    if (a == "--mib")
      o.mib = static_cast<size_t>(value());
    else if (a == "--runs")
      o.runs = static_cast<int>(value());
    else if (a == "--threads")
      o.threads = static_cast<int>(value());
    else if (a == "--json")
      o.json = true;
    else
      usage(("unknown option " + a).c_str());
  }
  return o;
}

// Sums floats [begin, end) of `data`; end - begin is a multiple of 32.
__attribute__((target("avx2"))) float sumSlice(const float *data, size_t begin, size_t end) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = begin; i < end; i += 32) {
    a0 = _mm256_add_ps(a0, _mm256_load_ps(data + i));
    a1 = _mm256_add_ps(a1, _mm256_load_ps(data + i + 8));
    a2 = _mm256_add_ps(a2, _mm256_load_ps(data + i + 16));
    a3 = _mm256_add_ps(a3, _mm256_load_ps(data + i + 24));
  }
  __m256 s = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, s);
  float total = 0;
  for (float v : lanes)
    total += v;
  return total;
}

} // namespace

int main(int argc, char **argv) {
  Options o = parse(argc, argv);
  int threads = o.threads > 0 ? o.threads : omp_get_num_procs();
  size_t floats = o.mib * (1u << 20) / sizeof(float);
  size_t chunk = floats / threads / 32 * 32; // per thread, a multiple of one loop iteration
  size_t bytes = chunk * threads * sizeof(float);
  llm::PageMemory buffer;
  try {
    buffer = llm::PageMemory::allocate(bytes, "membw buffer");
  } catch (const llm::Error &) {
    usage("cannot allocate the buffer; lower --mib");
  }
  auto *data = reinterpret_cast<float *>(buffer.data());
#pragma omp parallel num_threads(threads)
  {
    size_t t = static_cast<size_t>(omp_get_thread_num());
    for (size_t i = t * chunk; i < (t + 1) * chunk; ++i)
      data[i] = 1.0f;
  }
  double best = 0;
  float sink = 0;
  for (int r = 0; r < o.runs; ++r) {
    float sum = 0;
    auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads) reduction(+ : sum)
    {
      size_t t = static_cast<size_t>(omp_get_thread_num());
      sum += sumSlice(data, t * chunk, (t + 1) * chunk);
    }
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, static_cast<double>(bytes) / s / 1e9);
    sink += sum;
  }
  if (o.json)
    std::printf("{\"read_gb_per_s\": %.3f, \"buffer_bytes\": %zu, \"threads\": %d, \"runs\": %d, "
                "\"checksum\": %.1f}\n",
                best, bytes, threads, o.runs, static_cast<double>(sink));
  else
    std::printf("read bandwidth: %.2f GB/s (best of %d runs, %d threads, %.0f MiB buffer; "
                "checksum %.0f)\n",
                best, o.runs, threads, bytes / 1048576.0, static_cast<double>(sink));
  return 0;
}
