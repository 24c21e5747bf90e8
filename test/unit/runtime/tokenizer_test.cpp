// Tokenizer parity against the `tokenizers` library / transformers: every fixture tokenizer
// (test/fixtures/tokenizers/<name>, made by tools/fixtures/make_tokenizer_fixtures.py from real
// tokenizer files) must encode and decode every test string exactly as the reference did, the
// incremental detokenizer must reproduce decode() chunk by chunk with valid UTF-8 only, and
// malformed or unsupported tokenizer.json files must be refused with a message naming the problem.
#include "support/Error.h"
#include "tokenizer/Decoder.h"
#include "tokenizer/Detokenizer.h"
#include "tokenizer/Normalizer.h"
#include "tokenizer/PreTokenizer.h"
#include "tokenizer/Tokenizer.h"
#include "tokenizer/Utf8.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

#ifndef LLM_TOKENIZER_FIXTURES
#error "LLM_TOKENIZER_FIXTURES (test/fixtures/tokenizers) must be defined"
#endif

namespace llmrt {
namespace {

using nlohmann::json;

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string fixture(const std::string &rel) {
  return readFile(std::string(LLM_TOKENIZER_FIXTURES) + "/" + rel);
}

const std::vector<std::string> &testStrings() {
  static const std::vector<std::string> strings =
      json::parse(fixture("strings.json")).get<std::vector<std::string>>();
  return strings;
}

// Printable form of a test string for failure messages.
std::string show(std::string_view s) {
  std::string out = json(std::string(s.substr(0, 120))).dump(-1, ' ', true);
  return s.size() > 120 ? out + "..." : out;
}

std::string showIds(const std::vector<int32_t> &ids) {
  std::string out = "[";
  for (size_t i = 0; i < ids.size() && i < 40; ++i) {
    if (i) out += ',';
    out += std::to_string(ids[i]);
  }
  return out + (ids.size() > 40 ? ",...]" : "]");
}

struct Fixture {
  std::unique_ptr<Tokenizer> tokenizer;
  json reference;
};

const Fixture &load(const std::string &name) {
  static std::map<std::string, Fixture> cache;
  auto it = cache.find(name);
  if (it != cache.end()) return it->second;
  Fixture f;
  f.tokenizer = Tokenizer::fromJson(fixture(name + "/tokenizer.json"),
                                    fixture(name + "/tokenizer_config.json"));
  f.reference = json::parse(fixture(name + "/reference.json"));
  return cache.emplace(name, std::move(f)).first->second;
}

// The decoded string of case i: null in the fixture means "equal to the input".
std::string expectedText(const json &list, size_t i) {
  const json &v = list.at(i);
  return v.is_null() ? testStrings().at(i) : v.get<std::string>();
}

class TokenizerParity : public ::testing::TestWithParam<std::string> {};

TEST_P(TokenizerParity, EncodesEveryStringLikeTheReference) {
  const Fixture &f = load(GetParam());
  const auto &strings = testStrings();
  const json &ids = f.reference.at("ids");
  ASSERT_EQ(ids.size(), strings.size());
  int failures = 0;
  for (size_t i = 0; i < strings.size(); ++i) {
    auto expected = ids[i].get<std::vector<int32_t>>();
    auto got = f.tokenizer->encode(strings[i], true);
    if (got != expected && ++failures <= 10)
      ADD_FAILURE() << GetParam() << " string " << i << " " << show(strings[i])
                    << "\n  expected " << showIds(expected) << "\n  got      " << showIds(got);
  }
  EXPECT_EQ(failures, 0) << failures << " of " << strings.size() << " strings differ";
  RecordProperty("strings", static_cast<int>(strings.size()));
}

TEST_P(TokenizerParity, EncodesWithoutSpecialTokensLikeTheReference) {
  const Fixture &f = load(GetParam());
  const json &plain = f.reference.at("ids_plain");
  ASSERT_GT(plain.size(), 100u);
  for (size_t i = 0; i < plain.size(); ++i)
    EXPECT_EQ(f.tokenizer->encode(testStrings()[i], false), plain[i].get<std::vector<int32_t>>())
        << GetParam() << " string " << i << " " << show(testStrings()[i]);
}

TEST_P(TokenizerParity, DecodesLikeTheReference) {
  const Fixture &f = load(GetParam());
  const json &ids = f.reference.at("ids");
  const json &skip = f.reference.at("decoded_skip");
  const json &full = f.reference.at("decoded");
  int failures = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    auto v = ids[i].get<std::vector<int32_t>>();
    std::string got = f.tokenizer->decode(v, true);
    if (got != expectedText(skip, i) && ++failures <= 10)
      ADD_FAILURE() << GetParam() << " skip_special decode of string " << i << "\n  expected "
                    << show(expectedText(skip, i)) << "\n  got      " << show(got);
    if (i < full.size()) {
      got = f.tokenizer->decode(v, false);
      if (got != expectedText(full, i) && ++failures <= 10)
        ADD_FAILURE() << GetParam() << " decode of string " << i << "\n  expected "
                      << show(expectedText(full, i)) << "\n  got      " << show(got);
    }
  }
  EXPECT_EQ(failures, 0);
}

TEST_P(TokenizerParity, IncrementalDetokenizerMatchesDecode) {
  const Fixture &f = load(GetParam());
  const json &ids = f.reference.at("ids");
  int failures = 0;
  for (bool skipSpecial : {true, false}) {
    for (size_t i = 0; i < ids.size(); ++i) {
      auto v = ids[i].get<std::vector<int32_t>>();
      IncrementalDetokenizer detok(*f.tokenizer, skipSpecial);
      std::string streamed;
      bool valid = true;
      for (int32_t id : v) {
        std::string chunk = detok.push(id);
        valid &= tok::findInvalidUtf8(chunk) == std::string::npos;
        streamed += chunk;
      }
      std::string rest = detok.flush();
      valid &= tok::findInvalidUtf8(rest) == std::string::npos;
      streamed += rest;
      std::string whole = f.tokenizer->decode(v, skipSpecial);
      if ((streamed != whole || !valid) && ++failures <= 10)
        ADD_FAILURE() << GetParam() << " string " << i << " skipSpecial=" << skipSpecial
                      << (valid ? "" : " (invalid UTF-8 chunk)") << "\n  decode   " << show(whole)
                      << "\n  streamed " << show(streamed);
    }
  }
  EXPECT_EQ(failures, 0);
}

TEST_P(TokenizerParity, TokenLookupsAreConsistent) {
  const Fixture &f = load(GetParam());
  const Tokenizer &t = *f.tokenizer;
  ASSERT_GT(t.vocabSize(), 1000);
  for (int32_t id = 0; id < t.vocabSize(); id += 97) {
    std::string_view text = t.tokenText(id);
    if (text.empty()) continue;
    EXPECT_EQ(t.tokenId(text), id) << GetParam() << " token " << show(text);
  }
  if (t.bosId() >= 0) {
    EXPECT_EQ(t.tokenId(t.tokenText(t.bosId())), t.bosId());
  }
  ASSERT_FALSE(t.eosIds().empty());
  EXPECT_TRUE(t.isSpecial(t.eosIds()[0]));
  EXPECT_TRUE(t.tokenText(t.vocabSize()).empty());
  EXPECT_TRUE(t.tokenText(-1).empty());
}

INSTANTIATE_TEST_SUITE_P(Fixtures, TokenizerParity,
                         ::testing::Values("smollm2", "llama-spm", "phi-3", "qwen2", "smollm2-hf",
                                           "llama-spm-metaspace", "toy-affixes",
                                           "toy-affixes-fused"),
                         [](const auto &info) {
                           std::string n = info.param;
                           for (char &c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

// encode() is const and shares a word cache between threads: the same results from four threads
// at once as from one.
TEST(TokenizerThreads, ConcurrentEncodesMatchTheReference) {
  for (const char *name : {"smollm2", "llama-spm"}) {
    const Fixture &f = load(name);
    const json &ids = f.reference.at("ids");
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&, t] {
        for (size_t k = 0; k < testStrings().size(); ++k) {
          size_t i = (k * 7 + static_cast<size_t>(t) * 613) % testStrings().size();
          if (f.tokenizer->encode(testStrings()[i]) != ids[i].get<std::vector<int32_t>>())
            ++failures;
        }
      });
    for (auto &th : threads) th.join();
    EXPECT_EQ(failures.load(), 0) << name;
  }
}

// --- single components (components.json) ------------------------------------------------------

const json &components() {
  static const json c = json::parse(fixture("components.json"));
  return c;
}

// The strings components.json was made from: the first non-empty test strings.
std::vector<size_t> componentInputs() {
  std::vector<size_t> idx;
  size_t count = components().at("count").get<size_t>();
  for (size_t i = 0; i < testStrings().size() && idx.size() < count; ++i)
    if (!testStrings()[i].empty()) idx.push_back(i);
  return idx;
}

TEST(TokenizerComponents, PreTokenizersSplitLikeTheReference) {
  auto inputs = componentInputs();
  for (const json &c : components().at("pre_tokenizers")) {
    auto pre = tok::PreTokenizer::fromJson(c.at("config"));
    int failures = 0;
    for (size_t k = 0; k < inputs.size(); ++k) {
      const std::string &s = testStrings()[inputs[k]];
      tok::Pieces pieces;
      pieces.text = s;
      pieces.list = {{0, static_cast<uint32_t>(s.size()), true}};
      pre->apply(pieces);
      std::vector<std::string> got;
      for (const auto &p : pieces.list) got.emplace_back(pieces.view(p));
      auto expected = c.at("pieces")[k].get<std::vector<std::string>>();
      if (got != expected && ++failures <= 3)
        ADD_FAILURE() << c.at("config").dump() << "\n  on " << show(s) << "\n  expected "
                      << json(expected).dump().substr(0, 300) << "\n  got      "
                      << json(got).dump().substr(0, 300);
    }
  }
}

TEST(TokenizerComponents, NormalizersLikeTheReference) {
  auto inputs = componentInputs();
  for (const json &c : components().at("normalizers")) {
    auto norm = tok::Normalizer::fromJson(c.at("config"));
    int failures = 0;
    for (size_t k = 0; k < inputs.size(); ++k) {
      std::string s = testStrings()[inputs[k]];
      norm->normalize(s);
      std::string expected = c.at("outputs")[k].get<std::string>();
      if (s != expected && ++failures <= 3)
        ADD_FAILURE() << c.at("config").dump() << "\n  on " << show(testStrings()[inputs[k]])
                      << "\n  expected " << show(expected) << "\n  got      " << show(s);
    }
  }
}

TEST(TokenizerComponents, DecodersLikeTheReference) {
  auto inputs = componentInputs();
  for (const json &c : components().at("decoders")) {
    auto dec = tok::Decoder::fromJson(c.at("config"));
    const Fixture &f = load(c.at("tokenizer").get<std::string>());
    int failures = 0, checked = 0;
    for (size_t k = 0; k < inputs.size(); ++k) {
      const json &expected = c.at("outputs")[k];
      if (expected.is_null()) continue; // the reference panicked on this one
      std::vector<std::string> tokens;
      for (int32_t id : f.reference.at("ids")[inputs[k]].get<std::vector<int32_t>>())
        tokens.emplace_back(f.tokenizer->tokenText(id));
      dec->decodeChain(tokens);
      std::string got;
      for (const auto &t : tokens) got += t;
      ++checked;
      if (got != expected.get<std::string>() && ++failures <= 3)
        ADD_FAILURE() << c.at("config").dump() << "\n  string " << inputs[k] << "\n  expected "
                      << show(expected.get<std::string>()) << "\n  got      " << show(got);
    }
    EXPECT_GT(checked, 200) << c.at("config").dump();
  }
}

// --- streaming ---------------------------------------------------------------------------------

TEST(IncrementalDetokenizer, HoldsBackSplitCharacters) {
  const Fixture &f = load("llama-spm");
  const Tokenizer &t = *f.tokenizer;
  // "€" in byte fallback: three byte tokens, text only after the third.
  std::vector<int32_t> ids = t.encode("€", false);
  IncrementalDetokenizer d(t);
  std::string all;
  for (size_t i = 0; i < ids.size(); ++i) {
    std::string chunk = d.push(ids[i]);
    if (i + 1 < ids.size()) {
      EXPECT_EQ(chunk, "") << "token " << i;
    }
    all += chunk;
  }
  all += d.flush();
  EXPECT_EQ(all, t.decode(ids, true));
}

TEST(IncrementalDetokenizer, PrimeKeepsSentencePieceSpace) {
  const Fixture &f = load("llama-spm");
  const Tokenizer &t = *f.tokenizer;
  std::vector<int32_t> prompt = t.encode("Hello", false);
  std::vector<int32_t> next = t.encode("Hello world", false);
  ASSERT_GT(next.size(), prompt.size());
  IncrementalDetokenizer d(t);
  d.prime(prompt);
  std::string streamed;
  for (size_t i = prompt.size(); i < next.size(); ++i) streamed += d.push(next[i]);
  streamed += d.flush();
  EXPECT_EQ(streamed, " world");
}

TEST(IncrementalDetokenizer, FlushEmitsIncompleteCharacterAsReplacement) {
  const Fixture &f = load("smollm2");
  const Tokenizer &t = *f.tokenizer;
  std::vector<int32_t> ids = t.encode("😀", false);
  ASSERT_GE(ids.size(), 2u);
  IncrementalDetokenizer d(t);
  EXPECT_EQ(d.push(ids[0]), "");
  EXPECT_EQ(d.flush(), t.decode(std::span(ids).first(1), true));
}

// --- malformed and unsupported files -----------------------------------------------------------

std::string minimalJson(const std::string &model) {
  return R"({"version":"1.0","added_tokens":[],"normalizer":null,"pre_tokenizer":null,)"
         R"("post_processor":null,"decoder":null,"model":)" +
         model + "}";
}

const std::string kModel =
    R"({"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]})";

