// The error a chat template render throws: an llm::Error whose message reads
// "chat template line L:C: <detail>", with the parts kept apart so that a server can answer a
// client with the template's own words when the template itself refused the conversation
// (raise_exception("Conversation roles must alternate ...")).
#pragma once

#include "support/Error.h"

#include <string>

namespace llmrt::chat {

class TemplateError : public llm::Error {
public:
  TemplateError(int line, int column, std::string detail, bool raisedByTemplate)
      : llm::Error("chat template line " + std::to_string(line) + ":" + std::to_string(column) + ": " + detail),
        line_(line), column_(column), detail_(std::move(detail)), raised_(raisedByTemplate) {}

  int line() const { return line_; }
  int column() const { return column_; }
  const std::string &detail() const { return detail_; }
  // True when the template called raise_exception(detail): the input was refused, by design.
  bool raisedByTemplate() const { return raised_; }

private:
  int line_, column_;
  std::string detail_;
  bool raised_;
};

} // namespace llmrt::chat
