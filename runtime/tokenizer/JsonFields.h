// Reading tokenizer.json components: every accessor names the component (`where`, e.g.
// "pre_tokenizer Split") in its llm::Error when a field is missing or has the wrong type.
#pragma once

#include "tokenizer/Regex.h"

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace llmrt::tok {

const nlohmann::json &requireField(const nlohmann::json &obj, std::string_view key,
                                   std::string_view where);
std::string getString(const nlohmann::json &obj, std::string_view key, std::string_view where);
bool getBool(const nlohmann::json &obj, std::string_view key, std::string_view where,
             bool fallback);
int64_t getInt(const nlohmann::json &obj, std::string_view key, std::string_view where,
               int64_t fallback);
// A one-character string field (Metaspace replacement, Strip content).
char32_t getChar(const nlohmann::json &obj, std::string_view key, std::string_view where);
// The "type" of a component; `section` is "normalizer", "pre_tokenizer", ...
std::string componentType(const nlohmann::json &obj, std::string_view section);
[[noreturn]] void unsupported(std::string_view section, std::string_view type,
                              std::initializer_list<std::string_view> supported);
// {"String": "..."} or {"Regex": "..."}.
Pattern readPattern(const nlohmann::json &obj, std::string_view where);

// Bounds the nesting of Sequence components (a hostile file could nest them until the stack runs
// out): construct one per Sequence level; throws llm::Error past 32 levels.
class NestingGuard {
public:
  explicit NestingGuard(std::string_view section);
  ~NestingGuard();
  NestingGuard(const NestingGuard &) = delete;
  NestingGuard &operator=(const NestingGuard &) = delete;
};

// Metaspace's settings, shared by the pre-tokenizer and the decoder of that name. Older files
// say "add_prefix_space" instead of "prepend_scheme" (missing: "always"); "split" defaults to true.
enum class PrependScheme { First, Never, Always };
struct MetaspaceConfig {
  char32_t replacement = 0x2581;
  std::string replacementUtf8;
  PrependScheme scheme = PrependScheme::Always;
  bool split = true;
};
MetaspaceConfig readMetaspace(const nlohmann::json &obj, std::string_view where);

} // namespace llmrt::tok
