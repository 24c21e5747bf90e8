// gemm_bench: throughput of the CPU backend's linear kernels against OpenBLAS and oneDNN on the
// shapes a model's linears have, for decode-sized and prefill-sized token counts. It answers the
// question "where does a library win?" (tools/bench/gemm_bench.sh; README "CPU performance").
//
//   gemm_bench [--shapes N:K,...] [--tokens 1,16,64,512] [--threads T] [--min-time S]
//              [--engines ours,openblas,onednn] [--json]
//
// out[T, N] = x[T, K] . W[N, K]^T, the layout of every linear (weights row-major, one row per output
// feature). Ours: matmulTransposedB (float32, row_major and in tiles, rows8) and quantMatmul (q8_0, q4_0, q4_1, q5_0 and w4g32a,
// the GPTQ/AWQ form, each in the row_blocks layout and in tiles, rows8_blocks: weights quantized
// and repacked once before timing, activations quantized inside the call as the runtime does).
// OpenBLAS: cblas_sgemm (row-major, B transposed). oneDNN: the f32 matmul primitive with weights reordered once, before
// timing, into the layout oneDNN picks (format any) — the library's best case, as a plan would
// store it. All three get the same thread count: our pool, openblas_set_num_threads and OpenMP (the
// Debian oneDNN build's runtime).
// Each case: 2 warm-up calls, then calls until min-time has passed and at least 5 ran; the median
// call time gives GFLOP/s = 2 T N K / t. The machine is shared: compare columns of one run only.
// --engines times only the engines named (the others' columns print "-"): each engine's threads
// wait for work by spinning for a while after a call (our pool 2 ms, OpenBLAS and OpenMP longer),
// so with as many threads as cores, one process per engine keeps each engine's threads off the
// others' cores. Batch invariance: for T > 1, the last row of each engine's T-row product is
// compared bit for bit with the same row computed alone (T = 1); the engines whose bits differ are
// listed.
#include "backends/cpu/CpuKernels.h"
#include "backends/cpu/QuantLinear.h"
#include "plan/QuantFormat.h"
#include "support/ThreadPool.h"

#include <cblas.h>
#include <oneapi/dnnl/dnnl.hpp>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

namespace {

using llm::quant::Layout;
using llm::quant::Scheme;

constexpr Scheme kQuantSchemes[] = {Scheme::Q8_0, Scheme::Q4_0, Scheme::Q4_1, Scheme::Q5_0,
                                    Scheme::W4G32A};

// Our quantized weight in one layout.
struct QuantWeight {
  Scheme scheme;
  Layout layout;
  std::vector<uint8_t> bytes;
  std::string label = std::string("ours-") + std::string(llm::quant::schemeName(scheme)) +
                      (layout == Layout::Rows8 ? "-tiles" : "");
  const char *name() const { return label.c_str(); }
};

struct Shape {
  int64_t n, k;
};

struct Options {
  // SmolLM2-135M's linears: fused qkv, o_proj, fused gate+up, down_proj, lm_head.
  std::vector<Shape> shapes{{960, 576}, {576, 576}, {3072, 576}, {576, 1536}, {49152, 576}};
  std::vector<int64_t> tokens{1, 16, 64, 512};
  int threads = 0;
  double minTime = 0.3;
  bool json = false;
  bool ours = true, openblas = true, onednn = true;
};

[[noreturn]] void usage(const char *why) {
  std::fprintf(stderr,
               "gemm_bench: error: %s\nusage: gemm_bench [--shapes N:K,...] [--tokens T,...] "
               "[--threads T] [--min-time S] [--engines ours,openblas,onednn] [--json]\n",
               why);
  std::exit(2);
}

std::vector<std::string> split(const std::string &s, char sep) {
  std::vector<std::string> parts;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, sep);)
    parts.push_back(part);
  return parts;
}

int64_t positive(const std::string &s, const char *what) {
  char *end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (s.empty() || *end || v <= 0)
    usage((std::string(what) + " must be positive integers, got '" + s + "'").c_str());
  return v;
}

Options parse(int argc, char **argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc)
        usage((a + " needs a value").c_str());
      return argv[++i];
    };
    if (a == "--shapes") {
      o.shapes.clear();
      for (const std::string &p : split(value(), ',')) {
        auto nk = split(p, ':');
        if (nk.size() != 2)
          usage("--shapes takes N:K pairs separated by commas");
        o.shapes.push_back({positive(nk[0], "N"), positive(nk[1], "K")});
      }
    } else if (a == "--tokens") {
      o.tokens.clear();
      for (const std::string &t : split(value(), ','))
        o.tokens.push_back(positive(t, "--tokens"));
    } else if (a == "--threads") {
      o.threads = static_cast<int>(positive(value(), "--threads"));
    } else if (a == "--min-time") {
      o.minTime = std::atof(value().c_str());
      if (o.minTime <= 0)
        usage("--min-time must be positive seconds");
    } else if (a == "--engines") {
      o.ours = o.openblas = o.onednn = false;
      for (const std::string &e : split(value(), ',')) {
        if (e != "ours" && e != "openblas" && e != "onednn")
          usage(("--engines takes ours, openblas and onednn, got '" + e + "'").c_str());
        (e == "ours" ? o.ours : e == "openblas" ? o.openblas : o.onednn) = true;
      }
    } else if (a == "--json") {
      o.json = true;
    } else {
      usage(("unknown option " + a).c_str());
    }
  }
  return o;
}

