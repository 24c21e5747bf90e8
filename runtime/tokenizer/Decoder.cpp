#include "tokenizer/Decoder.h"

#include "support/Error.h"
#include "tokenizer/ByteLevelAlphabet.h"
#include "tokenizer/JsonFields.h"
#include "tokenizer/Regex.h"
#include "tokenizer/Utf8.h"

#include <nlohmann/json.hpp>

namespace llmrt::tok {

namespace {

using nlohmann::json;

// Byte-level tokens back to bytes (a token with a character outside the alphabet stays as its own
// UTF-8), all concatenated and made valid UTF-8 (invalid bytes become U+FFFD).
class ByteLevelDecoder final : public Decoder {
public:
  void decodeChain(std::vector<std::string> &tokens) const override {
    const ByteLevelAlphabet &alphabet = ByteLevelAlphabet::get();
    std::string bytes;
    std::string tokenBytes;
    for (const std::string &t : tokens) {
      tokenBytes.clear();
      bool inAlphabet = true;
      for (size_t i = 0; i < t.size() && inAlphabet;) {
        char32_t cp = 0;
        size_t n = decodeUtf8(t, i, cp);
        int b = n ? alphabet.byteOf(cp) : -1;
        if (b < 0) inAlphabet = false;
        else tokenBytes += static_cast<char>(b);
        i += n ? n : 1;
      }
      bytes += inAlphabet ? tokenBytes : t;
    }
    tokens.assign(1, utf8Lossy(bytes));
  }
};

// The replacement character becomes a space, except in the first token when a prefix was
// prepended (every replacement character of the first token is dropped then).
class MetaspaceDecoder final : public Decoder {
public:
  explicit MetaspaceDecoder(MetaspaceConfig c) : config_(std::move(c)) {}
  void decodeChain(std::vector<std::string> &tokens) const override {
    const std::string &rep = config_.replacementUtf8;
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string &t = tokens[i];
      std::string out;
      out.reserve(t.size());
      bool drop = i == 0 && config_.scheme != PrependScheme::Never;
      for (size_t k = 0; k < t.size();) {
        if (t.compare(k, rep.size(), rep) == 0) {
          if (!drop) out += ' ';
          k += rep.size();
        } else {
          out += t[k++];
        }
      }
      t = std::move(out);
    }
  }

private:
  MetaspaceConfig config_;
};

class ReplaceDecoder final : public Decoder {
public:
  ReplaceDecoder(Pattern pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void decodeChain(std::vector<std::string> &tokens) const override {
    std::vector<Match> matches;
    for (std::string &t : tokens) {
      matches.clear();
      pattern_.findAll(t, matches);
      if (matches.empty()) continue;
      std::string out;
      size_t last = 0;
      for (auto [b, e] : matches) {
        out.append(t, last, b - last);
        out += content_;
        last = e;
      }
      out.append(t, last, std::string::npos);
      t = std::move(out);
    }
  }

private:
  Pattern pattern_;
  std::string content_;
};

// Runs of "<0xXX>" tokens become the text of their bytes; a run that is not valid UTF-8 becomes
// one U+FFFD per byte.
class ByteFallbackDecoder final : public Decoder {
public:
  void decodeChain(std::vector<std::string> &tokens) const override {
    std::vector<std::string> out;
    out.reserve(tokens.size());
    std::string run;
    size_t runLength = 0;
    auto flush = [&] {
      if (runLength == 0) return;
      if (findInvalidUtf8(run) == std::string::npos) {
        out.push_back(run);
      } else {
        for (size_t i = 0; i < runLength; ++i) out.emplace_back(kReplacementChar);
      }
      run.clear();
      runLength = 0;
    };
    for (std::string &t : tokens) {
      int byte = parseByteToken(t);
      if (byte >= 0) {
        run += static_cast<char>(byte);
        ++runLength;
        continue;
      }
      flush();
      out.push_back(std::move(t));
    }
    flush();
    tokens = std::move(out);
  }

