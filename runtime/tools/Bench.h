// `llmrt bench PLAN`: offline throughput of the engine on a synthetic, seeded, chat-like workload.
//
// The workload (syntheticWorkload), for a model whose longest sequence is L positions:
//  - prompt lengths: log-normal with median P / 8 and sigma 1.0 (a long right tail, like chat
//    prompts), rounded and clipped to [4, P], where P = min(1024, L / 2);
//  - output lengths: geometric with mean O / 4 (many short answers, a few long ones), clipped to
//    [1, O], where O = min(512, L / 4); requests ignore eos, so each output has its drawn length;
//  - prompt token ids: uniform over the vocabulary;
//  - all requests arrive at once (offline throughput); greedy decoding.
// Everything is drawn from one std::mt19937_64 seeded by --seed, through its raw 64-bit outputs
// (not the standard distributions, whose algorithms differ between libraries), so a seed names the
// same workload on every machine. For SmolLM2 (L = 8192): prompts of median 128 and mean about
// 200 tokens, outputs of mean about 128 tokens.
//
// Reported: requests/s, output tokens/s, total (prompt + output) tokens/s (also per second of the
// process's CPU time, steadier on a shared machine), the mean and p99 over
// requests of the time per output token (from a request's first token to its last, divided by
// its outputs after the first), time to first token, peak KV blocks in use, KV memory waste
// (reserved slots not holding a token / reserved slots, averaged over steps), prefix-cache hit
// tokens and preemptions. --sequential runs the same requests one at a time through the same
// engine (the batched/sequential throughput ratio is the point of batching).
#pragma once

#include <cstdint>
#include "plan/KVCacheDtype.h"
#include "plan/PlanLoader.h"

#include <optional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace llmrt::tools {

struct BenchOptions {
  std::string plan;
  int numRequests = 64;
  uint64_t seed = 0;
  int maxNumBatchedTokens = 2048;
  int maxNumSeqs = 256;
  int64_t kvCacheMemory = 0; // bytes; 0 = a quarter of the available memory
  int blockSize = 0;         // 0 = the plan's
  int threads = 0;
  bool sequential = false;
  std::optional<KVCacheDtype> kvCacheDtype; // unset = the plan's
  LoadOptions load;                          // --mmap
};

struct BenchRequest {
  std::vector<int32_t> prompt;
  int outputTokens = 0;
};

// The workload described above: n requests for a model with `vocab` token ids and sequences of up
// to maxModelLen positions (at least 16).
std::vector<BenchRequest> syntheticWorkload(int n, uint64_t seed, int vocab, int maxModelLen);

// Adds the `bench` subcommand, filling `options` when parsed.
CLI::App *addBenchCommand(CLI::App &app, BenchOptions &options);

// Runs the benchmark and prints its report to stdout. Throws llm::Error on a bad plan or option.
int runBench(const BenchOptions &options);

} // namespace llmrt::tools
