#include "http/Router.h"

#include "support/Error.h"

namespace llmrt::http {

void Router::add(std::string method, std::string path, Handler handler, bool isPublic) {
  if (method.empty())
    llm::fail("route {}: the method is empty", path);
  if (path.empty() || path.front() != '/')
    llm::fail("route {} {}: the path must start with '/'", method, path);
  if (path.find('?') != std::string::npos)
    llm::fail("route {} {}: the path must not hold a query string", method, path);
  if (find(method, path))
    llm::fail("route {} {} is registered twice", method, path);
  routes_[path].push_back({std::move(method), std::move(handler), isPublic});
}

const std::vector<Route> *Router::routesOf(const std::string &path) const {
  auto it = routes_.find(path);
  return it == routes_.end() ? nullptr : &it->second;
}

const Route *Router::find(const std::string &method, const std::string &path) const {
  const auto *routes = routesOf(path);
  if (!routes)
    return nullptr;
  for (const Route &route : *routes)
    if (route.method == method)
      return &route;
  return nullptr;
}

std::string Router::allowedMethods(const std::string &path) const {
  std::string out;
  if (const auto *routes = routesOf(path))
    for (const Route &route : *routes) {
      if (!out.empty())
        out += ", ";
      out += route.method;
    }
  return out;
}

} // namespace llmrt::http
