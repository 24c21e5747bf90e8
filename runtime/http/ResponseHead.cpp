#include "http/ResponseHead.h"

#include "http/Request.h"
#include "support/Error.h"

#include <boost/beast/http/status.hpp>
#include <fmt/format.h>

namespace llmrt::http {

bool statusAllowsBody(int status) { return status >= 200 && status != 204 && status != 304; }

std::string formatHead(const ResponseHead &head) {
  namespace bhttp = boost::beast::http;
  std::string_view reason = bhttp::obsolete_reason(bhttp::int_to_status(head.status));
  std::string out = fmt::format("HTTP/1.{} {} {}\r\n", head.version == 10 ? 0 : 1, head.status,
                                reason == "<unknown-status>" ? "Unknown" : reason);
  for (const auto &[name, value] : head.headers) {
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  if (head.hasLength && statusAllowsBody(head.status))
    out += fmt::format("Content-Length: {}\r\n", head.contentLength);
  if (head.chunked)
    out += "Transfer-Encoding: chunked\r\n";
  if (!head.keepAlive && head.version != 10)
    out += "Connection: close\r\n";
  if (head.keepAlive && head.version == 10)
    out += "Connection: keep-alive\r\n";
  out += "\r\n";
  return out;
}

std::string chunkPrefix(size_t size) { return fmt::format("{:x}\r\n", size); }

void checkHandlerHeader(std::string_view name, std::string_view value) {
  static constexpr std::string_view kTokenSpecials = "!#$%&'*+-.^_`|~";
  if (name.empty())
    llm::fail("response header name is empty");
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              kTokenSpecials.find(c) != std::string_view::npos;
    if (!ok)
      llm::fail("response header name '{}' is not an HTTP token", name);
  }
  for (std::string_view owned : {"Content-Length", "Transfer-Encoding", "Connection"})
    if (equalsIgnoreCase(name, owned))
      llm::fail("response header {} is set by the server, not by handlers", owned);
  for (char c : value)
    if (c == '\r' || c == '\n' || c == '\0')
      llm::fail("response header {}: the value holds a CR, LF or NUL character", name);
}

} // namespace llmrt::http
