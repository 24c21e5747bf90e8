// The runtime's tokenizer: reads a Hugging Face tokenizer.json (+ tokenizer_config.json) and
// encodes and decodes exactly as the `tokenizers` library does with that file (what transformers'
// fast tokenizers run).
//
// Encoding: added tokens are cut out of the raw text (those with normalized=false), each piece in
// between is normalized, cut again at the normalized added tokens, pre-tokenized into words, and
// each word goes through the BPE model; the post-processor adds BOS/EOS when asked.
//
// Supported components (anything else is refused with llm::Error naming it):
//   model          BPE (byte_fallback, unk_token, fuse_unk, ignore_merges,
//                  continuing_subword_prefix, end_of_word_suffix)
//   normalizer     Sequence, Prepend, Replace, NFC, NFD, NFKC, NFKD, Strip
//   pre_tokenizer  Sequence, ByteLevel, Split, Metaspace, Digits
//   post_processor TemplateProcessing, ByteLevel, Sequence
//   decoder        Sequence, ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip, BPEDecoder
// tokenizer_config.json gives bos_token / eos_token, and add_bos_token / add_eos_token, which
// decide BOS/EOS when tokenizer.json has no post-processor (as transformers' Llama tokenizers do).
// "truncation" and "padding" in tokenizer.json are ignored (transformers does not apply them
// unless asked).
//
// All methods are const and thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace llmrt {

namespace tok {
class AddedVocabulary;
class BPE;
class Decoder;
class Normalizer;
class PostProcessor;
class PreTokenizer;
} // namespace tok

class Tokenizer {
public:
  // `tokenizerConfigJson` may be empty. Throws llm::Error for malformed JSON, a missing or
  // inconsistent vocabulary, and unsupported components (naming the component and its type).
  static std::unique_ptr<Tokenizer> fromJson(std::string_view tokenizerJson,
                                             std::string_view tokenizerConfigJson);
  ~Tokenizer();

  // Throws llm::Error when `text` is not valid UTF-8.
  std::vector<int32_t> encode(std::string_view text, bool addSpecial = true) const;
  // Ids with no token are skipped, as the `tokenizers` library does. Always valid UTF-8.
  std::string decode(std::span<const int32_t> ids, bool skipSpecial = false) const;

  // Largest id (model or added token) + 1.
  int32_t vocabSize() const;
  std::optional<int32_t> tokenId(std::string_view token) const;
  // The token's string as stored (byte-level spelling, "<0x0A>", "▁the"); empty for an unknown id.
  std::string_view tokenText(int32_t id) const;
  bool isSpecial(int32_t id) const;
  // Whether decode() leaves `id` out: an id with no token always, a special token when skipping
  // special tokens.
  bool dropsWhenDecoding(int32_t id, bool skipSpecial) const;
  // From tokenizer_config.json's bos_token; -1 when it names none.
  int32_t bosId() const { return bosId_; }
  // From tokenizer_config.json's eos_token; empty when it names none.
  std::vector<int32_t> eosIds() const { return eosIds_; }

private:
  Tokenizer();
  // The string decode() starts from for `id`, or nullopt when it leaves the id out.
  std::optional<std::string_view> decodeToken(int32_t id, bool skipSpecial) const;
  void encodeText(std::string_view text, bool atStart, std::vector<int32_t> &ids) const;

  std::unique_ptr<tok::BPE> model_;
  std::unique_ptr<tok::AddedVocabulary> added_;
  std::unique_ptr<tok::Normalizer> normalizer_;
  std::unique_ptr<tok::PreTokenizer> preTokenizer_;
  std::unique_ptr<tok::PostProcessor> postProcessor_;
  std::unique_ptr<tok::Decoder> decoder_;
  int32_t bosId_ = -1;
  std::vector<int32_t> eosIds_;
};

} // namespace llmrt
