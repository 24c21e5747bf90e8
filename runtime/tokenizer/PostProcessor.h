// tokenizer.json "post_processor": the special tokens wrapped around an encoded sequence when
// encode() is asked to add them (BOS/EOS). Supported: TemplateProcessing, ByteLevel (changes only
// offsets, so nothing here), Sequence. Only single sequences are encoded, so only the "single"
// template is used.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <memory>
#include <vector>

namespace llmrt::tok {

class PostProcessor {
public:
  // The ids to put before and after the sequence.
  struct Wrap {
    std::vector<int32_t> before, after;
  };

  static PostProcessor none() { return {}; }
  // llm::Error naming the type for anything unsupported or malformed.
  static PostProcessor fromJson(const nlohmann::json &j);
  // BOS / EOS as transformers' update_post_processor builds them from tokenizer_config.json flags;
  // -1 = absent.
  static PostProcessor bosEos(int32_t bos, int32_t eos);

  void apply(std::vector<int32_t> &ids) const;
  const Wrap &wrap() const { return wrap_; }

private:
  Wrap wrap_;
};

} // namespace llmrt::tok
