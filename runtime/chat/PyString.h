// Python str semantics over UTF-8: templates index, slice, measure and strip strings by code
// point (len('é') == 1), and Python's notion of whitespace includes Unicode spaces.
//
// NOTE: case mapping (upper, lower, title, capitalize) uses utf8proc's one-to-one mappings plus
// ß -> SS; Python's other multi-character mappings (rare ligatures) are not reproduced.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmrt::chat::pystr {

std::vector<uint32_t> decode(std::string_view s);  // invalid bytes decode as U+FFFD
std::string encode(const std::vector<uint32_t> &cps, size_t begin, size_t end);
void append(std::string &out, uint32_t cp);
size_t length(std::string_view s);  // in code points
bool isAscii(std::string_view s);

bool isSpace(uint32_t cp);  // str.isspace() for one character

std::string strip(std::string_view s, const std::optional<std::string> &chars, bool left, bool right);
std::vector<std::string> split(std::string_view s, const std::optional<std::string> &sep,
                               int64_t maxsplit);
std::vector<std::string> rsplit(std::string_view s, const std::optional<std::string> &sep,
                                int64_t maxsplit);
std::vector<std::string> splitlines(std::string_view s, bool keepends);
std::string replace(std::string_view s, std::string_view from, std::string_view to, int64_t count);
int64_t find(std::string_view s, std::string_view sub);   // code point index or -1
int64_t rfind(std::string_view s, std::string_view sub);  // code point index or -1
int64_t count(std::string_view s, std::string_view sub);

std::string htmlEscape(std::string_view s);  // markupsafe.escape: & < > " '

std::string upper(std::string_view s);
std::string lower(std::string_view s);
std::string capitalize(std::string_view s);  // str.capitalize()
std::string title(std::string_view s);       // str.title()

} // namespace llmrt::chat::pystr
