// UTF-8 helpers for the tokenizer: decoding one character, validation, Rust's lossy conversion
// (what the `tokenizers` library's decoders produce for invalid bytes), and the Unicode character
// classes the reference implementation uses (Rust's char::is_whitespace, char::is_numeric, and the
// regex crate's \w).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace llmrt::tok {

// Decodes the character starting at s[i] into `cp` and returns its length in bytes, or 0 when the
// bytes there are not a valid UTF-8 sequence (overlong, surrogate, > U+10FFFF, truncated).
size_t decodeUtf8(std::string_view s, size_t i, char32_t &cp);

// Length of the character starting at s[i]; s must be valid UTF-8.
inline size_t charLength(std::string_view s, size_t i) {
  auto b = static_cast<unsigned char>(s[i]);
  return b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
}

void appendUtf8(std::string &out, char32_t cp);

// Byte offset of the first invalid sequence, or npos when `s` is valid UTF-8.
size_t findInvalidUtf8(std::string_view s);

// Rust's String::from_utf8_lossy: every maximal invalid subsequence becomes one U+FFFD.
std::string utf8Lossy(std::string_view bytes);

inline constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD"; // U+FFFD

// Rust char::is_whitespace (the Unicode White_Space property).
bool isWhitespace(char32_t cp);
// Rust char::is_numeric (general categories Nd, Nl, No).
bool isNumeric(char32_t cp);
// The regex crate's \w: Alphabetic, marks, Nd, Pc, Join_Control. Alphabetic is approximated by the
// letter categories plus Nl (Other_Alphabetic symbols such as circled letters are not word
// characters here).
bool isWordChar(char32_t cp);

} // namespace llmrt::tok
