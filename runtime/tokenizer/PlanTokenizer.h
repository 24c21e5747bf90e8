// The tokenizer a plan carries (tokenizer.json + tokenizer_config.json, as llmc stored them).
#pragma once

#include "plan/PlanLoader.h"
#include "tokenizer/Tokenizer.h"

#include <memory>
#include <string_view>

namespace llmrt {

// nullptr when the plan carries no tokenizer.json; llm::Error when the files it carries are bad.
std::unique_ptr<Tokenizer> tokenizerFromPlan(const LoadedPlan &plan);

// The bytes of a tokenizer file the plan carries (e.g. "tokenizer_config.json"); empty if absent.
std::string_view planTokenizerFile(const fb::Plan &plan, std::string_view name);

} // namespace llmrt
