// An error for the API client: the HTTP status and the fields of OpenAI's error object
// ({"error": {"message", "type", "param", "code"}}, written by errorJson in OpenAIResponse.h).
//
// The protocol layer throws it for every request it refuses; the handlers throw it for what they
// refuse later (an unknown model, a prompt longer than the context). Anything else that escapes a
// handler is a server fault (500), never the client's.
//
// NOTE: `message` is a full sentence that names the parameter and what is expected; `param` is the
// parameter's path in the request body ("temperature", "messages[2].content", "" for the body as a
// whole); `code` is a short machine-readable reason ("invalid_value", "unknown_parameter", ...) or
// empty (written as null).
#pragma once

#include <exception>
#include <string>
#include <utility>

namespace llmrt::server {

struct ApiError : std::exception {
  ApiError(int httpStatus, std::string text, std::string paramPath = {},
           std::string errorCode = {})
      : status(httpStatus), message(std::move(text)), type(typeFor(httpStatus)),
        param(std::move(paramPath)), code(std::move(errorCode)) {}

  // 400: the request is malformed, has a wrong type or value, or asks for what is not supported.
  static ApiError badRequest(std::string text, std::string paramPath = {},
                             std::string errorCode = "invalid_value") {
    return ApiError(400, std::move(text), std::move(paramPath), std::move(errorCode));
  }
  // 404: no such model (OpenAI's code "model_not_found").
  static ApiError modelNotFound(const std::string &model) {
    return ApiError(404, "The model '" + model + "' does not exist.", "model", "model_not_found");
  }

  const char *what() const noexcept override { return message.c_str(); }

  // OpenAI's types: "invalid_request_error" for 4xx (the code tells them apart), "server_error"
  // for 5xx.
  static std::string typeFor(int httpStatus) {
    return httpStatus >= 500 ? "server_error" : "invalid_request_error";
  }

  int status;
  std::string message;
  std::string type;
  std::string param;
  std::string code;
};

} // namespace llmrt::server
