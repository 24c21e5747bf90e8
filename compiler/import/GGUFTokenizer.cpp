#include "import/GGUFTokenizer.h"

#include "support/Error.h"
#include "tokenizer/ByteLevelAlphabet.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <optional>
#include <unordered_map>

namespace llmc {

namespace {

using nlohmann::json;

// tokenizer.ggml.token_type values (llama.cpp's llama_token_type).
constexpr int64_t kControl = 3;
constexpr int64_t kUserDefined = 4;

// The Split regexes transformers (integrations/gguf) uses per tokenizer.ggml.pre value; they are
// the pre-tokenization patterns of those models' tokenizer.json files.
constexpr std::string_view kLlama3Split =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kQwen2Split =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kQwen35Split =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kTekkenSplit =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kGpt4oSplit =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

const std::map<std::string, std::string_view, std::less<>> &splitRegexes() {
  static const std::map<std::string, std::string_view, std::less<>> table = {
      {"llama3", kLlama3Split},     {"llama-v3", kLlama3Split},    {"llama-bpe", kLlama3Split},
      {"falcon3", kLlama3Split},    {"falcon-h1", kLlama3Split},   {"pixtral", kLlama3Split},
      {"midm-2.0", kLlama3Split},   {"lfm2", kLlama3Split},        {"jina-v5-nano", kLlama3Split},
      {"dbrx", kLlama3Split},       {"smaug-bpe", kLlama3Split},   {"tekken", kTekkenSplit},
      {"qwen2", kQwen2Split},       {"deepseek-r1-qwen", kQwen2Split}, {"kormo", kQwen2Split},
      {"f2llmv2", kQwen2Split},     {"megrez", kQwen2Split},       {"qwen35", kQwen35Split},
      {"gpt-4o", kGpt4oSplit},      {"llama4", kGpt4oSplit},       {"kanana2", kGpt4oSplit},
      {"talkie", kGpt4oSplit},      {"minimax-m2", kGpt4oSplit},
  };
  return table;
}

// Byte-level vocabularies whose pre-tokenizer is GPT-2's regex (ByteLevel with use_regex).
bool usesGpt2Regex(std::string_view pre) { return pre == "gpt-2" || pre == "smollm"; }

// Code point boundaries of a UTF-8 string; nullopt when it is not valid UTF-8.
std::optional<std::vector<size_t>> charStarts(std::string_view s) {
  std::vector<size_t> starts;
  starts.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    auto b = static_cast<unsigned char>(s[i]);
    size_t n = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return std::nullopt;
    char32_t cp = n == 1 ? b : n == 2 ? b & 0x1F : n == 3 ? b & 0x0F : b & 0x07;
    for (size_t k = 1; k < n; ++k) {
      auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xC0) != 0x80) return std::nullopt;
      cp = (cp << 6) | (c & 0x3F);
    }
    bool overlong = (n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000);
    if (overlong || cp > 0x10FFFF || (cp >= 0xD800 && cp < 0xE000)) return std::nullopt;
    starts.push_back(i);
    i += n;
  }
  return starts;
}

// Every character of `s` is in the byte-level alphabet (so `s` is already byte-level spelled).
bool inByteAlphabet(std::string_view s, const std::vector<size_t> &starts) {
  const auto &alphabet = llmrt::tok::ByteLevelAlphabet::get();
  for (size_t k = 0; k < starts.size(); ++k) {
    size_t b = starts[k], e = k + 1 < starts.size() ? starts[k + 1] : s.size();
    char32_t cp = static_cast<unsigned char>(s[b]);
    if (e - b == 2) cp = ((cp & 0x1F) << 6) | (static_cast<unsigned char>(s[b + 1]) & 0x3F);
    else if (e - b > 2) return false; // the alphabet stops below U+0800
    if (alphabet.byteOf(cp) < 0) return false;
  }
  return true;
}

