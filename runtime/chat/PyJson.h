// JSON in and out of templates, byte-compatible with Python:
//  - fromJson turns request data (messages, tools, extra variables) into Values, keeping object
//    key order (use nlohmann::ordered_json; a plain nlohmann::json has already sorted its keys);
//  - jsonDumps is json.dumps(x, ensure_ascii, indent, separators, sort_keys), which transformers'
//    `tojson` filter calls: ", " and ": " separators (or "," with an indent), floats as Python's
//    repr (1.0, 1e-05), NaN / Infinity, \uXXXX escapes in lower-case hex.
#pragma once

#include "chat/Value.h"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace llmrt::chat {

inline constexpr int kMaxDataDepth = 256;

Value fromJson(const nlohmann::ordered_json &j);  // faults when nested deeper than kMaxDataDepth

struct JsonDumpOptions {
  bool ensureAscii = false;
  std::optional<std::string> indent;  // nullopt: one line
  std::optional<std::string> itemSeparator, keySeparator;
  bool sortKeys = false;
};

std::string jsonDumps(const Value &v, const JsonDumpOptions &options);

} // namespace llmrt::chat
