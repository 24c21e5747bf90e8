#include "tools/Perplexity.h"

#include "engine/Executor.h"
#include "plan/PlanLoader.h"
#include "support/Error.h"
#include "tokenizer/PlanTokenizer.h"
#include "tools/KVCacheDtypeOption.h"
#include "tools/WeightMemoryOption.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <sstream>

namespace llmrt::tools {

namespace {

// -log softmax(row)[target], in double over the whole row.
double negativeLogProb(std::span<const float> row, int32_t target) {
  double maxLogit = *std::max_element(row.begin(), row.end());
  double sum = 0;
  for (float x : row)
    sum += std::exp(static_cast<double>(x) - maxLogit);
  return std::log(sum) - (static_cast<double>(row[target]) - maxLogit);
}

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    llm::fail("perplexity: cannot read the text file '{}'", path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

} // namespace

PerplexityResult perplexity(Executor &executor, std::span<const int32_t> tokens, int context,
                            int stride, int maxWindows) {
  if (context < 2 || context > executor.maxSeqLen())
    llm::fail("perplexity: the context is {} tokens, expected 2 to {} (the KV cache's positions)",
              context, executor.maxSeqLen());
  if (stride < 1 || stride > context)
    llm::fail("perplexity: the stride is {}, expected 1 to the context ({})", stride, context);
  if (tokens.size() < static_cast<size_t>(context))
    llm::fail("perplexity: the text has {} tokens, fewer than one window of {}; give a longer "
              "text or a smaller --context",
              tokens.size(), context);
  const int first = context / 2;
  const int vocab = executor.vocabSize();
  std::vector<int32_t> positions(context), rows(context - 1 - first);
  for (int i = 0; i < context; ++i)
    positions[i] = i;
  for (size_t r = 0; r < rows.size(); ++r)
    rows[r] = first + static_cast<int32_t>(r);

  PerplexityResult result;
  result.textTokens = static_cast<int64_t>(tokens.size());
  for (size_t start = 0; start + context <= tokens.size(); start += stride) {
    if (maxWindows > 0 && static_cast<int>(result.windowNll.size()) >= maxWindows)
      break;
    std::span<const int32_t> window = tokens.subspan(start, context);
    executor.reset();
    std::vector<float> logits = executor.forward(window, positions, rows);
    double nll = 0;
    for (size_t r = 0; r < rows.size(); ++r)
      nll += negativeLogProb(std::span(logits).subspan(r * vocab, vocab), window[rows[r] + 1]);
    result.nll += nll;
    result.scoredTokens += static_cast<int64_t>(rows.size());
    result.windowNll.push_back(nll / double(rows.size()));
  }
  executor.reset();
  result.perplexity = std::exp(result.nll / double(result.scoredTokens));
  return result;
}

CLI::App *addPerplexityCommand(CLI::App &app, PerplexityOptions &o) {
  CLI::App *cmd = app.add_subcommand(
      "perplexity", "perplexity of a plan on a text (windows of --context tokens, the second "
                    "half of each scored, as llama.cpp's perplexity tool does)");
  cmd->add_option("plan", o.plan, "the plan file (plan.fb)")->required();
  cmd->add_option("--text", o.textFile, "the text file (UTF-8)")->required();
  cmd->add_option("--context", o.context, "tokens per window")->check(CLI::PositiveNumber);
  cmd->add_option("--stride", o.stride, "tokens between window starts (0 = the context)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--max-windows", o.maxWindows, "score at most this many windows (0 = all)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--threads", o.threads, "CPU threads (0 = all cores)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--json", o.json, "print the result as one JSON object");
  addKVCacheDtypeOption(cmd, o.kvCacheDtype);
  addMmapOption(cmd, o.load);
  return cmd;
}

int runPerplexity(const PerplexityOptions &o) {
  auto plan = LoadedPlan::load(o.plan, o.load);
  std::unique_ptr<Tokenizer> tokenizer = tokenizerFromPlan(*plan);
  if (!tokenizer)
    llm::fail("perplexity: the plan carries no tokenizer (tokenizer.json), so the text cannot be "
              "encoded");
  std::vector<int32_t> tokens = tokenizer->encode(readFile(o.textFile));
  Executor executor(*plan, {.threads = o.threads, .maxSeqLen = o.context,
                            .kvCacheDtype = o.kvCacheDtype});
  auto t0 = std::chrono::steady_clock::now();
  PerplexityResult r =
      perplexity(executor, tokens, o.context, o.stride > 0 ? o.stride : o.context, o.maxWindows);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double running = 0;
  for (size_t w = 0; w < r.windowNll.size(); ++w) {
    running += r.windowNll[w];
    fmt::print(stderr, "[{}] {:.4f}{}", w + 1, std::exp(running / double(w + 1)),
               w + 1 == r.windowNll.size() ? "\n" : " ");
  }
  if (o.json) {
    nlohmann::json j = {{"perplexity", r.perplexity},
                        {"mean_nll", r.nll / double(r.scoredTokens)},
                        {"scored_tokens", r.scoredTokens},
                        {"text_tokens", r.textTokens},
                        {"windows", r.windowNll.size()},
                        {"context", o.context},
                        {"stride", o.stride > 0 ? o.stride : o.context},
                        {"kv_cache_dtype", kvCacheDtypeName(executor.kvCache().dtype())},
                        {"seconds", seconds}};
    fmt::print("{}\n", j.dump());
  } else {
    fmt::print(
        "perplexity: {:.4f} over {} tokens ({} windows of {}, text of {} tokens; {:.1f} s)\n",
        r.perplexity, r.scoredTokens, r.windowNll.size(), o.context, r.textTokens, seconds);
  }
  return 0;
}

} // namespace llmrt::tools
