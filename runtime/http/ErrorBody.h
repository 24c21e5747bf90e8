// OpenAI-style JSON error bodies, the one shape every error response of the server has:
//   {"error": {"message": "...", "type": "invalid_request_error", "param": null, "code": "..."}}
// Used by the transport (404, 405, 401, 413, ...) and by the API layer.
#pragma once

#include <string>
#include <string_view>

namespace llmrt::http {

// param and code are JSON null when empty. Invalid UTF-8 in any argument is replaced by U+FFFD
// (an error message may quote client input).
std::string openaiErrorJson(std::string_view message, std::string_view type,
                            std::string_view param = {}, std::string_view code = {});

} // namespace llmrt::http
