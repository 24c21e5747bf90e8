#include "tokenizer/Detokenizer.h"

#include "tokenizer/Utf8.h"

namespace llmrt {

IncrementalDetokenizer::IncrementalDetokenizer(const Tokenizer &tokenizer, bool skipSpecial)
    : tokenizer_(tokenizer), skipSpecial_(skipSpecial) {}

void IncrementalDetokenizer::prime(std::span<const int32_t> contextIds) {
  // A few tokens of context are enough; start where the text does not begin mid-character.
  size_t take = std::min<size_t>(contextIds.size(), 8);
  auto tail = contextIds.subspan(contextIds.size() - take);
  while (take < contextIds.size() &&
         tokenizer_.decode(tail, skipSpecial_).starts_with(tok::kReplacementChar)) {
    ++take;
    tail = contextIds.subspan(contextIds.size() - take);
  }
  ids_.assign(tail.begin(), tail.end());
  contextEnd_ = ids_.size();
  contextText_ = tokenizer_.decode(ids_, skipSpecial_);
}

std::string IncrementalDetokenizer::push(int32_t id) {
  if (tokenizer_.dropsWhenDecoding(id, skipSpecial_)) return {}; // decode() ignores it too
  ids_.push_back(id);
  return emitReady(false);
}

std::string IncrementalDetokenizer::flush() {
  std::string out = emitReady(true);
  ids_.clear();
  contextEnd_ = 0;
  contextText_.clear();
  return out;
}

std::string IncrementalDetokenizer::emitReady(bool final) {
  if (ids_.size() == contextEnd_) return {};
  std::string text = tokenizer_.decode(ids_, skipSpecial_);
  if (!final && text.ends_with(tok::kReplacementChar)) return {}; // wait for the rest
  std::string out;
  if (text.starts_with(contextText_)) {
    out = text.substr(contextText_.size());
  } else {
    // The new tokens changed how the context decodes (only around invalid byte sequences): what
    // was emitted stays, and the new tokens' own text follows.
    out = tokenizer_.decode(std::span(ids_).subspan(contextEnd_), skipSpecial_);
  }
  // Tokens that add no text (skipped special tokens, a SentencePiece "▁" whose space is stripped
  // at the start) stay pending: the next token must still decode after the context that gave
  // text. Past kMaxPending such tokens the window moves on anyway, so its length stays bounded.
  if (out.empty() && !final && ids_.size() - contextEnd_ < kMaxPending) return out;
  // The tokens just emitted become the context of the next ones.
  ids_.erase(ids_.begin(), ids_.begin() + static_cast<std::ptrdiff_t>(contextEnd_));
  contextEnd_ = ids_.size();
  contextText_ = tokenizer_.decode(ids_, skipSpecial_);
  return out;
}

} // namespace llmrt
