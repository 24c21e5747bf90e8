#include "http/ErrorBody.h"

#include <nlohmann/json.hpp>

namespace llmrt::http {

std::string openaiErrorJson(std::string_view message, std::string_view type,
                            std::string_view param, std::string_view code) {
  auto orNull = [](std::string_view s) {
    return s.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(s);
  };
  nlohmann::ordered_json error;
  error["message"] = message;
  error["type"] = type;
  error["param"] = orNull(param);
  error["code"] = orNull(code);
  nlohmann::ordered_json body;
  body["error"] = std::move(error);
  return body.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

} // namespace llmrt::http
