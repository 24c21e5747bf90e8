// tokenizer.json "decoder": turns token strings back into text. Each decoder rewrites the list
// of token strings (the `tokenizers` library's decode_chain) and the result is concatenated.
// Supported: ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip, BPEDecoder, Sequence.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <memory>
#include <string>
#include <vector>

namespace llmrt::tok {

class Decoder {
public:
  virtual ~Decoder() = default;
  virtual void decodeChain(std::vector<std::string> &tokens) const = 0;

  // nullptr for a JSON null; llm::Error naming the type for anything unsupported.
  static std::unique_ptr<Decoder> fromJson(const nlohmann::json &j);
};

} // namespace llmrt::tok
