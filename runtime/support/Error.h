// Errors at the edges: a reader of untrusted input (a plan, a weight file, a config, a request)
// throws llm::Error with a message that names what is wrong and what was expected; command-line
// entry points catch it and print it. Invariants inside use assert.
//
// NOTE: never let an llm::Error unwind through MLIR or LLVM frames (they are built without
// exceptions): compiler passes report errors with emitError instead.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace llm {

class Error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args &&...args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

} // namespace llm
