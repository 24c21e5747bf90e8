#include "tokenizer/PostProcessor.h"

#include "support/Error.h"
#include "tokenizer/JsonFields.h"

#include <nlohmann/json.hpp>

namespace llmrt::tok {

using nlohmann::json;

namespace {

constexpr std::string_view kWhere = "post_processor TemplateProcessing";

PostProcessor::Wrap templateWrap(const json &j) {
  const json &specials = requireField(j, "special_tokens", kWhere);
  if (!specials.is_object())
    llm::fail("tokenizer.json: {} \"special_tokens\" must be an object", kWhere);
  const json &single = requireField(j, "single", kWhere);
  if (!single.is_array()) llm::fail("tokenizer.json: {} \"single\" must be a list", kWhere);
  PostProcessor::Wrap wrap;
  int sequences = 0;
  for (const json &piece : single) {
    if (!piece.is_object() || piece.size() != 1)
      llm::fail("tokenizer.json: {} \"single\" holds a piece that is not "
                "{{\"Sequence\": ...}} or {{\"SpecialToken\": ...}}",
                kWhere);
    if (auto it = piece.find("Sequence"); it != piece.end()) {
      std::string id = getString(*it, "id", kWhere);
      if (id != "A") llm::fail("tokenizer.json: {} single template uses sequence '{}'", kWhere, id);
      ++sequences;
      continue;
    }
    auto it = piece.find("SpecialToken");
    if (it == piece.end())
      llm::fail("tokenizer.json: {} piece '{}' is not Sequence or SpecialToken", kWhere,
                piece.begin().key());
    std::string name = getString(*it, "id", kWhere);
    auto st = specials.find(name);
    if (st == specials.end())
      llm::fail("tokenizer.json: {} uses special token '{}', which \"special_tokens\" lacks",
                kWhere, name);
    const json &ids = requireField(*st, "ids", kWhere);
    if (!ids.is_array()) llm::fail("tokenizer.json: {} special token '{}' ids must be a list", kWhere, name);
    auto &dst = sequences == 0 ? wrap.before : wrap.after;
    for (const json &id : ids) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX)
        llm::fail("tokenizer.json: {} special token '{}' has an invalid id", kWhere, name);
      dst.push_back(static_cast<int32_t>(id.get<int64_t>()));
    }
  }
  if (sequences != 1)
    llm::fail("tokenizer.json: {} single template must hold $A exactly once", kWhere);
  return wrap;
}

} // namespace

PostProcessor PostProcessor::fromJson(const json &j) {
  PostProcessor p;
  if (j.is_null()) return p;
  std::string type = componentType(j, "post_processor");
  if (type == "TemplateProcessing") {
    p.wrap_ = templateWrap(j);
  } else if (type == "ByteLevel") {
    // Adjusts offsets only.
  } else if (type == "Sequence") {
    NestingGuard guard("post_processor");
    const json &list = requireField(j, "processors", "post_processor Sequence");
    if (!list.is_array())
      llm::fail("tokenizer.json: post_processor Sequence \"processors\" must be a list");
    for (const json &sub : list) { // each wraps what the previous ones produced
      PostProcessor inner = fromJson(sub);
      p.wrap_.before.insert(p.wrap_.before.begin(), inner.wrap_.before.begin(),
                            inner.wrap_.before.end());
      p.wrap_.after.insert(p.wrap_.after.end(), inner.wrap_.after.begin(), inner.wrap_.after.end());
    }
  } else {
    unsupported("post_processor", type, {"TemplateProcessing", "ByteLevel", "Sequence"});
  }
  return p;
}

PostProcessor PostProcessor::bosEos(int32_t bos, int32_t eos) {
  PostProcessor p;
  if (bos >= 0) p.wrap_.before.push_back(bos);
  if (eos >= 0) p.wrap_.after.push_back(eos);
  return p;
}

void PostProcessor::apply(std::vector<int32_t> &ids) const {
  if (!wrap_.before.empty()) ids.insert(ids.begin(), wrap_.before.begin(), wrap_.before.end());
  ids.insert(ids.end(), wrap_.after.begin(), wrap_.after.end());
}

} // namespace llmrt::tok
