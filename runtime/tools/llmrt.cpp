// llmrt: runs plans written by llmc.
//
//   llmrt info PLAN
//   llmrt generate PLAN (--prompt TEXT | --prompt-ids 1,2,3) [--show-ids] [--ignore-eos]
//                       [--max-tokens N] [--temperature T] [--top-k K] [--top-p P] [--seed S]
//                       [--threads N] [--max-seq-len N] [--kv-cache-dtype auto|f32|bf16|fp8_e4m3]
//   llmrt bench PLAN [--num-requests N] [--seed S] [--max-num-batched-tokens N] [--max-num-seqs N]
//                    [--kv-cache-memory BYTES] [--block-size N] [--threads N] [--sequential]
//                    [--kv-cache-dtype auto|f32|bf16|fp8_e4m3]
//   llmrt serve PLAN [--host H] [--port P] [--api-key KEY] [--served-model-name NAME] ...
//                    (runtime/tools/Serve.h)
//   llmrt bench-serve [--url URL] [--endpoint PATH] [--num-requests N] [--request-rate R]
//                     [--max-concurrency C] [--json FILE] ...   (runtime/tools/BenchServe.h)
//   llmrt perplexity PLAN --text FILE [--context N] [--stride S] [--json]
//                    (runtime/tools/Perplexity.h)
//
// Every failure (a bad plan, a bad option, a bad input) prints "llmrt: error: ..." and exits 1.
#include "backends/cpu/Isa.h"
#include "engine/Executor.h"
#include "plan/PlanLoader.h"
#include "sampler/Sampler.h"
#include "support/Error.h"
#include "tokenizer/Detokenizer.h"
#include "tokenizer/PlanTokenizer.h"
#include "tools/Bench.h"
#include "tools/BenchServe.h"
#include "tools/Perplexity.h"
#include "tools/KVCacheDtypeOption.h"
#include "tools/WeightMemoryOption.h"
#include "tools/Serve.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kFallbackMaxTokens = 128;

struct GenerateOptions {
  std::string plan;
  std::string promptIds;
  std::string promptText;
  int maxTokens = 0;
  float temperature = 0;
  int topK = 0;
  float topP = 1;
  uint64_t seed = 0;
  int threads = 0;
  int maxSeqLen = 0;
  // Which sampling options the user gave (the others come from the plan's generation defaults).
  bool hasPromptIds = false, hasPromptText = false;
  bool showIds = false;
  bool ignoreEos = false; // benchmarks: always generate --max-tokens tokens
  std::optional<llmrt::KVCacheDtype> kvCacheDtype; // unset = the plan's
  llmrt::LoadOptions load;                         // --mmap
  bool hasMaxTokens = false, hasTemperature = false, hasTopK = false, hasTopP = false;
};

// "1,2, 3" -> {1, 2, 3}; anything else is an error naming the bad piece.
std::vector<int32_t> parseIds(const std::string &text) {
  std::vector<int32_t> ids;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos)
      end = text.size();
    std::string piece = text.substr(start, end - start);
    size_t b = piece.find_first_not_of(" \t"), e = piece.find_last_not_of(" \t");
    piece = b == std::string::npos ? "" : piece.substr(b, e - b + 1);
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(piece, &used);
    } catch (const std::exception &) {
      used = 0;
    }
    if (piece.empty() || used != piece.size() || v < 0 || v > std::numeric_limits<int32_t>::max())
      llm::fail("--prompt-ids: '{}' is not a token id, expected comma-separated non-negative "
                "integers like 1,2,3",
                piece);
    ids.push_back(static_cast<int32_t>(v));
    start = end + 1;
  }
  return ids;
}

llmrt::SamplingParams samplingParams(const GenerateOptions &o, const llmrt::fb::Plan &plan) {
  llmrt::SamplingParams s;
  // Without generation defaults in the plan, decoding is greedy unless the user says otherwise.
  if (const llmrt::fb::GenerationDefaults *g = plan.generation()) {
    s.temperature = g->temperature();
    s.topK = g->top_k();
    s.topP = g->top_p();
  }
  if (o.hasTemperature)
    s.temperature = o.temperature;
  if (o.hasTopK)
    s.topK = o.topK;
  if (o.hasTopP)
    s.topP = o.topP;
  s.seed = o.seed;
  return s;
}

