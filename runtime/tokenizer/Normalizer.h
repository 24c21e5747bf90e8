// tokenizer.json "normalizer": rewrites each piece of input text (the text between added tokens)
// before pre-tokenization. Supported: Sequence, Prepend, Replace, NFC, NFD, NFKC, NFKD, Strip.
// Offsets are not tracked: the runtime needs ids, not alignments.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <memory>
#include <string>

namespace llmrt::tok {

class Normalizer {
public:
  virtual ~Normalizer() = default;
  // `s` is valid UTF-8 and stays so.
  virtual void normalize(std::string &s) const = 0;

  // nullptr for a JSON null; llm::Error naming the type for anything unsupported.
  static std::unique_ptr<Normalizer> fromJson(const nlohmann::json &j);
};

} // namespace llmrt::tok
