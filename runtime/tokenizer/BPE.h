// The BPE model of tokenizer.json: vocabulary, ranked merges, unk token, byte fallback
// (SentencePiece-style "<0xXX>" tokens), continuing_subword_prefix / end_of_word_suffix and
// ignore_merges. A word starts as its characters; the lowest-ranked applicable merge is applied
// until none applies (leftmost first among equal ranks), with a priority queue over a linked list
// of symbols, so a word of n characters costs O(n log n). Results for recent words are cached.
#pragma once

#include "tokenizer/FlatMaps.h"

#include <nlohmann/json_fwd.hpp>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmrt::tok {

class WordCache;

// model.vocab and model.merges of tokenizer.json, read while the file is parsed (they are most of
// it; see Tokenizer::fromJson), in file order.
struct BPEData {
  bool hasVocab = false, hasMerges = false;
  std::vector<std::pair<std::string, int64_t>> vocab;
  struct Merge {
    std::string left, right; // or the whole "left right" line in `left`
    bool line;
  };
  std::vector<Merge> merges;
};

class BPE {
public:
  // `model` is tokenizer.json's "model" object (its settings), `data` its vocabulary and merges.
  // llm::Error for a missing vocabulary or merges, merges naming unknown tokens, an unk token
  // outside the vocabulary, or dropout.
  static std::unique_ptr<BPE> fromJson(const nlohmann::json &model, BPEData data);
  ~BPE();

  // Appends the ids of `word` (one pre-tokenized piece, valid UTF-8) to `out`. Thread-safe.
  void tokenize(std::string_view word, std::vector<int32_t> &out) const;

  std::optional<int32_t> tokenId(std::string_view token) const;
  // Empty when no vocabulary entry has this id.
  std::string_view tokenText(int32_t id) const;
  // Entries in the vocabulary (what the `tokenizers` library calls the model's vocab size).
  size_t entries() const { return vocab_.size(); }
  // Largest id + 1.
  int32_t idLimit() const { return static_cast<int32_t>(idToToken_.size()); }

private:
  using MergeInfo = MergeMap::Merge;

  BPE();
  void tokenizePiece(std::string_view word, std::vector<int32_t> &out) const;
  void mergeWord(std::string_view word, std::vector<int32_t> &out) const;
  const MergeInfo *findMerge(int32_t a, int32_t b) const;

  TokenIdMap vocab_;
  std::vector<std::string_view> idToToken_; // views of vocab_ keys
  MergeMap merges_;
  std::optional<int32_t> unkId_;
  std::string continuingSubwordPrefix_, endOfWordSuffix_;
  bool fuseUnk_ = false, byteFallback_ = false, ignoreMerges_ = false;
  std::array<int32_t, 256> byteTokens_{}; // id of "<0xXX>" or -1
  bool splitAtMarker_ = false; // see fromJson
  std::unique_ptr<WordCache> cache_;
};

} // namespace llmrt::tok
