// The text of one choice as it streams: incremental detokenization plus stop strings.
//
// Text is released as soon as it is final: the detokenizer holds back incomplete UTF-8
// characters, and this class holds back the longest tail of the output that could still become
// the start of a stop string. When a stop string appears, the output ends at its start (or after
// it, with include_stop_str_in_output) and the caller finishes the request with
// finish_reason "stop" and stop_reason = the string (what vLLM does).
//
// NOTE: the concatenation of all released text is the final text: push() never takes back text
// it released.
#pragma once

#include "tokenizer/Detokenizer.h"

#include <optional>
#include <span>
#include <string>
#include <vector>

namespace llmrt::server {

class OutputText {
public:
  // `context`: the prompt's last tokens (the detokenizer decodes the first output after them).
  OutputText(const Tokenizer &tokenizer, std::span<const int32_t> context,
             std::vector<std::string> stops, bool includeStop, bool skipSpecial);

  struct Delta {
    std::string text;                      // newly released text
    std::optional<std::string> stopString; // set when a stop string ended the output
  };
  // Adds one generated token. After a stop string matched, further tokens are ignored.
  Delta push(int32_t token);
  // The request finished for another reason (eos, length, abort): releases what is held back
  // (the detokenizer's last characters may still complete a stop string).
  Delta finish();

  const std::string &text() const { return released_; } // everything released so far
  bool stopped() const { return stopped_; }

private:
  Delta release(std::string more, bool final);
  // Length of the longest suffix of pending_ that is a proper prefix of a stop string.
  size_t heldBack() const;

  IncrementalDetokenizer detokenizer_;
  std::vector<std::string> stops_;
  bool includeStop_;
  std::string released_, pending_;
  bool stopped_ = false;
};

// The text of a single token for log-probability entries (decoded alone; special tokens kept).
std::string tokenPiece(const Tokenizer &tokenizer, int32_t token);

} // namespace llmrt::server