// What the file says about its tokenizer.
struct Source {
  std::string path, model, pre, arch;
  std::vector<std::string> tokens;
  std::vector<int64_t> types;   // empty when absent
  std::vector<double> scores;   // empty when absent
  std::vector<std::string> merges;
  bool hasMerges = false;
  std::optional<int64_t> bos, eos, unk, pad;
  std::optional<bool> addBos, addEos;
  std::optional<std::string> chatTemplate;
};

Source readSource(const GGUFFile &f) {
  Source s;
  s.path = f.path();
  auto str = [&](std::string_view key) -> std::optional<std::string> {
    const GGUFValue *v = f.find(key);
    return v ? std::optional(v->asString(key)) : std::nullopt;
  };
  auto model = str("tokenizer.ggml.model");
  if (!model) llm::fail("{}: no tokenizer.ggml.model: the file carries no tokenizer", s.path);
  s.model = *model;
  if (s.model != "gpt2" && s.model != "llama")
    llm::fail("{}: tokenizer.ggml.model '{}' is not supported (supported: gpt2, llama)", s.path,
              s.model);
  s.pre = str("tokenizer.ggml.pre").value_or("");
  s.arch = str("general.architecture").value_or("");

  const auto &tokens = f.get("tokenizer.ggml.tokens").asArray("tokenizer.ggml.tokens");
  if (tokens.empty()) llm::fail("{}: tokenizer.ggml.tokens is empty", s.path);
  s.tokens.reserve(tokens.size());
  for (const GGUFValue &t : tokens) s.tokens.push_back(t.asString("tokenizer.ggml.tokens"));
  auto sameLength = [&](std::string_view key, size_t n) {
    if (n != s.tokens.size())
      llm::fail("{}: {} has {} entries for {} tokens", s.path, key, n, s.tokens.size());
  };
  if (const GGUFValue *v = f.find("tokenizer.ggml.token_type")) {
    const auto &a = v->asArray("tokenizer.ggml.token_type");
    sameLength("tokenizer.ggml.token_type", a.size());
    for (const GGUFValue &t : a) s.types.push_back(t.asInt("tokenizer.ggml.token_type"));
  }
  if (const GGUFValue *v = f.find("tokenizer.ggml.scores")) {
    const auto &a = v->asArray("tokenizer.ggml.scores");
    sameLength("tokenizer.ggml.scores", a.size());
    for (const GGUFValue &t : a) s.scores.push_back(t.asFloat("tokenizer.ggml.scores"));
  }
  if (const GGUFValue *v = f.find("tokenizer.ggml.merges")) {
    s.hasMerges = true;
    for (const GGUFValue &m : v->asArray("tokenizer.ggml.merges"))
      s.merges.push_back(m.asString("tokenizer.ggml.merges"));
  }
  auto id = [&](std::string_view key) -> std::optional<int64_t> {
    const GGUFValue *v = f.find(key);
    if (!v) return std::nullopt;
    int64_t i = v->asInt(key);
    if (i < 0 || static_cast<size_t>(i) >= s.tokens.size())
      llm::fail("{}: {} = {} is not a token id (the vocabulary has {} tokens)", s.path, key, i,
                s.tokens.size());
    return i;
  };
  s.bos = id("tokenizer.ggml.bos_token_id");
  s.eos = id("tokenizer.ggml.eos_token_id");
  s.unk = id("tokenizer.ggml.unknown_token_id");
  s.pad = id("tokenizer.ggml.padding_token_id");
  auto flag = [&](std::string_view key) -> std::optional<bool> {
    const GGUFValue *v = f.find(key);
    return v ? std::optional(v->asBool(key)) : std::nullopt;
  };
  s.addBos = flag("tokenizer.ggml.add_bos_token");
  s.addEos = flag("tokenizer.ggml.add_eos_token");
  // transformers: llama.cpp adds BOS to a SentencePiece vocabulary that does not say otherwise.
  if (s.model == "llama" && !s.addBos) s.addBos = true;
  s.chatTemplate = str("tokenizer.chat_template");

  if (s.model == "llama" && (s.arch == "gemma" || s.arch == "gemma2" || s.arch == "gemma3"))
    llm::fail("{}: Gemma's SentencePiece vocabulary (general.architecture '{}') is not supported",
              s.path, s.arch);
  if (s.model == "gpt2" && !splitRegexes().count(s.pre) && !usesGpt2Regex(s.pre))
    llm::fail("{}: tokenizer.ggml.pre '{}' is not supported for a byte-level (gpt2) vocabulary: "
              "its pre-tokenizer is unknown here (supported: gpt-2, smollm, and the Split regexes "
              "of llama3, llama-bpe, qwen2, qwen35, tekken, gpt-4o and their aliases)",
              s.path, s.pre.empty() ? "(absent)" : s.pre);
  return s;
}

