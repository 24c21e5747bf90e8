#include "tokenizer/Tokenizer.h"

#include "support/Error.h"
#include "tokenizer/AddedVocabulary.h"
#include "tokenizer/BPE.h"
#include "tokenizer/Decoder.h"
#include "tokenizer/JsonFields.h"
#include "tokenizer/Normalizer.h"
#include "tokenizer/PostProcessor.h"
#include "tokenizer/PreTokenizer.h"
#include "tokenizer/Utf8.h"

#include <nlohmann/json.hpp>

namespace llmrt {

using nlohmann::json;
using namespace tok;

namespace {

json parseJson(std::string_view text, std::string_view file,
               const json::parser_callback_t &callback = nullptr) {
  json j = json::parse(text.begin(), text.end(), callback, /*allow_exceptions=*/false);
  if (j.is_discarded()) llm::fail("{}: not valid JSON", file);
  if (!j.is_object()) llm::fail("{}: not a JSON object", file);
  return j;
}

// Parses tokenizer.json, moving model.vocab and model.merges (most of the file) straight into
// `data` instead of building JSON values for them; they are left empty in the result.
json parseTokenizerJson(std::string_view text, BPEData &data) {
  std::string keys[3];            // the key being read at depth 1 and 2
  std::string vocabKey;           // the vocab entry whose value comes next
  std::vector<std::string> pair;  // a ["left", "right"] merge being read
  auto inModel = [&](const char *key) { return keys[1] == "model" && keys[2] == key; };
  json::parser_callback_t callback = [&](int depth, json::parse_event_t event, json &parsed) {
    using E = json::parse_event_t;
    if (event == E::key && depth <= 2) {
      keys[depth] = parsed.get<std::string>();
      if (depth == 1) keys[2].clear();
      return true;
    }
    if (depth == 2 && (event == E::object_start || event == E::array_start)) {
      if (event == E::object_start && inModel("vocab")) data.hasVocab = true;
      if (event == E::array_start && inModel("merges")) data.hasMerges = true;
      return true;
    }
    if (data.hasVocab && inModel("vocab") && depth == 3) {
      if (event == E::key) {
        vocabKey = parsed.get<std::string>();
        return false;
      }
      if (event != E::value || !parsed.is_number_integer())
        llm::fail("tokenizer.json: model BPE vocab entry '{}' must have an integer id", vocabKey);
      data.vocab.emplace_back(std::move(vocabKey), parsed.get<int64_t>());
      return false;
    }
    if (data.hasMerges && inModel("merges") && depth >= 3) {
      size_t n = data.merges.size() + 1;
      if (depth == 3 && event == E::value) {
        if (!parsed.is_string())
          llm::fail("tokenizer.json: model BPE merge #{} must be \"a b\" or [\"a\", \"b\"]", n);
        data.merges.push_back({parsed.get<std::string>(), {}, true});
        return false;
      }
      if (depth == 3 && event == E::array_start) {
        pair.clear();
        return true;
      }
      if (depth == 4 && event == E::value && parsed.is_string()) {
        pair.push_back(parsed.get<std::string>());
        return false;
      }
      if (depth == 3 && event == E::array_end && pair.size() == 2) {
        data.merges.push_back({std::move(pair[0]), std::move(pair[1]), false});
        return false;
      }
      llm::fail("tokenizer.json: model BPE merge #{} must be \"a b\" or [\"a\", \"b\"]", n);
    }
    return true;
  };
  return parseJson(text, "tokenizer.json", callback);
}

std::unique_ptr<BPE> readModel(const json &root, BPEData data) {
  const json &model = requireField(root, "model", "tokenizer.json");
  if (!model.is_object()) llm::fail("tokenizer.json: \"model\" is not an object");
  auto type = model.find("type");
  // Files without a type are read as BPE when they have merges, as the `tokenizers` library's
  // untagged reading would.
  if (type == model.end() ? !model.contains("merges")
                          : !type->is_string() || type->get<std::string>() != "BPE")
    unsupported("model", type != model.end() && type->is_string() ? type->get<std::string>()
                                                                   : std::string("(none)"),
                {"BPE"});
  return BPE::fromJson(model, std::move(data));
}

std::vector<AddedToken> readAddedTokens(const json &root) {
  std::vector<AddedToken> tokens;
  auto it = root.find("added_tokens");
  if (it == root.end() || it->is_null()) return tokens;
  if (!it->is_array()) llm::fail("tokenizer.json: \"added_tokens\" must be a list");
  for (const json &t : *it) {
    AddedToken a;
    a.content = getString(t, "content", "added_tokens entry");
    if (findInvalidUtf8(a.content) != std::string::npos)
      llm::fail("tokenizer.json: added token content is not valid UTF-8");
    a.singleWord = getBool(t, "single_word", "added_tokens entry", false);
    a.lstrip = getBool(t, "lstrip", "added_tokens entry", false);
    a.rstrip = getBool(t, "rstrip", "added_tokens entry", false);
    a.normalized = getBool(t, "normalized", "added_tokens entry", true);
    a.special = getBool(t, "special", "added_tokens entry", false);
    tokens.push_back(std::move(a));
  }
  return tokens;
}

// bos_token / eos_token in tokenizer_config.json: a string, {"content": ...}, or null.
std::optional<std::string> configToken(const json &config, std::string_view key) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object())
    if (auto c = it->find("content"); c != it->end() && c->is_string()) return c->get<std::string>();
  llm::fail("tokenizer_config.json: \"{}\" must be a string or {{\"content\": ...}}", key);
}

std::optional<bool> configFlag(const json &config, std::string_view key) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return std::nullopt;
  if (!it->is_boolean()) llm::fail("tokenizer_config.json: \"{}\" must be true or false", key);
  return it->get<bool>();
}

} // namespace

