// Shared by the config parser tests (hfconfig_test, quantization_config_test).
#pragma once

#include "import/HFConfig.h"
#include "support/Error.h"

#include <nlohmann/json.hpp>

#include <string>

namespace llmtest {

// The message of the llm::Error that parsing config `j` raises, or "" when it parses.
inline std::string configError(const nlohmann::json &j) {
  try {
    llmc::parseModelConfig(j, "config.json");
  } catch (const llm::Error &e) {
    return e.what();
  }
  return "";
}

} // namespace llmtest
