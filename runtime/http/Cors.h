// Cross-origin resource sharing (browser clients). Off by default; ServerOptions::corsOrigins
// turns it on with "*" (any origin) or a list of exact origins ("https://app.example.com").
//
// When on, every response to a request with an allowed Origin carries
// Access-Control-Allow-Origin ("*", or the origin echoed with "Vary: Origin"), and preflights
// (OPTIONS with Origin and Access-Control-Request-Method) are answered 204 with the path's
// methods, the requested headers, and a 10-minute max age, without the API key (browsers never
// send credentials on a preflight). A preflight from an origin not in the list gets 403.
#pragma once

#include "http/ResponseHead.h"

#include <string>
#include <string_view>
#include <vector>

namespace llmrt::http {

class CorsPolicy {
public:
  explicit CorsPolicy(std::vector<std::string> origins);

  bool enabled() const { return any_ || !origins_.empty(); }
  bool allows(std::string_view origin) const;

  // Headers for a response to a request from origin ("" when it sent none): none when CORS is off
  // or the origin is not allowed.
  std::vector<Header> responseHeaders(std::string_view origin) const;
  // The extra headers of a preflight answer for an allowed origin.
  std::vector<Header> preflightHeaders(std::string_view allowedMethods,
                                       std::string_view requestedHeaders) const;

private:
  bool any_ = false;
  std::vector<std::string> origins_;
};

} // namespace llmrt::http
