// tokenizer.json "pre_tokenizer": cuts normalized text into words for the model and rewrites
// them (ByteLevel spells bytes in its alphabet, Metaspace turns spaces into U+2581).
// Supported: ByteLevel, Split, Metaspace, Digits, Sequence.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace llmrt::tok {

// Words during pre-tokenization: spans of one text buffer.
struct Pieces {
  struct Piece {
    uint32_t begin = 0, end = 0;
    // The piece starts where the original input starts (Metaspace's prepend_scheme "first").
    bool atStart = false;
  };
  std::string text;
  std::vector<Piece> list;

  std::string_view view(const Piece &p) const {
    return std::string_view(text).substr(p.begin, p.end - p.begin);
  }
};

class PreTokenizer {
public:
  virtual ~PreTokenizer() = default;
  // Replaces `pieces` by its pre-tokenization; no empty piece is left.
  virtual void apply(Pieces &pieces) const = 0;

  // nullptr for a JSON null; llm::Error naming the type for anything unsupported.
  static std::unique_ptr<PreTokenizer> fromJson(const nlohmann::json &j);
};

} // namespace llmrt::tok
