#include "server/OutputText.h"

#include <algorithm>

namespace llmrt::server {

OutputText::OutputText(const Tokenizer &tokenizer, std::span<const int32_t> context,
                       std::vector<std::string> stops, bool includeStop, bool skipSpecial)
    : detokenizer_(tokenizer, skipSpecial), stops_(std::move(stops)), includeStop_(includeStop) {
  std::erase(stops_, std::string());
  detokenizer_.prime(context);
}

size_t OutputText::heldBack() const {
  size_t hold = 0;
  for (const std::string &stop : stops_)
    for (size_t len = std::min(stop.size() - 1, pending_.size()); len > hold; --len)
      if (pending_.compare(pending_.size() - len, len, stop, 0, len) == 0) {
        hold = len;
        break;
      }
  return hold;
}

OutputText::Delta OutputText::push(int32_t token) {
  if (stopped_)
    return {};
  return release(detokenizer_.push(token), /*final=*/false);
}

OutputText::Delta OutputText::release(std::string more, bool final) {
  Delta delta;
  // NOTE: a stop string can start inside text held back earlier, so search from the start of
  // pending_ (everything not yet released), not only in the new piece.
  pending_ += more;
  size_t first = std::string::npos;
  const std::string *match = nullptr;
  for (const std::string &stop : stops_) {
    size_t at = pending_.find(stop);
    if (at != std::string::npos && (at < first || (at == first && stop.size() > match->size()))) {
      first = at;
      match = &stop;
    }
  }
  if (match) {
    delta.text = pending_.substr(0, first + (includeStop_ ? match->size() : 0));
    delta.stopString = *match;
    stopped_ = true;
    pending_.clear();
  } else {
    size_t ready = final ? pending_.size() : pending_.size() - heldBack();
    delta.text = pending_.substr(0, ready);
    pending_.erase(0, ready);
  }
  released_ += delta.text;
  return delta;
}

OutputText::Delta OutputText::finish() {
  if (stopped_)
    return {};
  return release(detokenizer_.flush(), /*final=*/true);
}

std::string tokenPiece(const Tokenizer &tokenizer, int32_t token) {
  return tokenizer.decode(std::span<const int32_t>(&token, 1), /*skipSpecial=*/false);
}

} // namespace llmrt::server