// The tokenizer transformers builds, as the pieces tokenizer.json is made of.
struct Built {
  std::vector<std::string> spelled; // token i as the model vocabulary spells it
  std::unordered_map<std::string, int64_t> vocab; // spelling -> id (the last of duplicates)
  std::vector<std::pair<std::string, std::string>> merges;
  struct Added {
    std::string content;
    bool special;
  };
  std::map<int64_t, Added> added; // id -> token
  std::unordered_map<std::string, int64_t> addedByContent;
  std::optional<std::string> bos, eos, unk, pad; // named special tokens (file spelling)
  int64_t tokenId(const std::string &t) const {
    if (auto it = addedByContent.find(t); it != addedByContent.end()) return it->second;
    if (auto it = vocab.find(t); it != vocab.end()) return it->second;
    return -1;
  }
};

// transformers' generate_merges: every split of every token into two vocabulary tokens, ordered
// by the token's score (descending) or, without scores, by its id (ascending); ties by the
// lengths of the two parts, then vocabulary order.
std::vector<std::pair<std::string, std::string>> deriveMerges(const Source &s) {
  // dict(zip(tokens, scores)) / {token: id}: first occurrence fixes the order, the last the value.
  std::vector<std::string> order;
  std::unordered_map<std::string, double> score;
  std::unordered_map<std::string, int64_t> id;
  for (size_t i = 0; i < s.tokens.size(); ++i) {
    const std::string &t = s.tokens[i];
    if (!id.count(t)) order.push_back(t);
    id[t] = static_cast<int64_t>(i);
    score[t] = s.scores.empty() ? static_cast<double>(i) : s.scores[i];
  }
  const bool descending = !s.scores.empty();
  struct Merge {
    std::string left, right;
    double score;
    size_t leftChars, rightChars;
  };
  std::vector<Merge> merges;
  std::vector<Merge> local;
  for (const std::string &t : order) {
    auto starts = charStarts(t);
    if (!starts) llm::fail("{}: token '{}' is not valid UTF-8", s.path, t);
    local.clear();
    for (size_t k = 1; k < starts->size(); ++k) {
      std::string l = t.substr(0, (*starts)[k]), r = t.substr((*starts)[k]);
      if (id.count(l) && id.count(r)) local.push_back({l, r, score[t], k, starts->size() - k});
    }
    std::stable_sort(local.begin(), local.end(), [&](const Merge &a, const Merge &b) {
      int64_t al = id[a.left], bl = id[b.left];
      return al != bl ? al < bl : id[a.right] < id[b.right];
    });
    merges.insert(merges.end(), local.begin(), local.end());
  }
  auto key = [](const Merge &m) { return std::tuple(m.score, m.leftChars, m.rightChars); };
  std::stable_sort(merges.begin(), merges.end(), [&](const Merge &a, const Merge &b) {
    return descending ? key(a) > key(b) : key(a) < key(b);
  });
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(merges.size());
  for (Merge &m : merges) out.emplace_back(std::move(m.left), std::move(m.right));
  return out;
}

