// What templates can reach besides their own code: attribute and item access (with the methods
// of str, dict and list that jinja2's immutable sandbox allows), filters, tests and globals.
#pragma once

#include "chat/Value.h"

#include <ctime>
#include <functional>
#include <string>
#include <string_view>

namespace llmrt::chat {

class Interpreter;
struct Scope;

// obj.name: jinja2's sandboxed getattr. A Python attribute (a method) wins over a dict key;
// then the dict key; otherwise undefined. Methods that mutate (list.append, dict.update, ...)
// fault like the sandbox's SecurityError. An undefined obj faults.
Value getAttr(const Value &obj, const std::string &name);
// obj[key]: the item first, then (for a string key) the attribute. An undefined obj faults.
Value getItem(const Value &obj, const Value &key);

using FilterFn = Value (*)(Interpreter &, const Value &, CallArgs &);
using TestFn = bool (*)(Interpreter &, const Value &, CallArgs &);
FilterFn findFilter(std::string_view name);  // null when unknown
TestFn findTest(std::string_view name);      // null when unknown

// range, dict, namespace, raise_exception, strftime_now (with `now` as its clock), cycler, joiner.
void installGlobals(Scope &globals, std::function<std::tm()> now);

// Python's `fmt % args` and str.format(*args, **kwargs) for the conversions templates use.
std::string percentFormat(const std::string &fmt, const Value &args);
std::string strFormat(const std::string &fmt, const CallArgs &args);

// Argument binding for native functions: positional `index` or keyword `name`, else `dflt`.
Value argument(const CallArgs &args, size_t index, std::string_view name, const Value &dflt);

} // namespace llmrt::chat
