// The client side of `llmrt bench-serve`: HTTP/1.1 over Boost.Beast and server-sent events.
//
// Beast parses the HTTP message (status, headers, chunked transfer encoding); SseSplitter turns the
// body's bytes into events. The two are separate because TCP reads, HTTP chunks and SSE events
// have unrelated boundaries: one read may end inside an event, inside a "\r\n" pair, or hold
// several events, and the splitter must give the same events for every way of cutting the bytes.
//
// HttpClient drives any number of concurrent streaming requests from the one thread that runs its
// io_context: one TCP connection per request (no thread per request, no connection reuse). Only
// plain http:// is supported (no TLS).
#pragma once

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace llmrt::tools {

// One dispatched server-sent event: its type ("message" unless an `event:` field named another)
// and its data (the `data:` fields' values joined by "\n").
struct SseEvent {
  std::string type = "message";
  std::string data;
  bool operator==(const SseEvent &) const = default;
};

// An incremental SSE parser (the WHATWG "event stream interpretation"): lines end with "\r\n",
// "\n" or "\r"; a blank line dispatches the event being built; lines starting with ':' are
// comments; `data:` values (one leading space removed) accumulate; `event:` sets the type;
// `id:` and `retry:` are ignored; an event without a data field is not dispatched; a byte-order
// mark at the start of the stream is skipped.
// NOTE: the events fed out depend only on the concatenation of all bytes fed in, never on where
// the bytes were cut; bytes after the last blank line stay pending (an event is complete only
// once its blank line has arrived).
class SseSplitter {
public:
  // Appends to `out` every event that `bytes` completes.
  void feed(std::string_view bytes, std::vector<SseEvent> &out);
  // True when the bytes fed so far end inside an event (an unterminated line or an event without
  // its blank line).
  bool pending() const { return !line_.empty() || !data_.empty() || !type_.empty(); }

private:
  void processLine(std::string_view line, std::vector<SseEvent> &out);

  std::string line_;      // the current line, without its terminator
  std::string data_;      // the event's data fields, each followed by "\n"
  std::string type_;      // the event's `event:` field
  bool skipLf_ = false;   // the previous byte was a '\r' (a following '\n' belongs to it)
  bool firstLine_ = true; // a BOM is skipped at the start of the first line only
};

// http://HOST[:PORT][/PREFIX]: PREFIX (without a trailing '/') is put before every request path.
struct HttpUrl {
  std::string host; // without brackets for an IPv6 literal
  std::string port = "80";
  std::string prefix;
  std::string hostHeader() const; // "host:port" (IPv6 literals bracketed)
};

// Throws llm::Error for anything but an http:// URL with a host.
HttpUrl parseHttpUrl(std::string_view url);

struct HttpHeader {
  std::string name, value;
};

// How an HTTP exchange ended.
struct HttpResult {
  int status = 0;    // 0 when no response header arrived
  std::string error; // empty when the whole response arrived; else what went wrong
  std::string body;  // the body of a buffered GET, or of a streaming request answered with status
                     // other than 200 (at most kMaxErrorBody bytes)
};

struct StreamHandlers {
  // Each event of a 200 response, with the time its bytes were read.
  std::function<void(const SseEvent &, std::chrono::steady_clock::time_point)> onEvent;
  // Called exactly once, after the last onEvent.
  std::function<void(const HttpResult &)> onEnd;
};

class HttpClient {
public:
  static constexpr size_t kMaxErrorBody = 4096;

  // Resolves the URL's host now (throws llm::Error if it cannot). `headers` go with every request;
  // a request fails when `timeout` passes without progress (connect, write or a read).
  HttpClient(boost::asio::io_context &io, HttpUrl url, std::vector<HttpHeader> headers,
             std::chrono::milliseconds timeout);
  ~HttpClient();
  HttpClient(const HttpClient &) = delete;
  HttpClient &operator=(const HttpClient &) = delete;

  // Starts a POST of the JSON `body` to prefix + `path` on a new connection and returns at once;
  // the handlers run on the io_context's thread. Never throws for network failures: they end in
  // onEnd with an error.
  void postStreaming(const std::string &path, std::string body, StreamHandlers handlers);

  // GET prefix + `path`, buffered; runs the io_context until the answer is in, so it must not be
  // called while the io_context runs elsewhere. Failures come back in the result.
  HttpResult get(const std::string &path);

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

} // namespace llmrt::tools
