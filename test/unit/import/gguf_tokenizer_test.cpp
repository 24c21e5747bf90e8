// GGUF tokenizer metadata -> tokenizer.json: for each fixture GGUF the converted file must equal,
// component by component, the tokenizer.json transformers wrote for the same GGUF
// (test/fixtures/tokenizers/<name>/, tools/fixtures/make_tokenizer_fixtures.py), and the runtime
// tokenizer built from it must encode and decode the whole string set like the reference.
// Qwen2's vocabulary GGUF (5.9 MB) is not committed: its GGUF is rebuilt here from the committed
// tokenizer.json (tokens by id, merges, token types from the added tokens), which exercises the
// qwen2 pre-tokenizer mapping. Unsupported or malformed metadata must be refused by name.
#include "import/GGUFTokenizer.h"
#include "support/Error.h"
#include "tokenizer/Tokenizer.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstring>
#include <fstream>
#include <sstream>

#ifndef LLM_TOKENIZER_FIXTURES
#error "LLM_TOKENIZER_FIXTURES (test/fixtures/tokenizers) must be defined"
#endif

namespace {

using nlohmann::json;

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string fixturePath(const std::string &rel) {
  return std::string(LLM_TOKENIZER_FIXTURES) + "/" + rel;
}

// A GGUF v3 file with metadata only.
class GGUFBuilder {
public:
  GGUFBuilder &str(const std::string &key, const std::string &v) {
    header(key, 8);
    putString(v);
    return *this;
  }
  GGUFBuilder &u32(const std::string &key, uint32_t v) {
    header(key, 4);
    put(v);
    return *this;
  }
  GGUFBuilder &boolean(const std::string &key, bool v) {
    header(key, 7);
    bytes_.push_back(v ? 1 : 0);
    return *this;
  }
  GGUFBuilder &strings(const std::string &key, const std::vector<std::string> &v) {
    header(key, 9);
    put(uint32_t{8});
    put(static_cast<uint64_t>(v.size()));
    for (const auto &s : v) putString(s);
    return *this;
  }
  GGUFBuilder &i32s(const std::string &key, const std::vector<int32_t> &v) {
    header(key, 9);
    put(uint32_t{5});
    put(static_cast<uint64_t>(v.size()));
    for (int32_t x : v) put(x);
    return *this;
  }
  GGUFBuilder &f32s(const std::string &key, const std::vector<float> &v) {
    header(key, 9);
    put(uint32_t{6});
    put(static_cast<uint64_t>(v.size()));
    for (float x : v) put(x);
    return *this;
  }
  llmc::GGUFFile file(const std::string &name) const {
    std::vector<uint8_t> out;
    auto append = [&](const auto &x) {
      const auto *p = reinterpret_cast<const uint8_t *>(&x);
      out.insert(out.end(), p, p + sizeof(x));
    };
    out.insert(out.end(), {'G', 'G', 'U', 'F'});
    append(uint32_t{3});
    append(uint64_t{0}); // tensors
    append(count_);
    out.insert(out.end(), bytes_.begin(), bytes_.end());
    while (out.size() % 32) out.push_back(0);
    return llmc::GGUFFile::fromBytes(out, name);
  }

private:
  template <typename T> void put(T v) {
    const auto *p = reinterpret_cast<const uint8_t *>(&v);
    bytes_.insert(bytes_.end(), p, p + sizeof(v));
  }
  void putString(const std::string &s) {
    put(static_cast<uint64_t>(s.size()));
    bytes_.insert(bytes_.end(), s.begin(), s.end());
  }
  void header(const std::string &key, uint32_t type) {
    putString(key);
    put(type);
    ++count_;
  }
  std::vector<uint8_t> bytes_;
  uint64_t count_ = 0;
};

// The vocabulary GGUF that tokenizer.json came from, rebuilt from it (byte-level vocabularies:
// GGUF tokens are spelled as in tokenizer.json).
llmc::GGUFFile ggufFromTokenizerJson(const json &tj, const json &config, const std::string &arch,
                                     const std::string &pre) {
  const json &vocab = tj.at("model").at("vocab");
  std::vector<std::string> tokens(vocab.size());
  for (auto it = vocab.begin(); it != vocab.end(); ++it) tokens.at(it->get<size_t>()) = it.key();
  std::vector<int32_t> types(tokens.size(), 1);
  for (const json &t : tj.at("added_tokens"))
    types.at(t.at("id").get<size_t>()) = t.at("special").get<bool>() ? 3 : 4;
  std::vector<std::string> merges;
  for (const json &m : tj.at("model").at("merges"))
    merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
  auto idOf = [&](const char *key) { return vocab.at(config.at(key).get<std::string>()).get<uint32_t>(); };
  GGUFBuilder b;
  b.str("general.architecture", arch)
      .str("tokenizer.ggml.model", "gpt2")
      .str("tokenizer.ggml.pre", pre)
      .strings("tokenizer.ggml.tokens", tokens)
      .i32s("tokenizer.ggml.token_type", types)
      .strings("tokenizer.ggml.merges", merges)
      .u32("tokenizer.ggml.bos_token_id", idOf("bos_token"))
      .u32("tokenizer.ggml.eos_token_id", idOf("eos_token"))
      .u32("tokenizer.ggml.padding_token_id", idOf("pad_token"));
  return b.file(arch + "-rebuilt.gguf");
}

void expectSameTokenizerJson(const json &ours, const json &ref, const std::string &name) {
  for (const char *key : {"normalizer", "pre_tokenizer", "post_processor", "decoder", "added_tokens"})
    EXPECT_EQ(ours.at(key), ref.at(key)) << name << ": " << key << " differs\n  ours: "
                                         << ours.at(key).dump().substr(0, 600)
                                         << "\n  transformers: " << ref.at(key).dump().substr(0, 600);
  const json &m = ours.at("model"), &r = ref.at("model");
  for (auto it = r.begin(); it != r.end(); ++it) {
    ASSERT_TRUE(m.contains(it.key())) << name << ": model." << it.key() << " missing";
    if (it.key() == "vocab" || it.key() == "merges") continue;
    EXPECT_EQ(m.at(it.key()), it.value()) << name << ": model." << it.key() << " differs";
  }
  EXPECT_EQ(m.at("vocab"), r.at("vocab")) << name << ": vocabularies differ";
  ASSERT_EQ(m.at("merges").size(), r.at("merges").size()) << name << ": merge counts differ";
  for (size_t i = 0; i < r.at("merges").size(); ++i)
    if (m.at("merges")[i] != r.at("merges")[i]) {
      ADD_FAILURE() << name << ": merge " << i << " is " << m.at("merges")[i].dump()
                    << ", transformers has " << r.at("merges")[i].dump();
      break;
    }
}

void expectSameConfig(const json &ours, const json &ref, const std::string &name) {
  for (const char *key : {"bos_token", "eos_token", "unk_token", "pad_token"})
    EXPECT_EQ(ours.value(key, json()), ref.value(key, json())) << name << ": " << key;
}

// The converted tokenizer against the reference ids and decodes of the transformers-made one.
void expectSameTokenization(const std::string &tokenizerJson, const std::string &configJson,
                            const std::string &name) {
  auto tokenizer = llmrt::Tokenizer::fromJson(tokenizerJson, configJson);
  auto strings = json::parse(readFile(fixturePath("strings.json"))).get<std::vector<std::string>>();
  json ref = json::parse(readFile(fixturePath(name + "/reference.json")));
  const json &ids = ref.at("ids"), &skip = ref.at("decoded_skip");
  ASSERT_EQ(ids.size(), strings.size());
  int failures = 0;
  for (size_t i = 0; i < strings.size(); ++i) {
    auto expected = ids[i].get<std::vector<int32_t>>();
    if (tokenizer->encode(strings[i]) != expected && ++failures <= 5)
      ADD_FAILURE() << name << ": string " << i << " encodes differently";
    std::string decoded = skip[i].is_null() ? strings[i] : skip[i].get<std::string>();
    if (tokenizer->decode(expected, true) != decoded && ++failures <= 5)
      ADD_FAILURE() << name << ": string " << i << " decodes differently";
  }
  EXPECT_EQ(failures, 0) << name << ": " << failures << " of " << strings.size() << " differ";
}

class CommittedGGUF : public ::testing::TestWithParam<std::string> {};

TEST_P(CommittedGGUF, ConvertsLikeTransformers) {
  const std::string name = GetParam();
  llmc::GGUFFile f = llmc::GGUFFile::open(fixturePath("gguf/" + name + ".gguf"));
  std::string tokenizerJson = llmc::ggufTokenizerJson(f);
  std::string configJson = llmc::ggufTokenizerConfigJson(f);
  expectSameTokenizerJson(json::parse(tokenizerJson),
                          json::parse(readFile(fixturePath(name + "/tokenizer.json"))), name);
  expectSameConfig(json::parse(configJson),
                   json::parse(readFile(fixturePath(name + "/tokenizer_config.json"))), name);
  expectSameTokenization(tokenizerJson, configJson, name);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, CommittedGGUF,
                         ::testing::Values("smollm2", "llama-spm", "phi-3"), [](const auto &info) {
                           std::string n = info.param;
                           for (char &c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

TEST(GGUFTokenizer, Qwen2ConvertsLikeTransformers) {
  json ref = json::parse(readFile(fixturePath("qwen2/tokenizer.json")));
  json refConfig = json::parse(readFile(fixturePath("qwen2/tokenizer_config.json")));
  llmc::GGUFFile f = ggufFromTokenizerJson(ref, refConfig, "qwen2", "qwen2");
  std::string tokenizerJson = llmc::ggufTokenizerJson(f);
  std::string configJson = llmc::ggufTokenizerConfigJson(f);
  expectSameTokenizerJson(json::parse(tokenizerJson), ref, "qwen2");
  expectSameConfig(json::parse(configJson), refConfig, "qwen2");
  expectSameTokenization(tokenizerJson, configJson, "qwen2");
}

TEST(GGUFTokenizer, ChatTemplateGoesToTheConfig) {
  GGUFBuilder b;
  b.str("general.architecture", "llama")
      .str("tokenizer.ggml.model", "gpt2")
      .str("tokenizer.ggml.pre", "gpt-2")
      .strings("tokenizer.ggml.tokens", {"a", "b", "ab", "<|end|>"})
      .i32s("tokenizer.ggml.token_type", {1, 1, 1, 3})
      .strings("tokenizer.ggml.merges", {"a b"})
      .u32("tokenizer.ggml.eos_token_id", 3)
      .boolean("tokenizer.ggml.add_eos_token", true)
      .str("tokenizer.chat_template", "{{ messages }}");
  llmc::GGUFFile f = b.file("tiny.gguf");
  json config = json::parse(llmc::ggufTokenizerConfigJson(f));
  EXPECT_EQ(config.at("chat_template"), "{{ messages }}");
  EXPECT_EQ(config.at("eos_token"), "<|end|>");
  EXPECT_TRUE(config.at("bos_token").is_null());
  auto t = llmrt::Tokenizer::fromJson(llmc::ggufTokenizerJson(f), config.dump());
  EXPECT_EQ(t->encode("abab"), (std::vector<int32_t>{2, 2, 3})); // EOS added
  EXPECT_TRUE(t->isSpecial(3));
}

// --- refusals ----------------------------------------------------------------------------------

GGUFBuilder tinyVocab(const std::string &model, const std::string &pre,
                      const std::string &arch = "llama") {
  GGUFBuilder b;
  b.str("general.architecture", arch)
      .str("tokenizer.ggml.model", model)
      .str("tokenizer.ggml.pre", pre)
      .strings("tokenizer.ggml.tokens", {"a", "b", "ab"})
      .f32s("tokenizer.ggml.scores", {0, 0, -1});
  return b;
}

void expectRefused(const llmc::GGUFFile &f, const std::string &needle) {
  try {
    llmc::ggufTokenizerJson(f);
    ADD_FAILURE() << "accepted; expected an error containing: " << needle;
  } catch (const llm::Error &e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(GGUFTokenizer, RefusesUnsupportedTokenizers) {
  expectRefused(tinyVocab("t5", "default").file("t5.gguf"),
                "tokenizer.ggml.model 't5' is not supported");
  expectRefused(tinyVocab("gpt2", "deepseek-llm").file("ds.gguf"),
                "tokenizer.ggml.pre 'deepseek-llm' is not supported");
  expectRefused(tinyVocab("llama", "default", "gemma2").file("gemma.gguf"),
                "general.architecture 'gemma2'");
  GGUFBuilder none;
  none.str("general.architecture", "llama");
  expectRefused(none.file("none.gguf"), "no tokenizer.ggml.model");
}

TEST(GGUFTokenizer, RefusesMalformedMetadata) {
  expectRefused(tinyVocab("llama", "default").u32("tokenizer.ggml.bos_token_id", 3).file("x.gguf"),
                "tokenizer.ggml.bos_token_id = 3 is not a token id");
  GGUFBuilder scores;
  scores.str("tokenizer.ggml.model", "llama")
      .strings("tokenizer.ggml.tokens", {"a", "b"})
      .f32s("tokenizer.ggml.scores", {0});
  expectRefused(scores.file("x.gguf"), "tokenizer.ggml.scores has 1 entries for 2 tokens");
  GGUFBuilder utf8;
  utf8.str("tokenizer.ggml.model", "llama").strings("tokenizer.ggml.tokens", {"a", "\xC3("});
  expectRefused(utf8.file("x.gguf"), "tokenizer.ggml.tokens[1] is not valid UTF-8");
  GGUFBuilder merges;
  merges.str("tokenizer.ggml.model", "gpt2")
      .str("tokenizer.ggml.pre", "gpt-2")
      .strings("tokenizer.ggml.tokens", {"a", "b"})
      .strings("tokenizer.ggml.merges", {"a b"});
  expectRefused(merges.file("x.gguf"), "names 'ab', which is not a token");
  GGUFBuilder noMerges;
  noMerges.str("tokenizer.ggml.model", "gpt2")
      .str("tokenizer.ggml.pre", "gpt-2")
      .strings("tokenizer.ggml.tokens", {"a", "b"});
  expectRefused(noMerges.file("x.gguf"), "needs tokenizer.ggml.merges or tokenizer.ggml.scores");
}

} // namespace