void expectError(const std::string &tokenizerJson, const std::string &needle,
                 const std::string &config = "") {
  try {
    Tokenizer::fromJson(tokenizerJson, config);
    ADD_FAILURE() << "accepted: " << tokenizerJson.substr(0, 200);
  } catch (const llm::Error &e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
        << "message: " << e.what() << "\nexpected to contain: " << needle;
  }
}

TEST(TokenizerErrors, MinimalFileWorks) {
  auto t = Tokenizer::fromJson(minimalJson(kModel), "");
  EXPECT_EQ(t->encode("abab"), (std::vector<int32_t>{2, 2}));
  EXPECT_EQ(t->decode(std::vector<int32_t>{2, 0}), "ab a"); // no decoder: joined with spaces
}

TEST(TokenizerErrors, BadJson) {
  expectError("{\"model\": ", "tokenizer.json: not valid JSON");
  expectError("[1, 2]", "not a JSON object");
  expectError(minimalJson(kModel), "tokenizer_config.json: not valid JSON", "{oops");
}

TEST(TokenizerErrors, UnknownModelType) {
  expectError(minimalJson(R"({"type":"Unigram","vocab":[["a",0.0]],"unk_id":0})"),
              "model type 'Unigram' is not supported");
  expectError(minimalJson(R"({"type":"WordPiece","vocab":{"a":0}})"), "'WordPiece'");
  expectError(R"({"added_tokens":[]})", "has no \"model\"");
}

