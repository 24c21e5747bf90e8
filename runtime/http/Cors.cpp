#include "http/Cors.h"

#include <algorithm>

namespace llmrt::http {

CorsPolicy::CorsPolicy(std::vector<std::string> origins) {
  for (std::string &origin : origins) {
    if (origin == "*")
      any_ = true;
    else if (!origin.empty())
      origins_.push_back(std::move(origin));
  }
}

bool CorsPolicy::allows(std::string_view origin) const {
  if (origin.empty())
    return false;
  return any_ || std::find(origins_.begin(), origins_.end(), origin) != origins_.end();
}

std::vector<Header> CorsPolicy::responseHeaders(std::string_view origin) const {
  if (!allows(origin))
    return {};
  if (any_)
    return {{"Access-Control-Allow-Origin", "*"}};
  return {{"Access-Control-Allow-Origin", std::string(origin)}, {"Vary", "Origin"}};
}

std::vector<Header> CorsPolicy::preflightHeaders(std::string_view allowedMethods,
                                                 std::string_view requestedHeaders) const {
  return {{"Access-Control-Allow-Methods", std::string(allowedMethods)},
          {"Access-Control-Allow-Headers",
           requestedHeaders.empty() ? std::string("Authorization, Content-Type")
                                    : std::string(requestedHeaders)},
          {"Access-Control-Max-Age", "600"}};
}

} // namespace llmrt::http
