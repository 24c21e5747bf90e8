// GPT-2's byte-level alphabet: each of the 256 byte values is spelled as one printable character
// (the printable Latin-1 bytes as themselves, the others as U+0100.. in byte order), so a
// byte-level vocabulary is made of ordinary strings. Header-only: the GGUF importer uses it too.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace llmrt::tok {

class ByteLevelAlphabet {
public:
  static const ByteLevelAlphabet &get() {
    static const ByteLevelAlphabet alphabet;
    return alphabet;
  }

  char32_t charOf(uint8_t byte) const { return chars_[byte]; }
  std::string_view utf8Of(uint8_t byte) const { return utf8_[byte]; }
  // The byte a character spells, or -1 when the character is not in the alphabet.
  int byteOf(char32_t c) const { return c < bytes_.size() ? bytes_[c] : -1; }

  // The bytes of `s` spelled in the alphabet (what the ByteLevel pre-tokenizer produces).
  std::string encode(std::string_view s) const {
    std::string out;
    out.reserve(s.size() * 2);
    for (unsigned char b : s) out += utf8_[b];
    return out;
  }

private:
  ByteLevelAlphabet() {
    bytes_.fill(-1);
    int extra = 0;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      char32_t c = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + extra++);
      chars_[b] = c;
      bytes_[c] = static_cast<int16_t>(b);
      std::string &u = utf8_[b];
      if (c < 0x80) {
        u += static_cast<char>(c);
      } else {
        u += static_cast<char>(0xC0 | (c >> 6));
        u += static_cast<char>(0x80 | (c & 0x3F));
      }
    }
  }

  std::array<char32_t, 256> chars_{};
  std::array<std::string, 256> utf8_{};
  std::array<int16_t, 324> bytes_{}; // 256 + 68 characters above U+00FF at most
};

} // namespace llmrt::tok
