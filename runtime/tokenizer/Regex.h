// Patterns of tokenizer.json components (Split and Replace take {"String": ...} or
// {"Regex": ...}): a literal, or a PCRE2 regex compiled once with UTF + UCP and JIT-compiled.
// Patterns from tokenizer.json files are written for Oniguruma; what real files use
// (\p{L}, \p{N}, (?i:...), lookahead, {1,3}) means the same in PCRE2, and \s / \S are rewritten
// to the White_Space property, which is what Oniguruma's \s matches (PCRE2's also takes U+180E).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace llmrt::tok {

using Match = std::pair<size_t, size_t>; // [begin, end) byte offsets

class Pattern {
public:
  static Pattern literal(std::string_view text);
  // Throws llm::Error naming `what` (e.g. "pre_tokenizer Split") when PCRE2 rejects the pattern.
  static Pattern regex(std::string_view pattern, std::string_view what);

  Pattern(Pattern &&) noexcept;
  Pattern &operator=(Pattern &&) noexcept;
  ~Pattern();

  // Appends the non-overlapping matches in `s` to `out`, left to right, the way the regex crates
  // iterate them (an empty match right after the previous match is skipped). `s` must be valid
  // UTF-8. An empty literal matches nothing.
  void findAll(std::string_view s, std::vector<Match> &out) const;

private:
  struct Compiled;
  Pattern() = default;
  std::string literal_;
  std::unique_ptr<Compiled> compiled_; // null for a literal
};

} // namespace llmrt::tok
