#include "tokenizer/PreTokenizer.h"

#include "support/Error.h"
#include "tokenizer/ByteLevelAlphabet.h"
#include "tokenizer/JsonFields.h"
#include "tokenizer/Regex.h"
#include "tokenizer/Utf8.h"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace llmrt::tok {

namespace {

using nlohmann::json;

// GPT-2's pre-tokenization regex, used by ByteLevel when use_regex is true.
constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// What happens to the delimiters (matches) when a piece is split.
enum class Behavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

Behavior readBehavior(const json &j, std::string_view where) {
  std::string b = getString(j, "behavior", where);
  if (b == "Removed") return Behavior::Removed;
  if (b == "Isolated") return Behavior::Isolated;
  if (b == "MergedWithPrevious") return Behavior::MergedWithPrevious;
  if (b == "MergedWithNext") return Behavior::MergedWithNext;
  if (b == "Contiguous") return Behavior::Contiguous;
  llm::fail("tokenizer.json: {} behavior '{}' is not one of Removed, Isolated, MergedWithPrevious, "
            "MergedWithNext, Contiguous",
            where, b);
}

struct Span {
  size_t begin, end;
  bool isMatch;
};

// The spans a list of matches cuts [0, n) into: gaps and matches, in order.
void spansFromMatches(size_t n, const std::vector<Match> &matches, std::vector<Span> &spans) {
  spans.clear();
  size_t prev = 0;
  for (auto [b, e] : matches) {
    if (prev != b) spans.push_back({prev, b, false});
    spans.push_back({b, e, true});
    prev = e;
  }
  if (prev != n) spans.push_back({prev, n, false});
}

// The kept [begin, end) ranges for a behavior, as the `tokenizers` library computes them;
// `spans` becomes the output (isMatch = false means kept).
void applyBehavior(std::vector<Span> &spans, Behavior behavior) {
  std::vector<Span> out;
  out.reserve(spans.size());
  bool previousMatch = false;
  switch (behavior) {
  case Behavior::Isolated:
    for (auto &s : spans) s.isMatch = false;
    return;
  case Behavior::Removed:
    return;
  case Behavior::Contiguous:
    for (const Span &s : spans) {
      if (s.isMatch == previousMatch && !out.empty()) out.back().end = s.end;
      else out.push_back({s.begin, s.end, false});
      previousMatch = s.isMatch;
    }
    break;
  case Behavior::MergedWithPrevious:
    for (const Span &s : spans) {
      if (s.isMatch && !previousMatch && !out.empty()) out.back().end = s.end;
      else out.push_back({s.begin, s.end, false});
      previousMatch = s.isMatch;
    }
    break;
  case Behavior::MergedWithNext:
    for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
      if (it->isMatch && !previousMatch && !out.empty()) out.back().begin = it->begin;
      else out.push_back({it->begin, it->end, false});
      previousMatch = it->isMatch;
    }
    std::reverse(out.begin(), out.end());
    break;
  }
  spans = std::move(out);
}

// Appends the kept, non-empty spans of `piece` (offsets relative to it) to `out` as pieces of the
// same text buffer.
void emitSpans(const Pieces::Piece &piece, const std::vector<Span> &spans,
               std::vector<Pieces::Piece> &out) {
  for (const Span &s : spans) {
    if (s.isMatch || s.begin == s.end) continue;
    out.push_back({static_cast<uint32_t>(piece.begin + s.begin),
                   static_cast<uint32_t>(piece.begin + s.end), piece.atStart && s.begin == 0});
  }
}

// Matches of single characters satisfying `pred`, each its own match (as for a char pattern).
template <typename Pred> void charMatches(std::string_view s, Pred pred, std::vector<Match> &out) {
  size_t i = 0;
  while (i < s.size()) {
    char32_t cp = 0;
    size_t n = decodeUtf8(s, i, cp);
    if (n == 0) n = 1; // cannot happen: text is valid UTF-8
    if (pred(cp)) out.emplace_back(i, i + n);
    i += n;
  }
}

class SplitPreTokenizer final : public PreTokenizer {
public:
  SplitPreTokenizer(Pattern pattern, Behavior behavior, bool invert)
      : pattern_(std::move(pattern)), behavior_(behavior), invert_(invert) {}
  void apply(Pieces &pieces) const override {
    std::vector<Pieces::Piece> out;
    std::vector<Match> matches;
    std::vector<Span> spans;
    for (const auto &p : pieces.list) {
      std::string_view s = pieces.view(p);
      matches.clear();
      pattern_.findAll(s, matches);
      spansFromMatches(s.size(), matches, spans);
      if (invert_)
        for (auto &sp : spans) sp.isMatch = !sp.isMatch;
      applyBehavior(spans, behavior_);
      emitSpans(p, spans, out);
    }
    pieces.list = std::move(out);
  }

private:
  Pattern pattern_;
  Behavior behavior_;
  bool invert_;
};

class DigitsPreTokenizer final : public PreTokenizer {
public:
  explicit DigitsPreTokenizer(bool individual) : individual_(individual) {}
  void apply(Pieces &pieces) const override {
    std::vector<Pieces::Piece> out;
    std::vector<Match> matches;
    std::vector<Span> spans;
    for (const auto &p : pieces.list) {
      std::string_view s = pieces.view(p);
      matches.clear();
      charMatches(s, isNumeric, matches);
      spansFromMatches(s.size(), matches, spans);
      applyBehavior(spans, individual_ ? Behavior::Isolated : Behavior::Contiguous);
      emitSpans(p, spans, out);
    }
    pieces.list = std::move(out);
  }

private:
  bool individual_;
};