TEST(TokenizerErrors, MissingVocab) {
  expectError(minimalJson(R"({"type":"BPE","merges":[]})"), "has no \"vocab\"");
  expectError(minimalJson(R"({"type":"BPE","vocab":{"a":0}})"), "has no \"merges\"");
  expectError(minimalJson(R"({"type":"BPE","vocab":{"a":-1},"merges":[]})"), "vocab entry 'a'");
}

TEST(TokenizerErrors, MergesReferringToUnknownTokens) {
  expectError(minimalJson(R"({"type":"BPE","vocab":{"a":0,"ab":2},"merges":["a b"]})"),
              "names 'b', which is not in the vocabulary");
  expectError(minimalJson(R"({"type":"BPE","vocab":{"a":0,"b":1},"merges":[["a","b"]]})"),
              "makes 'ab', which is not in the vocabulary");
  expectError(minimalJson(R"({"type":"BPE","vocab":{"a":0,"b":1},"merges":["a b c"]})"),
              "not two tokens");
}

TEST(TokenizerErrors, UnsupportedComponentsAreNamed) {
  auto withComponent = [](const std::string &key, const std::string &value) {
    std::string j = minimalJson(kModel);
    std::string from = "\"" + key + "\":null";
    return j.replace(j.find(from), from.size(), "\"" + key + "\":" + value);
  };
  expectError(withComponent("normalizer", R"({"type":"Lowercase"})"),
              "normalizer type 'Lowercase' is not supported");
  expectError(withComponent("pre_tokenizer", R"({"type":"Whitespace"})"),
              "pre_tokenizer type 'Whitespace' is not supported");
  expectError(withComponent("decoder", R"({"type":"WordPiece","prefix":"##"})"),
              "decoder type 'WordPiece' is not supported");
  expectError(withComponent("post_processor", R"({"type":"BertProcessing","sep":["[SEP]",1],"cls":["[CLS]",0]})"),
              "post_processor type 'BertProcessing' is not supported");
  expectError(withComponent("pre_tokenizer",
                            R"({"type":"Split","pattern":{"Regex":"(unclosed"},"behavior":"Isolated","invert":false})"),
              "pre_tokenizer Split regex '(unclosed' does not compile");
  expectError(withComponent("pre_tokenizer",
                            R"({"type":"Split","pattern":{"Regex":"a"},"behavior":"Sideways","invert":false})"),
              "behavior 'Sideways'");
  expectError(R"({"model":{"type":"BPE","vocab":{"a":0},"merges":[],"dropout":0.1}})",
              "dropout is not supported");
  expectError(R"({"model":{"type":"BPE","vocab":{"a":0},"merges":[],"unk_token":"<unk>"}})",
              "unk_token '<unk>' is not in the vocabulary");
  expectError(minimalJson(kModel), "bos_token '<s>' is not in the vocabulary",
              R"({"bos_token":"<s>"})");
}

TEST(TokenizerErrors, DeeplyNestedSequencesAreRefused) {
  std::string nested = R"({"type":"NFC"})";
  for (int i = 0; i < 1000; ++i) nested = R"({"type":"Sequence","normalizers":[)" + nested + "]}";
  std::string j = minimalJson(kModel);
  std::string from = "\"normalizer\":null";
  j.replace(j.find(from), from.size(), "\"normalizer\":" + nested);
  expectError(j, "normalizer Sequences are nested more than 32 deep");
}

TEST(TokenizerErrors, InvalidUtf8InputIsRefused) {
  auto t = Tokenizer::fromJson(minimalJson(kModel), "");
  EXPECT_THROW(t->encode(std::string("a\xC3", 2)), llm::Error);
  EXPECT_THROW(t->encode(std::string("\xED\xA0\x80", 3)), llm::Error); // a surrogate
}

} // namespace
} // namespace llmrt
