// One parsed HTTP request, as handlers see it.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace llmrt::http {

struct Request {
  std::string method; // as sent ("GET", "POST"; HTTP methods are case-sensitive)
  std::string path;   // the target without "?query" (an absolute-form target reduced to its path)
  std::string query;  // what follows '?', without it; "" when none
  int version = 11;   // 11 for HTTP/1.1, 10 for HTTP/1.0
  std::vector<std::pair<std::string, std::string>> headers; // in arrival order
  std::string body;   // already complete (bounded by ServerOptions::maxBodyBytes)
  std::string remote; // the client's "address:port", for logs

  // The first header with this name (case-insensitive); "" when absent.
  std::string header(std::string_view name) const;
};

// ASCII case-insensitive equality (header names, tokens such as "Bearer").
bool equalsIgnoreCase(std::string_view a, std::string_view b);

} // namespace llmrt::http
