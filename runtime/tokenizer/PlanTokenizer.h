// The tokenizer a plan carries (tokenizer.json + tokenizer_config.json, as llmc stored them).
#pragma once

#include "plan/PlanLoader.h"
#include "tokenizer/Tokenizer.h"

#include <memory>

namespace llmrt {

// nullptr when the plan carries no tokenizer.json; llm::Error when the files it carries are bad.
std::unique_ptr<Tokenizer> tokenizerFromPlan(const LoadedPlan &plan);

} // namespace llmrt
