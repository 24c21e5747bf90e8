#include "tokenizer/BPE.h"

#include "support/Error.h"
#include "tokenizer/JsonFields.h"
#include "tokenizer/Utf8.h"
#include "tokenizer/WordCache.h"

#include <nlohmann/json.hpp>

#include <queue>
#include <span>

namespace llmrt::tok {

using nlohmann::json;

BPE::BPE() : cache_(std::make_unique<WordCache>()) { byteTokens_.fill(-1); }
BPE::~BPE() = default;

namespace {

constexpr std::string_view kWhere = "model BPE";
constexpr std::string_view kMarker = "\u2581"; // SentencePiece's word-start marker

std::string optionalString(const json &model, std::string_view key) {
  auto it = model.find(key);
  if (it == model.end() || it->is_null()) return {};
  if (!it->is_string()) llm::fail("tokenizer.json: {} \"{}\" must be a string", kWhere, key);
  return it->get<std::string>();
}

} // namespace

std::unique_ptr<BPE> BPE::fromJson(const json &model, BPEData data) {
  std::unique_ptr<BPE> bpe(new BPE());
  if (auto it = model.find("dropout");
      it != model.end() && !it->is_null() && !(it->is_number() && it->get<double>() == 0.0))
    llm::fail("tokenizer.json: {} dropout is not supported (it makes encoding random)", kWhere);

  if (!data.hasVocab) {
    if (model.contains("vocab")) llm::fail("tokenizer.json: {} \"vocab\" must be an object", kWhere);
    llm::fail("tokenizer.json: {} has no \"vocab\"", kWhere);
  }
  if (!data.hasMerges) {
    if (model.contains("merges")) llm::fail("tokenizer.json: {} \"merges\" must be a list", kWhere);
    llm::fail("tokenizer.json: {} has no \"merges\"", kWhere);
  }
  size_t keyBytes = 0;
  for (const auto &entry : data.vocab) keyBytes += entry.first.size();
  bpe->vocab_.reserve(data.vocab.size(), keyBytes);
  int32_t maxId = -1;
  for (const auto &[token, id64] : data.vocab) {
    if (id64 < 0 || id64 > INT32_MAX)
      llm::fail("tokenizer.json: {} vocab entry '{}' must have an id in [0, 2^31)", kWhere, token);
    int32_t id = static_cast<int32_t>(id64);
    bpe->vocab_.insertOrAssign(token, id); // a repeated token keeps its last id
    maxId = std::max(maxId, id);
  }
  // An id given to several tokens decodes as one of them.
  bpe->idToToken_.assign(static_cast<size_t>(maxId + 1), std::string_view());
  bpe->vocab_.forEach([&](std::string_view token, int32_t id) {
    if (bpe->idToToken_[id].empty()) bpe->idToToken_[id] = token;
  });

  bpe->continuingSubwordPrefix_ = optionalString(model, "continuing_subword_prefix");
  bpe->endOfWordSuffix_ = optionalString(model, "end_of_word_suffix");
  bpe->fuseUnk_ = getBool(model, "fuse_unk", kWhere, false);
  bpe->byteFallback_ = getBool(model, "byte_fallback", kWhere, false);
  bpe->ignoreMerges_ = getBool(model, "ignore_merges", kWhere, false);
  if (std::string unk = optionalString(model, "unk_token"); !unk.empty()) {
    auto id = bpe->tokenId(unk);
    if (!id) llm::fail("tokenizer.json: {} unk_token '{}' is not in the vocabulary", kWhere, unk);
    bpe->unkId_ = *id;
  }
  // SentencePiece vocabularies: when no token has "▁" right after another character, no symbol
  // can ever span such a place, so a long word may be cut before each "▁" that follows another
  // character and its pieces merged (and cached) separately with the same result.
  if (bpe->continuingSubwordPrefix_.empty() && bpe->endOfWordSuffix_.empty()) {
    bool spans = false;
    bpe->vocab_.forEach([&](std::string_view token, int32_t) {
      for (size_t p = token.find(kMarker, 1); p != std::string::npos && !spans;
           p = token.find(kMarker, p + 1))
        spans = p < kMarker.size() || token.compare(p - kMarker.size(), kMarker.size(), kMarker) != 0;
    });
    bpe->splitAtMarker_ = !spans;
  }
  for (int b = 0; b < 256; ++b) {
    auto id = bpe->tokenId(fmt::format("<0x{:02X}>", b));
    bpe->byteTokens_[b] = id ? *id : -1;
  }

  bpe->merges_.reserve(data.merges.size());
  std::string merged;
  int32_t rank = 0;
  for (BPEData::Merge &m : data.merges) {
    std::string a = std::move(m.left), b = std::move(m.right);
    if (m.line) {
      if (a.starts_with("#version")) continue;
      size_t sp = a.find(' ');
      if (sp == std::string::npos || a.find(' ', sp + 1) != std::string::npos)
        llm::fail("tokenizer.json: {} merge #{} '{}' is not two tokens separated by one space",
                  kWhere, rank + 1, a);
      b = a.substr(sp + 1);
      a.resize(sp);
    }
    auto ida = bpe->tokenId(a), idb = bpe->tokenId(b);
    if (!ida || !idb)
      llm::fail("tokenizer.json: {} merge #{} ('{}', '{}') names '{}', which is not in the vocabulary",
                kWhere, rank + 1, a, b, !ida ? a : b);
    size_t prefix = bpe->continuingSubwordPrefix_.size();
    if (b.size() < prefix)
      llm::fail("tokenizer.json: {} merge #{} right token '{}' is shorter than the subword prefix",
                kWhere, rank + 1, b);
    merged.assign(a);
    merged.append(b, prefix);
    auto idm = bpe->tokenId(merged);
    if (!idm)
      llm::fail("tokenizer.json: {} merge #{} ('{}', '{}') makes '{}', which is not in the "
                "vocabulary",
                kWhere, rank + 1, a, b, merged);
    // A repeated pair keeps its last rank, as in the `tokenizers` library.
    bpe->merges_.insertOrAssign(*ida, *idb, MergeInfo{rank, *idm});
    ++rank;
  }
  return bpe;
}

std::optional<int32_t> BPE::tokenId(std::string_view token) const {
  int32_t id = vocab_.find(token);
  if (id < 0) return std::nullopt;
  return id;
}

std::string_view BPE::tokenText(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= idToToken_.size()) return {};
  return idToToken_[id];
}

