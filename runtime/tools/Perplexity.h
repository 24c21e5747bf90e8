// `llmrt perplexity PLAN --text FILE`: the plan's perplexity on a text, measured as llama.cpp's
// perplexity tool measures it, so the two can be compared on the same GGUF file.
//
// The text is encoded with the plan's tokenizer (its own special-token convention, as transformers'
// tokenizer(text) does), then cut into windows of N = --context tokens starting at 0, S, 2S, ...
// (S = --stride, default N: disjoint windows, llama.cpp's default) while a whole window fits. Each
// window runs as a fresh sequence (positions 0..N-1); its second half is scored: the logits of row
// j predict token j + 1 for j in [N/2, N-1), so N - 1 - N/2 tokens per window, each with a context
// of at least N/2 tokens (llama.cpp: first = n_ctx / 2). Only those rows' logits are computed.
// The log-softmax is taken in double over the whole row. Perplexity = exp(sum of -log p / scored).
// NOTE: with S < N/2 a token can be scored by more than one window; each scoring counts.
#pragma once

#include "plan/KVCacheDtype.h"
#include "plan/PlanLoader.h"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace llmrt {
class Executor;
}

namespace llmrt::tools {

struct PerplexityOptions {
  std::string plan;
  std::string textFile;
  int context = 512;  // N: tokens per window
  int stride = 0;     // S: 0 = N
  int maxWindows = 0; // 0 = every window that fits
  int threads = 0;
  bool json = false; // the result as one JSON object on stdout
  std::optional<KVCacheDtype> kvCacheDtype; // unset = the plan's
  LoadOptions load;                          // --mmap
};

struct PerplexityResult {
  double perplexity = 0;
  double nll = 0; // sum of -log p over the scored tokens (nats)
  int64_t scoredTokens = 0;
  int64_t textTokens = 0;
  std::vector<double> windowNll; // per window: mean -log p of its scored tokens
};

// Scores `tokens` as described above on a single-sequence executor whose maxSeqLen() is at least
// the context. Throws llm::Error when the context is below 2 or above the executor's maxSeqLen(),
// the stride is outside [1, context], or fewer than `context` tokens are given.
PerplexityResult perplexity(Executor &executor, std::span<const int32_t> tokens, int context,
                            int stride, int maxWindows = 0);

// Adds the `perplexity` subcommand, filling `options` when parsed.
CLI::App *addPerplexityCommand(CLI::App &app, PerplexityOptions &options);

// Runs the command: prints the running perplexity per window to stderr and the result to stdout.
// Throws llm::Error on a bad plan, file or option.
int runPerplexity(const PerplexityOptions &options);

} // namespace llmrt::tools
