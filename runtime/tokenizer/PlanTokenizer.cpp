#include "tokenizer/PlanTokenizer.h"

#include "support/Error.h"

#include <string_view>

namespace llmrt {

std::string_view planTokenizerFile(const fb::Plan &plan, std::string_view name) {
  if (plan.tokenizer_files())
    for (const fb::TokenizerFile *f : *plan.tokenizer_files())
      if (f->name()->string_view() == name && f->data())
        return {reinterpret_cast<const char *>(f->data()->data()), f->data()->size()};
  return {};
}

std::unique_ptr<Tokenizer> tokenizerFromPlan(const LoadedPlan &plan) {
  std::string_view json = planTokenizerFile(plan.plan(), "tokenizer.json");
  if (json.empty())
    return nullptr;
  try {
    return Tokenizer::fromJson(json, planTokenizerFile(plan.plan(), "tokenizer_config.json"));
  } catch (const llm::Error &e) {
    llm::fail("plan '{}': its tokenizer.json is not usable: {}", plan.path(), e.what());
  }
}

} // namespace llmrt