Built build(const Source &s) {
  Built b;
  const bool byteLevel = s.model == "gpt2";
  const auto &alphabet = llmrt::tok::ByteLevelAlphabet::get();
  std::vector<bool> spelledInAlphabet(s.tokens.size(), true);
  b.spelled.reserve(s.tokens.size());
  for (size_t i = 0; i < s.tokens.size(); ++i) {
    const std::string &t = s.tokens[i];
    auto starts = charStarts(t);
    if (!starts) llm::fail("{}: tokenizer.ggml.tokens[{}] is not valid UTF-8", s.path, i);
    bool plain = !byteLevel || inByteAlphabet(t, *starts);
    spelledInAlphabet[i] = plain;
    b.spelled.push_back(plain ? t : alphabet.encode(t));
    b.vocab[b.spelled.back()] = static_cast<int64_t>(i);
  }
  const int64_t modelEntries = static_cast<int64_t>(b.vocab.size());

  if (s.hasMerges) {
    for (const std::string &m : s.merges) {
      size_t sp = m.find(' ');
      if (sp == std::string::npos || m.find(' ', sp + 1) != std::string::npos)
        llm::fail("{}: tokenizer.ggml.merges entry '{}' is not two tokens separated by a space",
                  s.path, m);
      std::string l = m.substr(0, sp), r = m.substr(sp + 1);
      for (const std::string &t : {l, r, l + r})
        if (!b.vocab.count(t))
          llm::fail("{}: tokenizer.ggml.merges entry '{}' names '{}', which is not a token",
                    s.path, m, t);
      b.merges.emplace_back(std::move(l), std::move(r));
    }
  } else if (s.model == "llama" || !s.scores.empty()) {
    b.merges = deriveMerges(s);
  } else {
    llm::fail("{}: a gpt2 vocabulary needs tokenizer.ggml.merges or tokenizer.ggml.scores", s.path);
  }

  // Added tokens as the `tokenizers` library assigns them: an existing id for known content,
  // else the model's id, else the next id after the model's entries.
  int64_t nextId = modelEntries;
  auto add = [&](const std::string &content, bool special) {
    if (content.empty()) return;
    int64_t id;
    if (auto it = b.addedByContent.find(content); it != b.addedByContent.end()) {
      if (b.added[it->second].special == special) return;
      id = it->second;
    } else if (auto v = b.vocab.find(content); v != b.vocab.end()) {
      id = v->second;
    } else {
      id = nextId++;
    }
    b.addedByContent[content] = id;
    b.added[id] = {content, special};
  };
  if (!s.types.empty()) {
    for (size_t i = 0; i < s.tokens.size(); ++i) // control tokens (not mis-spelled byte-level ones)
      if (s.types[i] == kControl && spelledInAlphabet[i]) add(s.tokens[i], true);
    for (size_t i = 0; i < s.tokens.size(); ++i) // user-defined tokens the vocabulary knows
      if (s.types[i] == kUserDefined &&
          (b.addedByContent.count(s.tokens[i]) || b.vocab.count(s.tokens[i])))
        add(s.tokens[i], false);
  }
  auto named = [&](const std::optional<int64_t> &id) -> std::optional<std::string> {
    if (!id) return std::nullopt;
    return s.tokens[static_cast<size_t>(*id)];
  };
  b.bos = named(s.bos);
  b.eos = named(s.eos);
  b.unk = named(s.unk);
  b.pad = named(s.pad);
  for (const auto *t : {&b.bos, &b.eos, &b.unk, &b.pad})
    if (*t) add(**t, true);
  return b;
}

json templateProcessing(const Source &s, const Built &b) {
  bool addBos = s.addBos.value_or(false) && b.bos;
  bool addEos = s.addEos.value_or(false) && b.eos;
  auto special = [](const std::string &t, int typeId) {
    return json{{"SpecialToken", {{"id", t}, {"type_id", typeId}}}};
  };
  auto sequence = [](const char *id, int typeId) {
    return json{{"Sequence", {{"id", id}, {"type_id", typeId}}}};
  };
  json single = json::array(), pair = json::array(), specials = json::object();
  if (addBos) single.push_back(special(*b.bos, 0));
  single.push_back(sequence("A", 0));
  if (addEos) single.push_back(special(*b.eos, 0));
  pair = single;
  if (addBos) pair.push_back(special(*b.bos, 1));
  pair.push_back(sequence("B", 1));
  if (addEos) pair.push_back(special(*b.eos, 1));
  for (auto [on, token] : {std::pair{addBos, b.bos}, std::pair{addEos, b.eos}}) {
    if (!on) continue;
    int64_t id = b.tokenId(*token);
    specials[*token] = {{"id", *token}, {"ids", {id}}, {"tokens", {*token}}};
  }
  return {{"type", "TemplateProcessing"},
          {"single", single},
          {"pair", pair},
          {"special_tokens", specials}};
}

