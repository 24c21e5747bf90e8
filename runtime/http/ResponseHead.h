// The bytes of HTTP/1.1 responses the server writes: status line and headers, chunk framing.
// The transport formats responses itself (rather than through beast::http::response) so that
// whole responses and stream chunks go through one queue of plain strings.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace llmrt::http {

using Header = std::pair<std::string, std::string>;

struct ResponseHead {
  int status = 200;
  int version = 11;       // of the request: 10 or 11
  bool keepAlive = true;  // false: "Connection: close" (and the server closes after)
  bool chunked = false;   // "Transfer-Encoding: chunked" (HTTP/1.1 streams)
  bool hasLength = false; // "Content-Length: contentLength"
  size_t contentLength = 0;
  std::vector<Header> headers; // Content-Type, CORS, handler headers, ...
};

// "HTTP/1.1 200 OK\r\n" + headers + "\r\n". Statuses 1xx, 204 and 304 never get a Content-Length.
std::string formatHead(const ResponseHead &head);

// The hexadecimal size line that starts a chunk: "1a\r\n".
std::string chunkPrefix(size_t size);
inline constexpr std::string_view kChunkSuffix = "\r\n";
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";

// False for the statuses that must not carry a body (1xx, 204, 304).
bool statusAllowsBody(int status);

// Throws llm::Error unless a handler may set this header (ResponseWriter::setHeader): a token
// name, no CR/LF/NUL in the value, not one the transport owns.
void checkHandlerHeader(std::string_view name, std::string_view value);

} // namespace llmrt::http
