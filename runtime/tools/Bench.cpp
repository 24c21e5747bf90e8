#include "tools/Bench.h"

#include "engine/Engine.h"
#include "plan/PlanLoader.h"
#include "support/Error.h"
#include "tools/KVCacheDtypeOption.h"
#include "tools/WeightMemoryOption.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <numeric>
#include <random>
#include <unordered_map>

namespace llmrt::tools {

namespace {

using Clock = std::chrono::steady_clock;

// Draws from raw 64-bit outputs only: the same numbers with every standard library.
class Draw {
public:
  explicit Draw(uint64_t seed) : rng_(seed) {}
  double uniform() { return double(rng_() >> 11) * 0x1.0p-53; } // [0, 1)
  double normal() { // Box-Muller
    double u = 1.0 - uniform(), v = uniform();
    return std::sqrt(-2.0 * std::log(u)) * std::cos(2.0 * M_PI * v);
  }
  uint64_t below(uint64_t n) { return rng_() % n; }

private:
  std::mt19937_64 rng_;
};

struct Timing {
  Clock::time_point first, last;
  int outputs = 0;
};

struct Report {
  double seconds = 0;
  double cpuSeconds = 0; // the process's, all threads: steadier than wall time on a shared machine
  int64_t promptTokens = 0, outputTokens = 0;
  std::vector<double> tpot, ttft; // per request, seconds
  EngineStats stats;
  int numBlocks = 0, blockSize = 0;
  int64_t kvCacheBytes = 0;
  KVCacheDtype kvCacheDtype = KVCacheDtype::F32;
  uint64_t prefixQueryTokens = 0, prefixHitTokens = 0, preemptions = 0;
};

double percentile(std::vector<double> v, double p) {
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(std::ceil(p * double(v.size()))) - 1;
  return v[std::min(i, v.size() - 1)];
}

double mean(const std::vector<double> &v) {
  return v.empty() ? 0 : std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
}

Request benchRequest(int i, const BenchRequest &b) {
  StopParams stop;
  stop.maxTokens = b.outputTokens;
  stop.ignoreEos = true; // outputs have their drawn lengths
  return Request(fmt::format("bench-{}", i), b.prompt, stop, SamplingParams{});
}

// Steps until no request is left, recording when each request's tokens arrive.
void drain(Engine &engine, std::unordered_map<std::string, Timing> &timings) {
  while (engine.hasUnfinished()) {
    EngineOutput out = engine.step();
    Clock::time_point now = Clock::now();
    for (const NewToken &t : out.tokens) {
      Timing &timing = timings[t.id];
      if (timing.outputs++ == 0)
        timing.first = now;
      timing.last = now;
    }
  }
}

Report run(const LoadedPlan &plan, const EngineConfig &config,
           const std::vector<BenchRequest> &work, bool sequential) {
  Engine engine(plan, config);
  std::unordered_map<std::string, Timing> timings;
  std::vector<Clock::time_point> arrivals(work.size());
  Clock::time_point start = Clock::now();
  const std::clock_t cpuStart = std::clock();
  if (sequential) {
    for (size_t i = 0; i < work.size(); ++i) {
      arrivals[i] = Clock::now();
      engine.add(benchRequest(static_cast<int>(i), work[i]));
      drain(engine, timings);
    }
  } else {
    for (size_t i = 0; i < work.size(); ++i) {
      arrivals[i] = start;
      engine.add(benchRequest(static_cast<int>(i), work[i]));
    }
    drain(engine, timings);
  }
  Report r;
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  r.cpuSeconds = double(std::clock() - cpuStart) / CLOCKS_PER_SEC;
  for (size_t i = 0; i < work.size(); ++i) {
    const Timing &t = timings[fmt::format("bench-{}", i)];
    if (t.outputs != work[i].outputTokens)
      llm::fail("bench: request {} produced {} tokens, expected {}", i, t.outputs,
                work[i].outputTokens);
    r.promptTokens += static_cast<int64_t>(work[i].prompt.size());
    r.outputTokens += t.outputs;
    r.ttft.push_back(std::chrono::duration<double>(t.first - arrivals[i]).count());
    if (t.outputs > 1)
      r.tpot.push_back(std::chrono::duration<double>(t.last - t.first).count() / (t.outputs - 1));
  }
  r.stats = engine.stats();
  r.numBlocks = engine.numKvBlocks();
  r.blockSize = engine.blockSize();
  r.kvCacheBytes = engine.executor().kvCache().bytes();
  r.kvCacheDtype = engine.executor().kvCache().dtype();
  const KVCacheManager &kv = engine.scheduler().kvCache();
  r.prefixQueryTokens = kv.prefixQueryTokens();
  r.prefixHitTokens = kv.prefixHitTokens();
  r.preemptions = engine.scheduler().numPreemptions();
  return r;
}

void print(const Report &r, size_t numRequests, bool sequential) {
  fmt::print("mode:                     {}\n", sequential ? "sequential (one request at a time)"
                                                          : "batched (all requests at once)");
  fmt::print("requests:                 {} ({} prompt tokens, {} output tokens)\n", numRequests,
             r.promptTokens, r.outputTokens);
  fmt::print("elapsed:                  {:.2f} s over {} steps (CPU time {:.2f} s)\n", r.seconds,
             r.stats.steps, r.cpuSeconds);
  fmt::print("requests/s:               {:.3f}\n", double(numRequests) / r.seconds);
  fmt::print("output tokens/s:          {:.1f}\n", double(r.outputTokens) / r.seconds);
  fmt::print("total tokens/s:           {:.1f} ({:.1f} per CPU second)\n",
             double(r.promptTokens + r.outputTokens) / r.seconds,
             double(r.promptTokens + r.outputTokens) / r.cpuSeconds);
  fmt::print("time per output token:    mean {:.2f} ms, p99 {:.2f} ms\n", 1e3 * mean(r.tpot),
             1e3 * percentile(r.tpot, 0.99));
  fmt::print("time to first token:      mean {:.2f} s, p99 {:.2f} s\n", mean(r.ttft),
             percentile(r.ttft, 0.99));
  fmt::print("KV blocks used (peak):    {} of {} (block size {}, {}, {:.1f} MiB in all)\n",
             r.stats.peakUsedBlocks, r.numBlocks, r.blockSize, kvCacheDtypeName(r.kvCacheDtype),
             double(r.kvCacheBytes) / (1 << 20));
  fmt::print("KV memory waste:          {:.2f}% (mean over steps)\n", 100 * r.stats.meanKvWaste());
  fmt::print("prefix-cache hit tokens:  {} of {}\n", r.prefixHitTokens, r.prefixQueryTokens);
  fmt::print("computed tokens:          {}\n", r.stats.computedTokens);
  fmt::print("preemptions:              {}\n", r.preemptions);
}

} // namespace

std::vector<BenchRequest> syntheticWorkload(int n, uint64_t seed, int vocab, int maxModelLen) {
  if (n < 1 || vocab < 1 || maxModelLen < 16)
    llm::fail("bench: {} requests over a vocabulary of {} with sequences of {} positions; expected "
              "at least 1 request, 1 token id and 16 positions",
              n, vocab, maxModelLen);
  const int maxPrompt = std::min(1024, maxModelLen / 2);
  const int maxOutput = std::min(512, maxModelLen / 4);
  const double median = maxPrompt / 8.0, sigma = 1.0, meanOutput = maxOutput / 4.0;
  Draw draw(seed);
  std::vector<BenchRequest> work(n);
  for (BenchRequest &r : work) {
    double p = std::round(median * std::exp(sigma * draw.normal()));
    int promptLen = static_cast<int>(std::clamp(p, 4.0, double(maxPrompt)));
    // Geometric on {1, 2, ...} with mean m: 1 + floor(log(u) / log(1 - 1/m)).
    double u = 1.0 - draw.uniform();
    double g = 1.0 + std::floor(std::log(u) / std::log(1.0 - 1.0 / meanOutput));
    r.outputTokens = static_cast<int>(std::clamp(g, 1.0, double(maxOutput)));
    r.prompt.resize(promptLen);
    for (int32_t &t : r.prompt)
      t = static_cast<int32_t>(draw.below(static_cast<uint64_t>(vocab)));
  }
  return work;
}

CLI::App *addBenchCommand(CLI::App &app, BenchOptions &o) {
  CLI::App *cmd = app.add_subcommand(
      "bench", "offline throughput on a synthetic chat-like workload (see runtime/tools/Bench.h)");
  cmd->add_option("plan", o.plan, "the plan file (plan.fb)")->required();
  cmd->add_option("--num-requests", o.numRequests, "requests (default 64)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--seed", o.seed, "workload seed");
  cmd->add_option("--max-num-batched-tokens", o.maxNumBatchedTokens, "tokens per step")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-num-seqs", o.maxNumSeqs, "running requests at once")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--kv-cache-memory", o.kvCacheMemory,
                  "bytes of K and V (e.g. 2G; default: a quarter of the available memory)")
      ->transform(CLI::AsSizeValue(false));
  cmd->add_option("--block-size", o.blockSize, "positions per KV block (default: the plan's)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--threads", o.threads, "CPU threads (0 = all cores)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--sequential", o.sequential, "run the requests one at a time");
  addKVCacheDtypeOption(cmd, o.kvCacheDtype);
  addMmapOption(cmd, o.load);
  return cmd;
}

int runBench(const BenchOptions &o) {
  auto plan = LoadedPlan::load(o.plan, o.load);
  EngineConfig config;
  config.maxNumBatchedTokens = o.maxNumBatchedTokens;
  config.maxNumSeqs = o.maxNumSeqs;
  config.kvCacheMemory = o.kvCacheMemory;
  config.blockSize = o.blockSize;
  config.threads = o.threads;
  config.kvCacheDtype = o.kvCacheDtype;
  // The workload is sized by the model: an engine tells its vocabulary and longest sequence.
  int vocab = 0, maxModelLen = 0;
  {
    Engine probe(*plan, config);
    vocab = probe.executor().tokenLimit();
    maxModelLen = probe.scheduler().maxModelLen();
  }
  std::vector<BenchRequest> work = syntheticWorkload(o.numRequests, o.seed, vocab, maxModelLen);
  Report r = run(*plan, config, work, o.sequential);
  fmt::print("weights:                  {}\n", plan->describeWeightMemory());
  print(r, work.size(), o.sequential);
  return 0;
}

} // namespace llmrt::tools
