#include "http/ApiKey.h"

#include "http/Request.h"

#include <algorithm>

namespace llmrt::http {

bool constantTimeEquals(std::string_view a, std::string_view b) {
  size_t n = std::max(a.size(), b.size());
  // volatile: the compiler must not turn the loop into an early-exit comparison.
  volatile unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    // Out-of-range positions read index 0 of a non-empty view (or a constant), masked out by the
    // length difference already recorded in diff; no branch on the data.
    unsigned char x = a.empty() ? 0 : static_cast<unsigned char>(a[i < a.size() ? i : 0]);
    unsigned char y = b.empty() ? 0 : static_cast<unsigned char>(b[i < b.size() ? i : 0]);
    diff = diff | (x ^ y);
  }
  return diff == 0;
}

std::optional<std::string_view> bearerToken(std::string_view authorization) {
  auto trim = [](std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
      s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
      s.remove_suffix(1);
    return s;
  };
  std::string_view value = trim(authorization);
  constexpr std::string_view kScheme = "Bearer";
  if (value.size() <= kScheme.size() || !equalsIgnoreCase(value.substr(0, kScheme.size()), kScheme))
    return std::nullopt;
  std::string_view rest = value.substr(kScheme.size());
  if (rest.front() != ' ' && rest.front() != '\t')
    return std::nullopt;
  std::string_view token = trim(rest);
  if (token.empty())
    return std::nullopt;
  return token;
}

bool apiKeyMatches(std::string_view authorization, std::string_view apiKey) {
  std::optional<std::string_view> token = bearerToken(authorization);
  // Compare even without a token, so a missing header takes as long as a wrong one.
  bool equal = constantTimeEquals(token.value_or(std::string_view{}), apiKey);
  return token.has_value() && equal;
}

} // namespace llmrt::http
