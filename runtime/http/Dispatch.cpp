#include "http/Dispatch.h"

#include "http/ApiKey.h"
#include "http/ErrorBody.h"

#include <fmt/format.h>

namespace llmrt::http::detail {
namespace {

void respondError(ResponseWriter &writer, int status, std::string_view message,
                  std::string_view code) {
  writer.respond(status, openaiErrorJson(message, "invalid_request_error", {}, code));
}

bool isPreflight(const ServerCore &core, const Request &request) {
  return core.cors.enabled() && request.method == "OPTIONS" && !request.header("Origin").empty() &&
         !request.header("Access-Control-Request-Method").empty();
}

void answerPreflight(const ServerCore &core, const Request &request, ResponseWriter &writer) {
  std::string origin = request.header("Origin");
  if (!core.cors.allows(origin))
    return respondError(writer, 403, fmt::format("Origin {} is not allowed (CORS).", origin),
                        "cors_origin_not_allowed");
  if (!core.router.routesOf(request.path))
    return respondError(writer, 404, fmt::format("Invalid URL (OPTIONS {}).", request.path),
                        "not_found");
  for (const auto &[name, value] :
       core.cors.preflightHeaders(core.router.allowedMethods(request.path),
                                  request.header("Access-Control-Request-Headers")))
    writer.setHeader(name, value);
  writer.respond(204, "", "");
}

void route(const ServerCore &core, const Request &request,
           const std::shared_ptr<ResponseWriter> &writer) {
  if (isPreflight(core, request))
    return answerPreflight(core, request, *writer);
  if (!core.router.routesOf(request.path))
    return respondError(*writer, 404,
                        fmt::format("Invalid URL ({} {}).", request.method, request.path),
                        "not_found");
  const Route *route = core.router.find(request.method, request.path);
  const std::string &apiKey = core.options.apiKey;
  if (!apiKey.empty() && !(route && route->isPublic)) {
    std::string authorization = request.header("Authorization");
    if (!apiKeyMatches(authorization, apiKey)) {
      writer->setHeader("WWW-Authenticate", "Bearer");
      return respondError(*writer, 401,
                          authorization.empty()
                              ? "You didn't provide an API key. Pass it in the Authorization "
                                "header: 'Authorization: Bearer YOUR_KEY'."
                              : "Incorrect API key provided.",
                          "invalid_api_key");
    }
  }
  if (!route) {
    std::string allowed = core.router.allowedMethods(request.path);
    writer->setHeader("Allow", allowed);
    return respondError(
        *writer, 405,
        fmt::format("Method {} is not allowed for {} (allowed: {}).", request.method,
                    request.path, allowed),
        "method_not_allowed");
  }
  route->handler(request, writer);
}

} // namespace

void dispatch(const ServerCore &core, const Request &request,
              const std::shared_ptr<ResponseWriter> &writer) {
  try {
    route(core, request, writer);
  } catch (const std::exception &e) {
    // Dropped when the response had started already; end() then closes a started stream.
    writer->respond(500, openaiErrorJson(e.what(), "server_error", {}, "internal_error"));
    writer->end();
  } catch (...) {
    writer->respond(500, openaiErrorJson("The request handler failed.", "server_error", {},
                                         "internal_error"));
    writer->end();
  }
}

} // namespace llmrt::http::detail
