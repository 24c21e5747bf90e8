// The route table: (method, path) -> handler, exact matches only (the path has no query string).
#pragma once

#include "http/Request.h"
#include "http/ResponseWriter.h"

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace llmrt::http {

// Runs on the I/O thread that read the request; may keep the writer and finish the response from
// another thread. The Request lives only for the call: copy what outlives it. An exception thrown
// before the response started becomes a 500 JSON error (after it started, the stream is ended).
using Handler = std::function<void(const Request &, std::shared_ptr<ResponseWriter>)>;

struct Route {
  std::string method;
  Handler handler;
  bool isPublic = false; // served without the API key
};

class Router {
public:
  // Throws llm::Error for a path not starting with '/', an empty method, or a (method, path) pair
  // already routed.
  void add(std::string method, std::string path, Handler handler, bool isPublic);

  // The routes of a path (empty when the path is unknown).
  const std::vector<Route> *routesOf(const std::string &path) const;
  // The route for (method, path), or nullptr.
  const Route *find(const std::string &method, const std::string &path) const;
  // "GET, POST" for the Allow header of a 405 (and CORS preflights).
  std::string allowedMethods(const std::string &path) const;

private:
  std::map<std::string, std::vector<Route>, std::less<>> routes_;
};

} // namespace llmrt::http
