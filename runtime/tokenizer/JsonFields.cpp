#include "tokenizer/JsonFields.h"

#include "support/Error.h"
#include "tokenizer/Utf8.h"

#include <nlohmann/json.hpp>

namespace llmrt::tok {

using nlohmann::json;

const json &requireField(const json &obj, std::string_view key, std::string_view where) {
  if (!obj.is_object()) llm::fail("tokenizer.json: {} is not a JSON object", where);
  auto it = obj.find(key);
  if (it == obj.end()) llm::fail("tokenizer.json: {} has no \"{}\"", where, key);
  return *it;
}

std::string getString(const json &obj, std::string_view key, std::string_view where) {
  const json &v = requireField(obj, key, where);
  if (!v.is_string()) llm::fail("tokenizer.json: {} \"{}\" must be a string", where, key);
  return v.get<std::string>();
}

bool getBool(const json &obj, std::string_view key, std::string_view where, bool fallback) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) llm::fail("tokenizer.json: {} \"{}\" must be true or false", where, key);
  return it->get<bool>();
}

int64_t getInt(const json &obj, std::string_view key, std::string_view where, int64_t fallback) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return fallback;
  if (!it->is_number_integer())
    llm::fail("tokenizer.json: {} \"{}\" must be an integer", where, key);
  return it->get<int64_t>();
}

char32_t getChar(const json &obj, std::string_view key, std::string_view where) {
  std::string s = getString(obj, key, where);
  char32_t cp = 0;
  if (s.empty() || decodeUtf8(s, 0, cp) != s.size())
    llm::fail("tokenizer.json: {} \"{}\" must be exactly one character, got '{}'", where, key, s);
  return cp;
}

std::string componentType(const json &obj, std::string_view section) {
  if (!obj.is_object()) llm::fail("tokenizer.json: {} is not a JSON object", section);
  auto it = obj.find("type");
  if (it == obj.end() || !it->is_string())
    llm::fail("tokenizer.json: {} has no \"type\" string", section);
  return it->get<std::string>();
}

void unsupported(std::string_view section, std::string_view type,
                 std::initializer_list<std::string_view> supported) {
  std::string list;
  for (std::string_view s : supported) list += (list.empty() ? "" : ", ") + std::string(s);
  llm::fail("tokenizer.json: {} type '{}' is not supported (supported: {})", section, type, list);
}

Pattern readPattern(const json &obj, std::string_view where) {
  const json &p = requireField(obj, "pattern", where);
  if (p.is_object() && p.size() == 1) {
    if (auto it = p.find("String"); it != p.end() && it->is_string())
      return Pattern::literal(it->get<std::string>());
    if (auto it = p.find("Regex"); it != p.end() && it->is_string())
      return Pattern::regex(it->get<std::string>(), where);
  }
  llm::fail("tokenizer.json: {} \"pattern\" must be {{\"String\": ...}} or {{\"Regex\": ...}}",
            where);
}

namespace {
thread_local int nestingDepth = 0;
constexpr int kMaxNesting = 32;
} // namespace

NestingGuard::NestingGuard(std::string_view section) {
  if (nestingDepth >= kMaxNesting)
    llm::fail("tokenizer.json: {} Sequences are nested more than {} deep", section, kMaxNesting);
  ++nestingDepth;
}

NestingGuard::~NestingGuard() { --nestingDepth; }

MetaspaceConfig readMetaspace(const json &obj, std::string_view where) {
  MetaspaceConfig c;
  c.replacement = getChar(obj, "replacement", where);
  appendUtf8(c.replacementUtf8, c.replacement);
  if (auto it = obj.find("prepend_scheme"); it != obj.end() && !it->is_null()) {
    std::string s = it->is_string() ? it->get<std::string>() : "";
    if (s == "first") c.scheme = PrependScheme::First;
    else if (s == "never") c.scheme = PrependScheme::Never;
    else if (s == "always") c.scheme = PrependScheme::Always;
    else llm::fail("tokenizer.json: {} \"prepend_scheme\" must be first, never or always", where);
  }
  if (auto it = obj.find("add_prefix_space"); it != obj.end() && it->is_boolean() && !it->get<bool>()) {
    if (c.scheme != PrependScheme::Never)
      llm::fail("tokenizer.json: {} add_prefix_space false does not match prepend_scheme", where);
  }
  c.split = getBool(obj, "split", where, true);
  return c;
}

} // namespace llmrt::tok
