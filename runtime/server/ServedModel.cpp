#include "server/ServedModel.h"

#include "support/Error.h"
#include "tokenizer/PlanTokenizer.h"

#include <nlohmann/json.hpp>

namespace llmrt::server {

namespace {

// tokenizer_config.json writes special tokens as strings or as AddedToken objects.
std::string specialToken(const nlohmann::json &config, const char *key) {
  auto it = config.find(key);
  if (it == config.end())
    return {};
  if (it->is_string())
    return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string())
    return (*it)["content"].get<std::string>();
  return {};
}

} // namespace

ServedModel ServedModel::fromPlan(const LoadedPlan &plan, std::string servedName) {
  ServedModel m;
  const fb::Plan &p = plan.plan();
  m.name = !servedName.empty()                       ? std::move(servedName)
           : p.model() && p.model()->name() && p.model()->name()->size() ? p.model()->name()->str()
                                                                         : "model";
  m.tokenizer = tokenizerFromPlan(plan);
  if (!m.tokenizer)
    llm::fail("plan '{}' carries no tokenizer.json: the server needs one to read prompts and "
              "write text (compile the model folder with its tokenizer files)",
              plan.path());
  std::string_view configText = planTokenizerFile(p, "tokenizer_config.json");
  if (!configText.empty()) {
    nlohmann::json config = nlohmann::json::parse(configText, nullptr, false);
    if (config.is_object()) {
      m.bosToken = specialToken(config, "bos_token");
      m.eosToken = specialToken(config, "eos_token");
    }
  }
  if (p.chat_template() && p.chat_template()->size() > 0) {
    try {
      m.chatTemplate = chat::ChatTemplate::parse(p.chat_template()->string_view());
    } catch (const llm::Error &e) {
      llm::fail("plan '{}': its chat template does not parse: {}", plan.path(), e.what());
    }
  }
  if (const fb::GenerationDefaults *g = p.generation()) {
    m.defaults.temperature = g->temperature();
    m.defaults.topP = g->top_p();
    m.defaults.topK = g->top_k();
  }
  return m;
}

} // namespace llmrt::server