  // "<0xXX>" -> XX (Rust's u8::from_str_radix, which also takes a leading '+'), else -1.
  static int parseByteToken(std::string_view t) {
    if (t.size() != 6 || !t.starts_with("<0x") || t[5] != '>') return -1;
    auto hex = [](char c) {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    if (t[3] == '+') return hex(t[4]);
    int hi = hex(t[3]), lo = hex(t[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
  }
};

class FuseDecoder final : public Decoder {
public:
  void decodeChain(std::vector<std::string> &tokens) const override {
    std::string all;
    for (const std::string &t : tokens) all += t;
    tokens.assign(1, std::move(all));
  }
};

// Removes up to `start` leading and `stop` trailing occurrences of one character per token.
class StripDecoder final : public Decoder {
public:
  StripDecoder(char32_t content, size_t start, size_t stop)
      : start_(start), stop_(stop) {
    appendUtf8(content_, content);
  }
  void decodeChain(std::vector<std::string> &tokens) const override {
    const size_t n = content_.size();
    for (std::string &t : tokens) {
      size_t b = 0, e = t.size();
      for (size_t k = 0; k < start_ && b + n <= e && t.compare(b, n, content_) == 0; ++k) b += n;
      for (size_t k = 0; k < stop_ && e >= b + n && t.compare(e - n, n, content_) == 0; ++k) e -= n;
      t = t.substr(b, e - b);
    }
  }

private:
  std::string content_;
  size_t start_, stop_;
};

// end_of_word_suffix back to spaces (none after the last token).
class BPESuffixDecoder final : public Decoder {
public:
  explicit BPESuffixDecoder(std::string suffix) : suffix_(std::move(suffix)) {}
  void decodeChain(std::vector<std::string> &tokens) const override {
    if (suffix_.empty()) return;
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string &t = tokens[i];
      std::string with = i + 1 == tokens.size() ? "" : " ";
      std::string out;
      size_t last = 0, pos;
      while ((pos = t.find(suffix_, last)) != std::string::npos) {
        out.append(t, last, pos - last);
        out += with;
        last = pos + suffix_.size();
      }
      out.append(t, last, std::string::npos);
      t = std::move(out);
    }
  }

private:
  std::string suffix_;
};

class SequenceDecoder final : public Decoder {
public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> parts)
      : parts_(std::move(parts)) {}
  void decodeChain(std::vector<std::string> &tokens) const override {
    for (const auto &p : parts_) p->decodeChain(tokens);
  }

private:
  std::vector<std::unique_ptr<Decoder>> parts_;
};

} // namespace

std::unique_ptr<Decoder> Decoder::fromJson(const json &j) {
  if (j.is_null()) return nullptr;
  std::string type = componentType(j, "decoder");
  if (type == "Sequence") {
    NestingGuard guard("decoder");
    const json &list = requireField(j, "decoders", "decoder Sequence");
    if (!list.is_array()) llm::fail("tokenizer.json: decoder Sequence \"decoders\" must be a list");
    std::vector<std::unique_ptr<Decoder>> parts;
    for (const json &p : list) {
      if (p.is_null()) llm::fail("tokenizer.json: decoder Sequence holds a null");
      parts.push_back(fromJson(p));
    }
    return std::make_unique<SequenceDecoder>(std::move(parts));
  }
  if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
  if (type == "Metaspace") return std::make_unique<MetaspaceDecoder>(readMetaspace(j, "decoder Metaspace"));
  if (type == "Replace")
    return std::make_unique<ReplaceDecoder>(readPattern(j, "decoder Replace"),
                                            getString(j, "content", "decoder Replace"));
  if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
  if (type == "Fuse") return std::make_unique<FuseDecoder>();
  if (type == "Strip") {
    int64_t start = getInt(j, "start", "decoder Strip", 0), stop = getInt(j, "stop", "decoder Strip", 0);
    if (start < 0 || stop < 0) llm::fail("tokenizer.json: decoder Strip start/stop must be >= 0");
    return std::make_unique<StripDecoder>(getChar(j, "content", "decoder Strip"),
                                          static_cast<size_t>(start), static_cast<size_t>(stop));
  }
  if (type == "BPEDecoder") {
    auto it = j.find("suffix");
    return std::make_unique<BPESuffixDecoder>(
        it != j.end() && it->is_string() ? it->get<std::string>() : std::string("</w>"));
  }
  unsupported("decoder", type,
              {"Sequence", "ByteLevel", "Metaspace", "Replace", "ByteFallback", "Fuse", "Strip",
               "BPEDecoder"});
}

} // namespace llmrt::tok
