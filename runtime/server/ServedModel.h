// What the server knows about the model it serves, read once from the plan: its name, tokenizer,
// chat template, special-token strings, context length and sampling defaults.
#pragma once

#include "chat/ChatTemplate.h"
#include "plan/PlanLoader.h"
#include "tokenizer/Tokenizer.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace llmrt::server {

struct SamplingDefaults {
  float temperature = 1;
  float topP = 1;
  int topK = 0;
};

struct ServedModel {
  std::string name;                        // what clients put in "model"
  std::unique_ptr<Tokenizer> tokenizer;    // never null: serving needs one
  std::optional<chat::ChatTemplate> chatTemplate; // absent: chat completions are refused
  std::string bosToken, eosToken;          // tokenizer_config.json's strings ("" when absent)
  SamplingDefaults defaults;               // from the plan's generation defaults
  int maxModelLen = 0;                     // the engine's (set when the engine exists)
  int vocabSize = 0;                       // the model's logits (>= the tokenizer's ids)

  // Throws llm::Error when the plan carries no tokenizer or a chat template that does not parse.
  static ServedModel fromPlan(const LoadedPlan &plan, std::string servedName);
};

} // namespace llmrt::server