// Median seconds per call.
double timeCalls(const std::function<void()> &call, double minTime) {
  call();
  call();
  std::vector<double> times;
  auto start = std::chrono::steady_clock::now();
  while (times.size() < 5 ||
         std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() <
             minTime) {
    auto t0 = std::chrono::steady_clock::now();
    call();
    times.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
  return times[times.size() / 2];
}

// oneDNN's f32 matmul for one (T, N, K), weights reordered once into the primitive's layout.
class OneDnnMatmul {
public:
  OneDnnMatmul(dnnl::engine &eng, int64_t t, int64_t n, int64_t k, const float *w, float *x,
               float *out)
      : eng_(eng), stream_(eng) {
    using dt = dnnl::memory::data_type;
    using tag = dnnl::memory::format_tag;
    dnnl::memory::desc src({t, k}, dt::f32, tag::ab), dst({t, n}, dt::f32, tag::ab);
    dnnl::memory::desc wAny({k, n}, dt::f32, tag::any), wPlain({k, n}, dt::f32, tag::ba);
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, wAny, dst), eng_);
    prim_ = dnnl::matmul(pd);
    src_ = dnnl::memory(src, eng_, x);
    dst_ = dnnl::memory(dst, eng_, out);
    dnnl::memory plain(wPlain, eng_, const_cast<float *>(w));
    weights_ = dnnl::memory(pd.weights_desc(), eng_);
    dnnl::reorder(plain, weights_).execute(stream_, plain, weights_);
    stream_.wait();
  }
  void operator()() {
    prim_.execute(stream_, {{DNNL_ARG_SRC, src_}, {DNNL_ARG_WEIGHTS, weights_},
                            {DNNL_ARG_DST, dst_}});
    stream_.wait();
  }

private:
  dnnl::engine &eng_;
  dnnl::stream stream_;
  dnnl::matmul prim_;
  dnnl::memory src_, dst_, weights_;
};

struct Row {
  Shape shape;
  int64_t tokens;
  std::vector<std::pair<std::string, double>> gflops;
  std::string variant; // engines whose last row differs from that row computed alone
};

using Product = std::function<void(const float *x, int64_t t, float *out)>;

// Whether product(x, t) and product(last row of x, 1) agree bit for bit on that row.
bool batchInvariant(const Product &product, const std::vector<float> &x, int64_t t, int64_t n,
                    int64_t k) {
  std::vector<float> all(t * n), one(n);
  product(x.data(), t, all.data());
  product(x.data() + (t - 1) * k, 1, one.data());
  return std::memcmp(all.data() + (t - 1) * n, one.data(), n * sizeof(float)) == 0;
}

} // namespace