const BPE::MergeInfo *BPE::findMerge(int32_t a, int32_t b) const { return merges_.find(a, b); }

void BPE::tokenize(std::string_view word, std::vector<int32_t> &out) const {
  if (word.empty()) return;
  if (ignoreMerges_) {
    if (auto id = tokenId(word)) {
      out.push_back(*id);
      return;
    }
  }
  if (!splitAtMarker_ || word.size() < 64) {
    tokenizePiece(word, out);
    return;
  }
  size_t start = 0;
  for (size_t p = word.find(kMarker, 1); p != std::string_view::npos;
       p = word.find(kMarker, p + 1)) {
    if (p > start && (p < kMarker.size() ||
                      word.compare(p - kMarker.size(), kMarker.size(), kMarker) != 0)) {
      tokenizePiece(word.substr(start, p - start), out);
      start = p;
    }
  }
  tokenizePiece(word.substr(start), out);
}

void BPE::tokenizePiece(std::string_view word, std::vector<int32_t> &out) const {
  if (cache_->lookup(word, out)) return;
  size_t before = out.size();
  mergeWord(word, out);
  cache_->insert(word, std::span<const int32_t>(out).subspan(before));
}

void BPE::mergeWord(std::string_view word, std::vector<int32_t> &out) const {
  struct Symbol {
    int32_t id;
    int32_t prev, next;
    bool removed;
  };
  std::vector<Symbol> symbols;
  symbols.reserve(word.size());
  auto add = [&](int32_t id) {
    int32_t n = static_cast<int32_t>(symbols.size());
    if (n > 0) symbols.back().next = n;
    symbols.push_back({id, n - 1, -1, false});
  };

  // Initial symbols: one per character (or its bytes, or unk), as the `tokenizers` library
  // builds them, including where a pending unk is flushed.
  int32_t pendingUnk = -1; // an unk symbol not added yet (fuse_unk extends it)
  std::string key;
  bool affixes = !continuingSubwordPrefix_.empty() || !endOfWordSuffix_.empty();
  for (size_t i = 0; i < word.size();) {
    size_t n = charLength(word, i);
    std::string_view s = word.substr(i, n);
    if (affixes) {
      key.clear();
      if (i != 0) key += continuingSubwordPrefix_;
      key.append(s);
      if (i + n == word.size()) key += endOfWordSuffix_;
      s = key;
    }
    i += n;
    if (auto id = tokenId(s)) {
      if (pendingUnk >= 0) {
        add(pendingUnk);
        pendingUnk = -1;
      }
      add(*id);
      continue;
    }
    if (byteFallback_) {
      bool all = true;
      for (unsigned char c : s) all &= byteTokens_[c] >= 0;
      if (all) {
        for (unsigned char c : s) add(byteTokens_[c]);
        continue;
      }
    }
    if (unkId_) {
      if (pendingUnk >= 0 && !fuseUnk_) add(pendingUnk);
      pendingUnk = *unkId_;
    }
    // No unk token: the character is dropped, as in the `tokenizers` library.
  }
  if (pendingUnk >= 0) add(pendingUnk);

  struct Candidate {
    int32_t rank, pos, result;
    int32_t left, right; // the pair's ids when it was queued
    bool operator<(const Candidate &o) const { // the heap top: lowest rank, then leftmost
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  std::priority_queue<Candidate> queue;
  auto consider = [&](int32_t pos) {
    const Symbol &l = symbols[pos];
    if (const MergeInfo *m = findMerge(l.id, symbols[l.next].id))
      queue.push({m->rank, pos, m->result, l.id, symbols[l.next].id});
  };
  for (size_t i = 0; i + 1 < symbols.size(); ++i) consider(static_cast<int32_t>(i));

  while (!queue.empty()) {
    Candidate top = queue.top();
    queue.pop();
    Symbol &left = symbols[top.pos];
    if (left.removed || left.next < 0) continue;
    Symbol &right = symbols[left.next];
    // Stale when a neighbour merged since: the pair must still merge into the same token (the
    // `tokenizers` library's test; unchanged ids pass it without a lookup).
    if (left.id != top.left || right.id != top.right) {
      const MergeInfo *m = findMerge(left.id, right.id);
      if (!m || m->result != top.result) continue;
    }
    left.id = top.result;
    right.removed = true;
    left.next = right.next;
    if (left.next >= 0) symbols[left.next].prev = top.pos;
    if (left.prev >= 0) consider(left.prev);
    if (left.next >= 0) consider(top.pos);
  }
  for (const Symbol &s : symbols)
    if (!s.removed) out.push_back(s.id);
}

} // namespace llmrt::tok
