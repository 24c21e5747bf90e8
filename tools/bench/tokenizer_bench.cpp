// Encode throughput of the runtime tokenizer, one thread: reads a tokenizer folder
// (tokenizer.json + tokenizer_config.json) and a JSON list of documents, encodes every document
// once with a fresh tokenizer (cold word cache), then `--repeat` more times, and prints one JSON
// line: bytes, tokens, the best pass's seconds and MB/s, the first pass's MB/s, the load time, and
// an FNV-1a hash of all ids (to compare with another implementation). Driven by
// tools/bench/tokenizer_bench.py; not a test.
#include "support/Error.h"
#include "tokenizer/Tokenizer.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace {

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) llm::fail("cannot read {}", path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

double seconds(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: tokenizer_bench TOKENIZER_DIR DOCUMENTS.json [--repeat N]\n");
    return 2;
  }
  int repeat = 3;
  for (int i = 3; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--repeat") repeat = std::max(1, std::atoi(argv[i + 1]));
  try {
    std::string dir = argv[1];
    std::string tj = readFile(dir + "/tokenizer.json"), cfg = readFile(dir + "/tokenizer_config.json");
    auto docs = nlohmann::json::parse(readFile(argv[2])).get<std::vector<std::string>>();
    auto t0 = std::chrono::steady_clock::now();
    auto tokenizer = llmrt::Tokenizer::fromJson(tj, cfg);
    double load = seconds(t0, std::chrono::steady_clock::now());

    size_t bytes = 0, tokens = 0;
    uint64_t hash = 1469598103934665603ull;
    auto c0 = std::chrono::steady_clock::now();
    for (const auto &d : docs) { // the first (cold-cache) pass, also the hash
      bytes += d.size();
      auto ids = tokenizer->encode(d, false);
      tokens += ids.size();
      for (int32_t id : ids) hash = (hash ^ static_cast<uint32_t>(id)) * 1099511628211ull;
    }
    double cold = seconds(c0, std::chrono::steady_clock::now());
    double best = 1e30;
    for (int r = 0; r < repeat; ++r) {
      auto a = std::chrono::steady_clock::now();
      size_t n = 0;
      for (const auto &d : docs) n += tokenizer->encode(d, false).size();
      best = std::min(best, seconds(a, std::chrono::steady_clock::now()));
      if (n != tokens) llm::fail("token count changed between passes");
    }
    std::printf("{\"bytes\": %zu, \"tokens\": %zu, \"seconds\": %.6f, \"mb_per_s\": %.3f, "
                "\"cold_mb_per_s\": %.3f, \"load_seconds\": %.4f, \"hash\": \"%016llx\"}\n",
                bytes, tokens, best, bytes / best / 1e6, bytes / cold / 1e6, load,
                static_cast<unsigned long long>(hash));
  } catch (const std::exception &e) {
    std::fprintf(stderr, "tokenizer_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
