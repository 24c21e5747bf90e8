// Incremental detokenization for streaming: text for each new token as soon as it is final.
//
// Decoding token by token is wrong in two ways: a character can span tokens (byte-level BPE,
// "<0xXX>" byte fallback), and decoders look at neighbours (SentencePiece's leading space is
// stripped only from the first token). So each push decodes a short window: the tokens since the
// last emitted text plus the tokens that produced it (the context), and emits what the window
// adds beyond the context's own text. Text ending in U+FFFD (an incomplete character) is held
// back until a later token completes it, or until flush(). Tokens decode() leaves out (special
// tokens when skipping them) never enter the window.
//
// NOTE: the concatenation of everything push() and flush() return equals
// tokenizer.decode(all ids) whenever the decoded text of a prefix of the ids is a prefix of the
// decoded text of all of them (true for every tokenizer.json this runtime supports, except around
// invalid byte sequences, which decode to U+FFFD either way).
#pragma once

#include "tokenizer/Tokenizer.h"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace llmrt {

class IncrementalDetokenizer {
public:
  explicit IncrementalDetokenizer(const Tokenizer &tokenizer, bool skipSpecial = true);

  // Gives ids that come before the streamed ones (the end of the prompt) as context, without
  // emitting their text: the first streamed token then decodes as it does after them (e.g. a
  // SentencePiece "▁word" keeps its space).
  void prime(std::span<const int32_t> contextIds);

  // Newly complete text (possibly empty); never part of a UTF-8 character.
  std::string push(int32_t id);
  // Whatever is held back (an incomplete character decodes to U+FFFD).
  std::string flush();

private:
  std::string emitReady(bool final);
  static constexpr size_t kMaxPending = 64;

  const Tokenizer &tokenizer_;
  bool skipSpecial_;
  std::vector<int32_t> ids_; // the context followed by the pending tokens
  size_t contextEnd_ = 0;    // ids_[0, contextEnd_) produced text already emitted (or primed)
  std::string contextText_;  // decode(ids_[0, contextEnd_))
};

} // namespace llmrt