bool isEos(const llmrt::fb::Plan &plan, int32_t token) {
  const llmrt::fb::GenerationDefaults *g = plan.generation();
  if (!g || !g->eos_token_ids())
    return false;
  for (int id : *g->eos_token_ids())
    if (id == token)
      return true;
  return false;
}

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Prints what generation produces: text through the incremental detokenizer (never half a UTF-8
// character) when the prompt was text, token ids when it was ids or --show-ids asks for them.
class Printer {
public:
  Printer(const llmrt::Tokenizer *tokenizer, std::span<const int32_t> prompt, bool text, bool ids)
      : text_(text && tokenizer), ids_(ids) {
    if (text_) {
      detok_.emplace(*tokenizer);
      detok_->prime(prompt);
    }
  }
  void token(int32_t id) {
    if (text_)
      fmt::print("{}", detok_->push(id));
    else if (ids_)
      fmt::print("{}{}", count_ > 0 ? " " : "", id);
    if (ids_)
      idList_ += fmt::format("{}{}", count_ > 0 ? " " : "", id);
    ++count_;
    std::fflush(stdout);
  }
  void finish() {
    if (text_)
      fmt::print("{}\n", detok_->flush());
    if (ids_ && text_)
      fmt::print("[ids] {}\n", idList_);
    else if (ids_)
      fmt::print("\n");
    std::fflush(stdout);
  }

private:
  bool text_, ids_;
  std::optional<llmrt::IncrementalDetokenizer> detok_;
  std::string idList_;
  int count_ = 0;
};

int generate(const GenerateOptions &o) {
  if (o.hasPromptText == o.hasPromptIds)
    llm::fail("generate: give exactly one of --prompt TEXT and --prompt-ids 1,2,3");
  auto plan = llmrt::LoadedPlan::load(o.plan, o.load);
  const llmrt::fb::Plan &p = plan->plan();
  std::unique_ptr<llmrt::Tokenizer> tokenizer = llmrt::tokenizerFromPlan(*plan);
  if (o.hasPromptText && !tokenizer)
    llm::fail("generate: the plan carries no tokenizer (tokenizer.json), so --prompt TEXT cannot "
              "be encoded; give token ids with --prompt-ids 1,2,3");
  std::vector<int32_t> prompt =
      o.hasPromptText ? tokenizer->encode(o.promptText) : parseIds(o.promptIds);
  if (prompt.empty())
    llm::fail("generate: the prompt encodes to no tokens");
  int maxTokens = o.hasMaxTokens ? o.maxTokens
                  : p.generation() && p.generation()->max_new_tokens() > 0
                      ? p.generation()->max_new_tokens()
                      : kFallbackMaxTokens;
  if (maxTokens < 1)
    llm::fail("--max-tokens is {}, expected at least 1", maxTokens);
  llmrt::Sampler sampler(samplingParams(o, p));
  // The KV cache holds what this generation can use (the prompt and --max-tokens new tokens,
  // within the plan's maximum) unless --max-seq-len says otherwise: a cache sized for the plan's
  // maximum commits a 2 MiB huge page per layer and K / V at the first step, whatever the
  // prompt's length (PagedKVCache.h).
  int maxSeqLen = o.maxSeqLen;
  if (maxSeqLen == 0) {
    const int64_t planMax = p.kv_cache() ? p.kv_cache()->max_seq_len() : 0;
    const int64_t need = static_cast<int64_t>(prompt.size()) + maxTokens;
    maxSeqLen = static_cast<int>(planMax > 0 ? std::min(need, planMax) : need);
  }
  llmrt::Executor executor(
      *plan, {.threads = o.threads, .maxSeqLen = maxSeqLen, .kvCacheDtype = o.kvCacheDtype});
  if (static_cast<int>(prompt.size()) >= executor.maxSeqLen())
    llm::fail("generate: the prompt has {} tokens, but the KV cache holds {} positions; raise "
              "--max-seq-len",
              prompt.size(), executor.maxSeqLen());

  // Prefill: the whole prompt in one step, logits of its last row only.
  std::vector<int32_t> positions(prompt.size());
  for (size_t i = 0; i < prompt.size(); ++i)
    positions[i] = static_cast<int32_t>(i);
  int32_t lastRow[1] = {static_cast<int32_t>(prompt.size() - 1)};
  auto t0 = Clock::now();
  std::vector<float> logits = executor.forward(prompt, positions, lastRow);
  auto t1 = Clock::now();
  int generated = 0;
  int32_t pos = static_cast<int32_t>(prompt.size());
  bool capacityHit = false;
  Printer printer(tokenizer.get(), prompt, o.hasPromptText, o.hasPromptIds || o.showIds);
  while (true) {
    int32_t token = sampler.sample(logits);
    ++generated;
    printer.token(token);
    if (generated >= maxTokens || (!o.ignoreEos && isEos(p, token)))
      break;
    if (pos >= executor.maxSeqLen()) {
      capacityHit = true;
      break;
    }
    int32_t zero[1] = {0};
    logits = executor.forward(std::span(&token, 1), std::span(&pos, 1), zero);
    ++pos;
  }
  auto t2 = Clock::now();
  printer.finish();
  if (capacityHit)
    fmt::print(stderr, "llmrt: stopped: the KV cache is full ({} positions)\n",
               executor.maxSeqLen());
  double prefill = seconds(t1 - t0), decode = seconds(t2 - t1);
  fmt::print(stderr,
             "prompt tokens: {}, generated tokens: {}, prefill: {:.1f} tokens/s, decode: {:.1f} "
             "tokens/s\n",
             prompt.size(), generated, prompt.size() / std::max(prefill, 1e-9),
             (generated - 1) / std::max(decode, 1e-9));
  return 0;
}

int info(const std::string &planPath) {
  // Nothing runs: the weight files are only checked, so they stay mapped (no copy).
  auto plan = llmrt::LoadedPlan::load(planPath, {.weightMemory = llmrt::WeightMemory::Mapped});
  fmt::print("{}", plan->describe());
  fmt::print("this CPU runs: {} (LLMRT_CPU_ISA caps them)\n", llmrt::cpu::describeIsas());
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  CLI::App app{"llmrt: runs plans compiled by llmc"};
  app.require_subcommand(1);

  std::string infoPlan;
  CLI::App *infoCmd = app.add_subcommand("info", "print what a plan holds");
  infoCmd->add_option("plan", infoPlan, "the plan file (plan.fb)")->required();

  llmrt::tools::BenchOptions benchOptions;
  CLI::App *benchCmd = llmrt::tools::addBenchCommand(app, benchOptions);
  llmrt::tools::ServeOptions serveOptions;
  CLI::App *serveCmd = llmrt::tools::addServeCommand(app, serveOptions);
  llmrt::tools::BenchServeOptions benchServeOptions;
  CLI::App *benchServeCmd = llmrt::tools::addBenchServeCommand(app, benchServeOptions);
  llmrt::tools::PerplexityOptions perplexityOptions;
  CLI::App *perplexityCmd = llmrt::tools::addPerplexityCommand(app, perplexityOptions);

  GenerateOptions g;
  CLI::App *gen = app.add_subcommand("generate", "generate tokens from a prompt");
  gen->add_option("plan", g.plan, "the plan file (plan.fb)")->required();
  CLI::Option *ids = gen->add_option("--prompt-ids", g.promptIds, "prompt token ids: 1,2,3");
  CLI::Option *text = gen->add_option("--prompt", g.promptText,
                                      "prompt text, encoded with the plan's tokenizer; the "
                                      "output is printed as text while it is generated");
  ids->excludes(text);
  gen->add_flag("--show-ids", g.showIds, "also print the generated token ids");
  gen->add_flag("--ignore-eos", g.ignoreEos, "do not stop at an end-of-sequence token");
  CLI::Option *maxTokens =
      gen->add_option("--max-tokens", g.maxTokens, "tokens to generate (default: the plan's)");
  CLI::Option *temp = gen->add_option("--temperature", g.temperature, "0 = greedy");
  CLI::Option *topK = gen->add_option("--top-k", g.topK, "keep the k most likely tokens (0 = all)");
  CLI::Option *topP = gen->add_option("--top-p", g.topP, "nucleus mass in (0, 1]");
  gen->add_option("--seed", g.seed, "sampling seed");
  gen->add_option("--threads", g.threads, "CPU threads (0 = all cores)")
      ->check(CLI::NonNegativeNumber);
  gen->add_option("--max-seq-len", g.maxSeqLen,
                  "KV cache positions (0 = the prompt's and --max-tokens', within the plan's "
                  "maximum)")
      ->check(CLI::NonNegativeNumber);
  llmrt::tools::addKVCacheDtypeOption(gen, g.kvCacheDtype);
  llmrt::tools::addMmapOption(gen, g.load);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    if (e.get_exit_code() == 0)
      return app.exit(e); // --help
    fmt::print(stderr, "llmrt: error: {}\n", e.what());
    return 1;
  }
  g.hasPromptIds = ids->count() > 0;
  g.hasPromptText = text->count() > 0;
  g.hasMaxTokens = maxTokens->count() > 0;
  g.hasTemperature = temp->count() > 0;
  g.hasTopK = topK->count() > 0;
  g.hasTopP = topP->count() > 0;

  try {
    if (infoCmd->parsed())
      return info(infoPlan);
    if (benchCmd->parsed())
      return llmrt::tools::runBench(benchOptions);
    if (serveCmd->parsed())
      return llmrt::tools::runServe(serveOptions);
    if (benchServeCmd->parsed())
      return llmrt::tools::runBenchServe(benchServeOptions);
    if (perplexityCmd->parsed())
      return llmrt::tools::runPerplexity(perplexityOptions);
    return generate(g);
  } catch (const llm::Error &e) {
    fmt::print(stderr, "llmrt: error: {}\n", e.what());
  } catch (const std::exception &e) {
    fmt::print(stderr, "llmrt: error: {}\n", e.what());
  }
  return 1;
}