json byteLevel(bool addPrefixSpace, bool useRegex) {
  return {{"type", "ByteLevel"},
          {"add_prefix_space", addPrefixSpace},
          {"trim_offsets", true},
          {"use_regex", useRegex}};
}

} // namespace

std::string ggufTokenizerJson(const GGUFFile &f) {
  Source s = readSource(f);
  Built b = build(s);
  const bool byteLevelModel = s.model == "gpt2";

  json vocab = json::object();
  for (const auto &[token, id] : b.vocab) vocab[token] = id;
  json merges = json::array();
  for (const auto &[l, r] : b.merges) merges.push_back({l, r});
  json model = {{"type", "BPE"},
                {"dropout", nullptr},
                {"unk_token", nullptr},
                {"continuing_subword_prefix", byteLevelModel ? json("") : json(nullptr)},
                {"end_of_word_suffix", byteLevelModel ? json("") : json(nullptr)},
                {"fuse_unk", !byteLevelModel},
                {"byte_fallback", !byteLevelModel},
                {"ignore_merges", false},
                {"vocab", std::move(vocab)},
                {"merges", std::move(merges)}};

  json added = json::array();
  for (const auto &[id, t] : b.added)
    added.push_back({{"id", id},
                     {"content", t.content},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", t.special}});

  json normalizer = nullptr, preTokenizer = nullptr, decoder;
  if (byteLevelModel) {
    auto split = splitRegexes().find(s.pre);
    if (split != splitRegexes().end())
      preTokenizer = {{"type", "Sequence"},
                      {"pretokenizers",
                       {{{"type", "Split"},
                         {"pattern", {{"Regex", std::string(split->second)}}},
                         {"behavior", "Isolated"},
                         {"invert", false}},
                        byteLevel(false, false)}}};
    else
      preTokenizer = byteLevel(false, true);
    decoder = byteLevel(true, true);
  } else {
    if (s.arch == "phi3") // the prefix space comes from a normalizer, not from Metaspace
      normalizer = {{"type", "Sequence"},
                    {"normalizers",
                     {{{"type", "Prepend"}, {"prepend", "\u2581"}},
                      {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\u2581"}}}}};
    else
      preTokenizer = {{"type", "Metaspace"},
                      {"replacement", "\u2581"},
                      {"prepend_scheme", "first"},
                      {"split", false}};
    decoder = {{"type", "Sequence"},
               {"decoders",
                {{{"type", "Replace"}, {"pattern", {{"String", "\u2581"}}}, {"content", " "}},
                 {{"type", "ByteFallback"}},
                 {{"type", "Fuse"}},
                 {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}};
  }

  json root = {{"version", "1.0"},
               {"truncation", nullptr},
               {"padding", nullptr},
               {"added_tokens", std::move(added)},
               {"normalizer", normalizer},
               {"pre_tokenizer", preTokenizer},
               {"post_processor", templateProcessing(s, b)},
               {"decoder", decoder},
               {"model", std::move(model)}};
  return root.dump();
}

std::string ggufTokenizerConfigJson(const GGUFFile &f) {
  Source s = readSource(f);
  auto name = [&](const std::optional<int64_t> &id) -> json {
    return id ? json(s.tokens[static_cast<size_t>(*id)]) : json(nullptr);
  };
  json config = {{"tokenizer_class", "TokenizersBackend"},
                 {"bos_token", name(s.bos)},
                 {"eos_token", name(s.eos)},
                 {"unk_token", name(s.unk)},
                 {"pad_token", name(s.pad)}};
  if (s.chatTemplate) config["chat_template"] = *s.chatTemplate;
  return config.dump(2);
}

} // namespace llmc
