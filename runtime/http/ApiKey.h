// API-key checks for `--api-key`: "Authorization: Bearer <key>", compared in constant time.
#pragma once

#include <optional>
#include <string_view>

namespace llmrt::http {

// a == b, in time that depends only on max(a.size(), b.size()): every byte position up to the
// longer length is visited, with no early exit (the length of the expected key is the only thing
// timing can reveal, which is unavoidable without hashing).
bool constantTimeEquals(std::string_view a, std::string_view b);

// The token of an Authorization header value "Bearer <token>" (scheme case-insensitive, spaces
// around the token ignored); nullopt for another scheme or an empty token.
std::optional<std::string_view> bearerToken(std::string_view authorization);

// True when the Authorization header value carries exactly apiKey.
bool apiKeyMatches(std::string_view authorization, std::string_view apiKey);

} // namespace llmrt::http