Tokenizer::Tokenizer() = default;
Tokenizer::~Tokenizer() = default;

std::unique_ptr<Tokenizer> Tokenizer::fromJson(std::string_view tokenizerJson,
                                               std::string_view tokenizerConfigJson) {
  std::unique_ptr<Tokenizer> t(new Tokenizer());
  try {
    BPEData data;
    json root = parseTokenizerJson(tokenizerJson, data);
    json config = tokenizerConfigJson.empty() ? json::object()
                                              : parseJson(tokenizerConfigJson, "tokenizer_config.json");
    t->model_ = readModel(root, std::move(data));
    t->normalizer_ = Normalizer::fromJson(root.value("normalizer", json()));
    t->preTokenizer_ = PreTokenizer::fromJson(root.value("pre_tokenizer", json()));
    t->decoder_ = Decoder::fromJson(root.value("decoder", json()));
    t->added_ = std::make_unique<AddedVocabulary>();
    t->added_->add(readAddedTokens(root), *t->model_, t->normalizer_.get());

    auto idOf = [&](const std::optional<std::string> &token, std::string_view key) -> int32_t {
      if (!token) return -1;
      auto id = t->tokenId(*token);
      if (!id) llm::fail("tokenizer_config.json: {} '{}' is not in the vocabulary", key, *token);
      return *id;
    };
    t->bosId_ = idOf(configToken(config, "bos_token"), "bos_token");
    if (int32_t eos = idOf(configToken(config, "eos_token"), "eos_token"); eos >= 0)
      t->eosIds_.push_back(eos);

    json post = root.value("post_processor", json());
    auto addBos = configFlag(config, "add_bos_token"), addEos = configFlag(config, "add_eos_token");
    if (post.is_null() && (addBos || addEos))
      t->postProcessor_ = std::make_unique<PostProcessor>(PostProcessor::bosEos(
          addBos.value_or(false) ? t->bosId_ : -1, addEos.value_or(false) && !t->eosIds_.empty()
                                                       ? t->eosIds_[0]
                                                       : -1));
    else
      t->postProcessor_ = std::make_unique<PostProcessor>(PostProcessor::fromJson(post));
  } catch (const json::exception &e) {
    llm::fail("tokenizer.json: unexpected JSON structure ({})", e.what());
  }
  return t;
}

void Tokenizer::encodeText(std::string_view text, bool atStart, std::vector<int32_t> &ids) const {
  std::string normalized(text);
  if (normalizer_) normalizer_->normalize(normalized);
  if (normalized.empty()) return;
  std::vector<AddedVocabulary::Segment> segments;
  added_->splitNormalized(normalized, segments);
  Pieces pieces;
  for (const auto &seg : segments) {
    if (seg.id >= 0) {
      ids.push_back(seg.id);
      continue;
    }
    pieces.text.assign(normalized, seg.begin, seg.end - seg.begin);
    pieces.list.assign(1, Pieces::Piece{0, static_cast<uint32_t>(pieces.text.size()),
                                        atStart && seg.begin == 0});
    if (preTokenizer_) preTokenizer_->apply(pieces);
    for (const auto &p : pieces.list) model_->tokenize(pieces.view(p), ids);
  }
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool addSpecial) const {
  if (size_t bad = findInvalidUtf8(text); bad != std::string_view::npos)
    llm::fail("Tokenizer::encode: the text is not valid UTF-8 (byte {} of {})", bad, text.size());
  if (text.size() > UINT32_MAX / 4)
    llm::fail("Tokenizer::encode: the text is too long ({} bytes)", text.size());
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  std::vector<AddedVocabulary::Segment> segments;
  added_->splitRaw(text, segments);
  for (const auto &seg : segments) {
    if (seg.id >= 0) ids.push_back(seg.id);
    else encodeText(text.substr(seg.begin, seg.end - seg.begin), seg.begin == 0, ids);
  }
  if (addSpecial) postProcessor_->apply(ids);
  return ids;
}

std::optional<std::string_view> Tokenizer::decodeToken(int32_t id, bool skipSpecial) const {
  std::optional<std::string_view> text = added_->decodeText(id);
  if (!text) {
    std::string_view m = model_->tokenText(id);
    if (m.empty()) return std::nullopt;
    text = m;
  }
  // As in the `tokenizers` library, "special" is decided by the string decoding starts from.
  if (skipSpecial && added_->isSpecialContent(*text)) return std::nullopt;
  return text;
}

bool Tokenizer::dropsWhenDecoding(int32_t id, bool skipSpecial) const {
  return !decodeToken(id, skipSpecial);
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skipSpecial) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids)
    if (auto text = decodeToken(id, skipSpecial)) tokens.emplace_back(*text);
  std::string out;
  if (decoder_) {
    decoder_->decodeChain(tokens);
    for (const std::string &t : tokens) out += t;
  } else {
    for (size_t i = 0; i < tokens.size(); ++i) out += (i ? " " : "") + tokens[i];
  }
  return out;
}

int32_t Tokenizer::vocabSize() const { return std::max(model_->idLimit(), added_->idLimit()); }

std::optional<int32_t> Tokenizer::tokenId(std::string_view token) const {
  if (auto id = added_->id(token)) return id;
  return model_->tokenId(token);
}

std::string_view Tokenizer::tokenText(int32_t id) const {
  if (const AddedToken *t = added_->token(id)) return t->content;
  return model_->tokenText(id);
}

bool Tokenizer::isSpecial(int32_t id) const {
  const AddedToken *t = added_->token(id);
  return t && t->special;
}

} // namespace llmrt