int main(int argc, char **argv) {
  Options o = parse(argc, argv);
  int threads = o.threads > 0 ? o.threads : llmrt::ThreadPool::defaultThreads();
  llmrt::ThreadPool::global().setThreads(threads);
  openblas_set_num_threads(threads);
  omp_set_num_threads(threads);
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<Row> rows;
  if (!o.json)
    std::printf("threads %d; ours: %s (LLMRT_CPU_ISA caps it); GFLOP/s (median call); -t: tiles "
                "(rows8 / rows8_blocks)\n%-12s %6s "
                "%10s %10s %10s %10s %10s %10s %10s %10s %10s %10s %10s %10s %10s %10s  %s\n",
                threads, llmrt::cpu::describeIsas().c_str(), "N x K", "T", "ours-f32", "f32-t", "openblas", "onednn", "q8_0", "q8_0-t", "q4_0",
                "q4_0-t", "q4_1", "q4_1-t", "q5_0", "q5_0-t", "w4g32a", "w4g32a-t",
                "last row differs alone");
  for (Shape s : o.shapes) {
    std::vector<float> w(s.n * s.k);
    for (float &v : w)
      v = dist(rng);
    // The float matrix in tiles too (rows8, when N and K are whole tiles; else row_major again).
    const bool floatTiles = llm::floattiles::fitsRows8(s.n, s.k);
    std::vector<float> wt(w);
    if (floatTiles)
      llm::floattiles::toRows8(w.data(), s.n, s.k, wt.data());
    const auto tiledLayout =
        floatTiles ? llmrt::cpu::FloatLayout::Rows8 : llmrt::cpu::FloatLayout::RowMajor;
    // Each quantized format in both layouts (tiles when N is whole tiles).
    std::vector<QuantWeight> quant;
    for (Scheme q : kQuantSchemes) {
      QuantWeight qw{q, Layout::RowBlocks, std::vector<uint8_t>(llm::quant::tensorBytes(q, s.n, s.k))};
      llm::quant::quantizeRows(q, w.data(), s.n, s.k, qw.bytes.data());
      quant.push_back(qw);
      if (s.n % llm::quant::kTileRows == 0) {
        quant.push_back({q, Layout::Rows8, std::vector<uint8_t>(qw.bytes.size())});
        llm::quant::toRows8(q, qw.bytes.data(), s.n, s.k, quant.back().bytes.data());
      }
    }
    const QuantWeight &q8 = quant.front();
    for (int64_t t : o.tokens) {
      std::vector<float> x(t * s.k), out(t * s.n);
      for (float &v : x)
        v = dist(rng);
      double flop = 2.0 * t * s.n * s.k;
      Row row{s, t, {}, {}};
      // An engine left out by --engines gets NaN (printed "-", left out of the JSON).
      auto add = [&](const char *name, bool on, const std::function<void()> &call) {
        row.gflops.emplace_back(name, on ? flop / timeCalls(call, o.minTime) / 1e9 : NAN);
      };
      add("ours-f32", o.ours, [&] {
        llmrt::cpu::matmulTransposedB(x.data(), s.k, nullptr, t, w.data(), s.n, s.k, nullptr,
                                      out.data());
      });
      add("ours-f32-tiles", o.ours, [&] {
        llmrt::cpu::matmulTransposedB(x.data(), s.k, nullptr, t, wt.data(), s.n, s.k, nullptr,
                                      out.data(), {}, tiledLayout);
      });
      add("openblas", o.openblas, [&] {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, t, s.n, s.k, 1.0f, x.data(), s.k,
                    w.data(), s.k, 0.0f, out.data(), s.n);
      });
      std::optional<OneDnnMatmul> dnnlCall;
      if (o.onednn)
        dnnlCall.emplace(eng, t, s.n, s.k, w.data(), x.data(), out.data());
      add("onednn", o.onednn, [&] { (*dnnlCall)(); });
      for (const QuantWeight &qw : quant)
        add(qw.name(), o.ours, [&] {
          llmrt::cpu::quantMatmul(qw.scheme, x.data(), s.k, nullptr, t, qw.bytes.data(), s.n,
                                  s.k, nullptr, out.data(), std::nullopt, llmrt::cpu::bestIsa(),
                                  qw.layout);
        });
      if (t > 1) {
        const std::tuple<const char *, bool, Product> products[] = {
            {"ours-f32", o.ours,
             [&](const float *xs, int64_t rows, float *o) {
               llmrt::cpu::matmulTransposedB(xs, s.k, nullptr, rows, w.data(), s.n, s.k, nullptr,
                                             o);
             }},
            {"ours-f32-tiles", o.ours,
             [&](const float *xs, int64_t rows, float *o) {
               llmrt::cpu::matmulTransposedB(xs, s.k, nullptr, rows, wt.data(), s.n, s.k, nullptr,
                                             o, {}, tiledLayout);
             }},
            {"openblas", o.openblas,
             [&](const float *xs, int64_t rows, float *o) {
               cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, s.n, s.k, 1.0f, xs, s.k,
                           w.data(), s.k, 0.0f, o, s.n);
             }},
            {"onednn", o.onednn,
             [&](const float *xs, int64_t rows, float *o) {
               OneDnnMatmul(eng, rows, s.n, s.k, w.data(), const_cast<float *>(xs), o)();
             }},
            {"ours-q8_0", o.ours,
             [&](const float *xs, int64_t rows, float *o) {
               llmrt::cpu::quantMatmul(llm::quant::Scheme::Q8_0, xs, s.k, nullptr, rows,
                                       q8.bytes.data(), s.n, s.k, nullptr, o);
             }},
        };
        for (const auto &[name, on, product] : products)
          if (on && !batchInvariant(product, x, t, s.n, s.k))
            row.variant += std::string(row.variant.empty() ? "" : ",") + name;
      }
      if (!o.json) {
        std::printf("%-12s %6lld", (std::to_string(s.n) + "x" + std::to_string(s.k)).c_str(),
                    static_cast<long long>(t));
        for (auto &[name, g] : row.gflops)
          std::isnan(g) ? std::printf(" %10s", "-") : std::printf(" %10.1f", g);
        std::printf("  %s\n", t > 1 ? (row.variant.empty() ? "-" : row.variant.c_str()) : "");
        std::fflush(stdout);
      }
      rows.push_back(std::move(row));
    }
  }
  if (o.json) {
    std::printf("{\"threads\": %d, \"isa\": \"%s\", \"results\": [", threads,
                llmrt::cpu::describeIsas().c_str());
    for (size_t i = 0; i < rows.size(); ++i) {
      std::printf("%s\n {\"n\": %lld, \"k\": %lld, \"tokens\": %lld, \"gflops\": {", i ? "," : "",
                  static_cast<long long>(rows[i].shape.n), static_cast<long long>(rows[i].shape.k),
                  static_cast<long long>(rows[i].tokens));
      const char *sep = "";
      for (const auto &[name, g] : rows[i].gflops)
        if (!std::isnan(g)) {
          std::printf("%s\"%s\": %.3f", sep, name.c_str(), g);
          sep = ", ";
        }
      std::printf("}, \"batch_variant\": \"%s\"}", rows[i].variant.c_str());
    }
    std::printf("]}\n");
  }
  return 0;
}
