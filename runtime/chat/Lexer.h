// Splits a template into text and tag tokens the way jinja2's lexer does with transformers'
// settings (trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False):
//  - "\r\n" and "\r" become "\n", and one trailing newline of the template is dropped;
//  - `{%-`, `{{-`, `{#-` strip all whitespace before the tag; `-%}`, `-}}`, `-#}` all after it;
//  - lstrip_blocks: spaces and tabs between a line start and `{%` or `{#` are dropped (`{%+`
//    keeps them); trim_blocks: the first newline after `%}` or `#}` is dropped (`+%}` keeps it);
//  - comments disappear, `{% raw %}...{% endraw %}` becomes text;
//  - inside a tag, delimiters only close it outside brackets, so `{{ {'a': {'b': 1}} }}` works.
// Every token carries its line and column (1-based; the column counts code points).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace llmrt::chat {

struct Token {
  enum class Type : uint8_t { Text, VarBegin, VarEnd, BlockBegin, BlockEnd, Name, String, Int, Float, Op, End };
  Type type;
  std::string text;  // Text: the data; Name/Op: the spelling; String: the decoded value
  int64_t intValue = 0;
  double floatValue = 0.0;
  int line = 1, column = 1;
};

// Throws llm::Error "chat template line L:C: ..." on a malformed template.
std::vector<Token> tokenize(std::string_view source);

// Removes what jinja2 removes before lexing: "\r\n" and "\r" become "\n", one trailing "\n" goes.
std::string normalizeNewlines(std::string_view source);

} // namespace llmrt::chat
