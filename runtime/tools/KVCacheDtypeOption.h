// --kv-cache-dtype auto|f32|bf16|fp8_e4m3 for the subcommands that run a model (generate, bench,
// serve, perplexity): auto keeps the plan's KV cache dtype, anything else overrides it (vLLM's
// --kv-cache-dtype). A bad value is a CLI11 validation error naming the accepted values.
#pragma once

#include "plan/KVCacheDtype.h"

#include <CLI/CLI.hpp>

#include <optional>
#include <string>

namespace llmrt::tools {

inline CLI::Option *addKVCacheDtypeOption(CLI::App *cmd, std::optional<KVCacheDtype> &out) {
  return cmd
      ->add_option_function<std::string>(
          "--kv-cache-dtype",
          [&out](const std::string &value) {
            try {
              out = parseKVCacheDtypeOption(value);
            } catch (const llm::Error &e) {
              throw CLI::ValidationError("--kv-cache-dtype", e.what());
            }
          },
          "KV cache element type: auto (the plan's), f32, bf16 or fp8_e4m3 (fp8: one scale per "
          "token and kv head)")
      ->default_str("auto");
}

} // namespace llmrt::tools
