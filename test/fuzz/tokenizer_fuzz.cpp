// libFuzzer target for the tokenizer. The first byte picks what the rest is:
//   even: a tokenizer.json (untrusted: plans carry it) — it must load or be refused with
//         llm::Error, and whatever loads must encode and decode a fixed text;
//   odd:  text for a real tokenizer (SmolLM2's, from the fixtures), encoded (or refused with
//         llm::Error when it is not UTF-8), decoded, and streamed through the incremental
//         detokenizer; and the same bytes read as token ids, which must always decode.
// Built and run by tools/fuzz.sh (clang, ASan + UBSan); the fixture folder comes from
// LLM_TOKENIZER_FIXTURES or the working directory's test/fixtures/tokenizers.
#include "support/Error.h"
#include "tokenizer/Detokenizer.h"
#include "tokenizer/Tokenizer.h"

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace {

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

const llmrt::Tokenizer &realTokenizer() {
  static std::unique_ptr<llmrt::Tokenizer> tok = [] {
    const char *env = std::getenv("LLM_TOKENIZER_FIXTURES");
    std::string dir = std::string(env ? env : "test/fixtures/tokenizers") + "/smollm2/";
    return llmrt::Tokenizer::fromJson(readFile(dir + "tokenizer.json"),
                                      readFile(dir + "tokenizer_config.json"));
  }();
  return *tok;
}

void exercise(const llmrt::Tokenizer &tok, std::string_view text) {
  std::vector<int32_t> ids = tok.encode(text);
  (void)tok.decode(ids);
  llmrt::IncrementalDetokenizer detok(tok);
  std::string streamed;
  for (int32_t id : ids)
    streamed += detok.push(id);
  streamed += detok.flush();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  std::string_view rest(reinterpret_cast<const char *>(data + 1), size - 1);
  if (data[0] % 2 == 0) {
    try {
      auto tok = llmrt::Tokenizer::fromJson(rest, "");
      exercise(*tok, "Hello, world! 123 \xe4\xbd\xa0\xe5\xa5\xbd <|im_end|>");
    } catch (const llm::Error &) {
    }
    return 0;
  }
  const llmrt::Tokenizer &tok = realTokenizer();
  try {
    exercise(tok, rest);
  } catch (const llm::Error &) {
    // Refused input (text that is not UTF-8): an error value, not a crash.
  }
  // The same bytes as token ids (in range): decoding and streaming must never fail.
  std::vector<int32_t> ids;
  for (size_t i = 0; i + 2 <= rest.size(); i += 2)
    ids.push_back((uint8_t(rest[i]) | uint8_t(rest[i + 1]) << 8) % tok.vocabSize());
  (void)tok.decode(ids);
  llmrt::IncrementalDetokenizer detok(tok, /*skipSpecial=*/false);
  for (int32_t id : ids)
    (void)detok.push(id);
  (void)detok.flush();
  return 0;
}
