#include "tokenizer/Normalizer.h"

#include "support/Error.h"
#include "tokenizer/JsonFields.h"
#include "tokenizer/Utf8.h"

#include <nlohmann/json.hpp>
#include <utf8proc.h>

#include <cstdlib>
#include <vector>

namespace llmrt::tok {

namespace {

using nlohmann::json;

class SequenceNormalizer final : public Normalizer {
public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> parts)
      : parts_(std::move(parts)) {}
  void normalize(std::string &s) const override {
    for (const auto &p : parts_) p->normalize(s);
  }

private:
  std::vector<std::unique_ptr<Normalizer>> parts_;
};

// Prepends to non-empty text only.
class PrependNormalizer final : public Normalizer {
public:
  explicit PrependNormalizer(std::string prefix) : prefix_(std::move(prefix)) {}
  void normalize(std::string &s) const override {
    if (!s.empty()) s.insert(0, prefix_);
  }

private:
  std::string prefix_;
};

class ReplaceNormalizer final : public Normalizer {
public:
  ReplaceNormalizer(Pattern pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void normalize(std::string &s) const override {
    std::vector<Match> matches;
    pattern_.findAll(s, matches);
    if (matches.empty()) return;
    std::string out;
    out.reserve(s.size() + matches.size() * content_.size());
    size_t last = 0;
    for (auto [b, e] : matches) {
      out.append(s, last, b - last);
      out += content_;
      last = e;
    }
    out.append(s, last, std::string::npos);
    s = std::move(out);
  }

private:
  Pattern pattern_;
  std::string content_;
};

class UnicodeNormalizer final : public Normalizer {
public:
  UnicodeNormalizer(int options, const char *name) : options_(options), name_(name) {}
  void normalize(std::string &s) const override {
    bool ascii = true;
    for (unsigned char c : s) ascii &= c < 0x80;
    if (ascii) return; // every normalization form leaves ASCII alone
    utf8proc_uint8_t *out = nullptr;
    utf8proc_ssize_t n =
        utf8proc_map(reinterpret_cast<const utf8proc_uint8_t *>(s.data()),
                     static_cast<utf8proc_ssize_t>(s.size()), &out,
                     static_cast<utf8proc_option_t>(options_));
    if (n < 0) llm::fail("tokenizer: {} normalization failed: {}", name_, utf8proc_errmsg(n));
    s.assign(reinterpret_cast<const char *>(out), static_cast<size_t>(n));
    std::free(out);
  }

private:
  int options_;
  const char *name_;
};

// Strips Unicode whitespace (Rust's char::is_whitespace) from either end.
class StripNormalizer final : public Normalizer {
public:
  StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
  void normalize(std::string &s) const override {
    size_t b = 0, e = s.size();
    if (left_) {
      char32_t cp;
      size_t n;
      while (b < e && (n = decodeUtf8(s, b, cp)) && isWhitespace(cp)) b += n;
    }
    if (right_) {
      while (e > b) {
        size_t start = e - 1;
        while (start > b && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
        char32_t cp;
        if (!decodeUtf8(s, start, cp) || !isWhitespace(cp)) break;
        e = start;
      }
    }
    s = s.substr(b, e - b);
  }

private:
  bool left_, right_;
};

} // namespace

std::unique_ptr<Normalizer> Normalizer::fromJson(const json &j) {
  if (j.is_null()) return nullptr;
  std::string type = componentType(j, "normalizer");
  if (type == "Sequence") {
    NestingGuard guard("normalizer");
    const json &list = requireField(j, "normalizers", "normalizer Sequence");
    if (!list.is_array()) llm::fail("tokenizer.json: normalizer Sequence \"normalizers\" must be a list");
    std::vector<std::unique_ptr<Normalizer>> parts;
    for (const json &p : list) {
      if (p.is_null()) llm::fail("tokenizer.json: normalizer Sequence holds a null");
      parts.push_back(fromJson(p));
    }
    return std::make_unique<SequenceNormalizer>(std::move(parts));
  }
  if (type == "Prepend") return std::make_unique<PrependNormalizer>(getString(j, "prepend", "normalizer Prepend"));
  if (type == "Replace")
    return std::make_unique<ReplaceNormalizer>(readPattern(j, "normalizer Replace"),
                                               getString(j, "content", "normalizer Replace"));
  if (type == "NFC") return std::make_unique<UnicodeNormalizer>(UTF8PROC_STABLE | UTF8PROC_COMPOSE, "NFC");
  if (type == "NFD") return std::make_unique<UnicodeNormalizer>(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE, "NFD");
  if (type == "NFKC")
    return std::make_unique<UnicodeNormalizer>(UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT, "NFKC");
  if (type == "NFKD")
    return std::make_unique<UnicodeNormalizer>(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT, "NFKD");
  if (type == "Strip")
    return std::make_unique<StripNormalizer>(getBool(j, "strip_left", "normalizer Strip", false),
                                             getBool(j, "strip_right", "normalizer Strip", false));
  unsupported("normalizer", type, {"Sequence", "Prepend", "Replace", "NFC", "NFD", "NFKC", "NFKD", "Strip"});
}

} // namespace llmrt::tok
