// Builds the syntax tree from tokens with jinja2's grammar and operator precedence (from loosest:
// `x if c else y`, or, and, not, comparisons and `in`, + -, ~, * / // %, **, unary - +, then
// postfix . [] () and filters / tests).
//
// NOTE: nesting (brackets, blocks) deeper than kMaxParseDepth is refused, so a hostile template
// cannot exhaust the stack of the parser or of the interpreter that walks the tree.
#pragma once

#include "chat/Ast.h"
#include "chat/Lexer.h"

#include <string_view>
#include <vector>

namespace llmrt::chat {

inline constexpr int kMaxParseDepth = 200;

// Throws llm::Error "chat template line L:C: ..." on a syntax error.
Body parseTemplate(std::string_view source);

} // namespace llmrt::chat