class ByteLevelPreTokenizer final : public PreTokenizer {
public:
  ByteLevelPreTokenizer(bool addPrefixSpace, bool useRegex)
      : addPrefixSpace_(addPrefixSpace),
        regex_(useRegex ? std::make_unique<Pattern>(
                              Pattern::regex(kGpt2Pattern, "pre_tokenizer ByteLevel"))
                        : nullptr) {}
  void apply(Pieces &pieces) const override {
    const ByteLevelAlphabet &alphabet = ByteLevelAlphabet::get();
    Pieces out;
    out.text.reserve(pieces.text.size() * 2);
    std::string withSpace;
    std::vector<Match> matches;
    for (const auto &p : pieces.list) {
      std::string_view s = pieces.view(p);
      if (addPrefixSpace_ && (s.empty() || s[0] != ' ')) {
        withSpace.assign(1, ' ');
        withSpace.append(s);
        s = withSpace;
      }
      auto emit = [&](size_t b, size_t e) {
        if (b == e) return;
        uint32_t begin = static_cast<uint32_t>(out.text.size());
        for (size_t i = b; i < e; ++i) out.text += alphabet.utf8Of(static_cast<uint8_t>(s[i]));
        out.list.push_back({begin, static_cast<uint32_t>(out.text.size()), p.atStart && b == 0});
      };
      if (!regex_) {
        emit(0, s.size());
        continue;
      }
      matches.clear();
      regex_->findAll(s, matches);
      size_t prev = 0;
      for (auto [b, e] : matches) { // Isolated: gaps and matches are all pieces
        emit(prev, b);
        emit(b, e);
        prev = e;
      }
      emit(prev, s.size());
    }
    pieces = std::move(out);
  }

private:
  bool addPrefixSpace_;
  std::unique_ptr<Pattern> regex_;
};

class MetaspacePreTokenizer final : public PreTokenizer {
public:
  explicit MetaspacePreTokenizer(MetaspaceConfig config) : config_(std::move(config)) {}
  void apply(Pieces &pieces) const override {
    const std::string &rep = config_.replacementUtf8;
    Pieces out;
    out.text.reserve(pieces.text.size() + pieces.list.size() * rep.size() * 2);
    std::vector<Match> matches;
    std::vector<Span> spans;
    for (const auto &p : pieces.list) {
      std::string_view s = pieces.view(p);
      Pieces::Piece np{static_cast<uint32_t>(out.text.size()), 0, p.atStart};
      bool startsWithRep = s.substr(0, 1) == " " || s.substr(0, rep.size()) == rep;
      bool prepend = !startsWithRep && (config_.scheme == PrependScheme::Always ||
                                        (config_.scheme == PrependScheme::First && p.atStart));
      if (prepend) out.text += rep;
      for (char c : s) {
        if (c == ' ') out.text += rep;
        else out.text += c;
      }
      np.end = static_cast<uint32_t>(out.text.size());
      if (!config_.split) {
        if (np.end > np.begin) out.list.push_back(np);
        continue;
      }
      std::string_view ns = out.view(np);
      matches.clear();
      charMatches(ns, [&](char32_t c) { return c == config_.replacement; }, matches);
      spansFromMatches(ns.size(), matches, spans);
      applyBehavior(spans, Behavior::MergedWithNext);
      emitSpans(np, spans, out.list);
    }
    pieces = std::move(out);
  }

private:
  MetaspaceConfig config_;
};

class SequencePreTokenizer final : public PreTokenizer {
public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> parts)
      : parts_(std::move(parts)) {}
  void apply(Pieces &pieces) const override {
    for (const auto &p : parts_) p->apply(pieces);
  }

private:
  std::vector<std::unique_ptr<PreTokenizer>> parts_;
};

} // namespace

std::unique_ptr<PreTokenizer> PreTokenizer::fromJson(const json &j) {
  if (j.is_null()) return nullptr;
  std::string type = componentType(j, "pre_tokenizer");
  if (type == "Sequence") {
    NestingGuard guard("pre_tokenizer");
    const json &list = requireField(j, "pretokenizers", "pre_tokenizer Sequence");
    if (!list.is_array())
      llm::fail("tokenizer.json: pre_tokenizer Sequence \"pretokenizers\" must be a list");
    std::vector<std::unique_ptr<PreTokenizer>> parts;
    for (const json &p : list) {
      if (p.is_null()) llm::fail("tokenizer.json: pre_tokenizer Sequence holds a null");
      parts.push_back(fromJson(p));
    }
    return std::make_unique<SequencePreTokenizer>(std::move(parts));
  }
  if (type == "ByteLevel")
    return std::make_unique<ByteLevelPreTokenizer>(
        getBool(j, "add_prefix_space", "pre_tokenizer ByteLevel", true),
        getBool(j, "use_regex", "pre_tokenizer ByteLevel", true));
  if (type == "Split")
    return std::make_unique<SplitPreTokenizer>(readPattern(j, "pre_tokenizer Split"),
                                               readBehavior(j, "pre_tokenizer Split"),
                                               getBool(j, "invert", "pre_tokenizer Split", false));
  if (type == "Metaspace")
    return std::make_unique<MetaspacePreTokenizer>(readMetaspace(j, "pre_tokenizer Metaspace"));
  if (type == "Digits")
    return std::make_unique<DigitsPreTokenizer>(
        getBool(j, "individual_digits", "pre_tokenizer Digits", false));
  unsupported("pre_tokenizer", type, {"Sequence", "ByteLevel", "Split", "Metaspace", "Digits"});
}

} // namespace llmrt::tok
