// Python's operators over Values, as jinja2 evaluates them: int/float arithmetic with Python's
// floor division and modulo, true division, ** with int results for int operands, + on strings
// and lists, * for repetition, `~` as str() concatenation, and `in` for substrings, list items
// and dict keys. Faults name the operand types like Python's TypeError does.
#pragma once

#include "chat/Value.h"

#include <cstddef>
#include <string_view>

namespace llmrt::chat {

// `maxBytes` bounds strings and lists built by repetition or concatenation.
Value binaryOp(std::string_view op, const Value &a, const Value &b, size_t maxBytes);
Value unaryOp(std::string_view op, const Value &a);
bool contains(const Value &container, const Value &item);  // Python `item in container`

// Python sequence helpers shared with filters and methods.
Value subscript(const Value &seq, int64_t index);  // undefined when out of range
Value sliceOf(const Value &seq, const Value &start, const Value &stop, const Value &step);
ValueList iterate(const Value &v);                  // list items, dict keys, string characters

} // namespace llmrt::chat
