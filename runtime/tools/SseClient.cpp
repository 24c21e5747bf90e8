#include "tools/SseClient.h"

#include "support/Error.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

#include <array>
#include <charconv>

namespace llmrt::tools {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------------------------
// SSE

void SseSplitter::feed(std::string_view bytes, std::vector<SseEvent> &out) {
  for (char c : bytes) {
    if (skipLf_) {
      skipLf_ = false;
      if (c == '\n')
        continue; // the second half of "\r\n"
    }
    if (c == '\r' || c == '\n') {
      skipLf_ = c == '\r';
      std::string line = std::move(line_);
      line_.clear();
      processLine(line, out);
    } else {
      line_.push_back(c);
    }
  }
}

void SseSplitter::processLine(std::string_view line, std::vector<SseEvent> &out) {
  if (firstLine_) {
    firstLine_ = false;
    if (line.starts_with("\xEF\xBB\xBF"))
      line.remove_prefix(3);
  }
  if (line.empty()) { // dispatch
    if (!data_.empty()) {
      data_.pop_back(); // the "\n" after the last data field
      out.push_back({type_.empty() ? "message" : std::move(type_), std::move(data_)});
    }
    data_.clear();
    type_.clear();
    return;
  }
  if (line.front() == ':')
    return; // a comment (servers send them as keep-alive pings)
  size_t colon = line.find(':');
  std::string_view field = line.substr(0, colon);
  std::string_view value;
  if (colon != std::string_view::npos) {
    value = line.substr(colon + 1);
    if (value.starts_with(' '))
      value.remove_prefix(1);
  }
  if (field == "data") {
    data_.append(value);
    data_.push_back('\n');
  } else if (field == "event") {
    type_.assign(value);
  } // id, retry and unknown fields are ignored
}

// ---------------------------------------------------------------------------------------------
// URLs

std::string HttpUrl::hostHeader() const {
  bool v6 = host.find(':') != std::string::npos;
  return fmt::format("{}{}{}:{}", v6 ? "[" : "", host, v6 ? "]" : "", port);
}

HttpUrl parseHttpUrl(std::string_view url) {
  constexpr std::string_view scheme = "http://";
  if (!url.starts_with(scheme))
    llm::fail("--url '{}' is not supported: expected http://HOST[:PORT][/PREFIX] (no TLS)", url);
  std::string_view rest = url.substr(scheme.size());
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  HttpUrl u;
  if (slash != std::string_view::npos)
    u.prefix = std::string(rest.substr(slash));
  while (!u.prefix.empty() && u.prefix.back() == '/')
    u.prefix.pop_back();
  std::string_view port;
  if (authority.starts_with('[')) { // [IPv6]:port
    size_t close = authority.find(']');
    if (close == std::string_view::npos)
      llm::fail("--url '{}': the IPv6 address has no closing ']'", url);
    u.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty() && !after.starts_with(':'))
      llm::fail("--url '{}': expected ':PORT' after the IPv6 address", url);
    if (!after.empty())
      port = after.substr(1);
  } else {
    size_t colon = authority.rfind(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos)
      port = authority.substr(colon + 1);
  }
  if (u.host.empty())
    llm::fail("--url '{}' names no host: expected http://HOST[:PORT][/PREFIX]", url);
  if (!port.empty()) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535)
      llm::fail("--url '{}': the port '{}' is not a number in [1, 65535]", url, port);
    u.port = std::string(port);
  }
  return u;
}

// ---------------------------------------------------------------------------------------------
// HTTP

struct HttpClient::Impl {
  net::io_context &io;
  HttpUrl url;
  std::vector<HttpHeader> headers;
  std::chrono::milliseconds timeout;
  tcp::resolver::results_type endpoints;

  http::request<http::string_body> request(http::verb verb, const std::string &path,
                                           std::string body) const {
    http::request<http::string_body> req{verb, url.prefix + path, 11};
    req.set(http::field::host, url.hostHeader());
    req.set(http::field::user_agent, "llmrt-bench-serve");
    for (const HttpHeader &h : headers)
      req.set(h.name, h.value);
    if (verb == http::verb::post) {
      req.set(http::field::content_type, "application/json");
      req.set(http::field::accept, "text/event-stream");
      req.body() = std::move(body);
      req.prepare_payload();
    }
    return req;
  }
};

namespace {

std::string describe(const beast::error_code &ec) {
  if (ec == beast::error::timeout)
    return "timed out waiting for the server";
  if (ec == http::error::partial_message || ec == http::error::end_of_stream ||
      ec == net::error::eof)
    return "the connection closed before the response was complete";
  return ec.message();
}

// One request on its own connection: connect, write, read the header, then read the body in
// pieces, feeding a 200 response's bytes to the SSE splitter as they arrive.
class Exchange : public std::enable_shared_from_this<Exchange> {
public:
  Exchange(net::io_context &io, http::request<http::string_body> req, std::string where,
           std::chrono::milliseconds timeout, bool stream, StreamHandlers handlers)
      : stream_(io), req_(std::move(req)), where_(std::move(where)), timeout_(timeout),
        streaming_(stream), handlers_(std::move(handlers)) {
    parser_.body_limit(boost::none); // streams are as long as the server makes them
  }

  void start(const tcp::resolver::results_type &endpoints) {
    // The range connect reports a socket it cannot open as "operation aborted"; say why instead
    // (most often the open-file limit).
    beast::error_code ec;
    stream_.socket().open(endpoints.begin()->endpoint().protocol(), ec);
    if (ec) {
      // Ended from the io_context like every other failure, never inside the caller's call.
      std::string why = fmt::format("cannot open a socket for {}: {}", where_, ec.message());
      net::post(stream_.get_executor(),
                [self = shared_from_this(), why = std::move(why)]() mutable {
                  self->end(std::move(why));
                });
      return;
    }
    stream_.expires_after(timeout_);
    stream_.async_connect(endpoints,
                          beast::bind_front_handler(&Exchange::onConnect, shared_from_this()));
  }

private:
  void onConnect(beast::error_code ec, const tcp::endpoint &) {
    if (ec)
      return end(fmt::format("cannot connect to {}: {}", where_, describe(ec)));
    stream_.expires_after(timeout_);
    http::async_write(stream_, req_,
                      beast::bind_front_handler(&Exchange::onWrite, shared_from_this()));
  }

  void onWrite(beast::error_code ec, size_t) {
    if (ec)
      return end(fmt::format("cannot send the request to {}: {}", where_, describe(ec)));
    stream_.expires_after(timeout_);
    http::async_read_header(stream_, buffer_, parser_,
                            beast::bind_front_handler(&Exchange::onHeader, shared_from_this()));
  }

  void onHeader(beast::error_code ec, size_t) {
    if (ec)
      return end(fmt::format("no response header from {}: {}", where_, describe(ec)));
    result_.status = static_cast<int>(parser_.get().result_int());
    readBody();
  }

  void readBody() {
    if (parser_.is_done() && streaming_ && result_.status == 200 && sse_.pending())
      return end("the response ended inside an event (its blank line never came)");
    if (parser_.is_done())
      return end("");
    parser_.get().body().data = piece_.data();
    parser_.get().body().size = piece_.size();
    stream_.expires_after(timeout_);
    http::async_read_some(stream_, buffer_, parser_,
                          beast::bind_front_handler(&Exchange::onBody, shared_from_this()));
  }

  void onBody(beast::error_code ec, size_t) {
    Clock::time_point now = Clock::now();
    if (ec == http::error::need_buffer)
      ec = {}; // the piece is full
    size_t got = piece_.size() - parser_.get().body().size;
    take(std::string_view(piece_.data(), got), now);
    if (ec)
      return end(fmt::format("reading the response from {}: {}", where_, describe(ec)));
    readBody();
  }

  void take(std::string_view bytes, Clock::time_point now) {
    if (!streaming_ || result_.status != 200) {
      size_t room =
          HttpClient::kMaxErrorBody - std::min(HttpClient::kMaxErrorBody, result_.body.size());
      if (streaming_)
        bytes = bytes.substr(0, room);
      result_.body.append(bytes);
      return;
    }
    events_.clear();
    sse_.feed(bytes, events_);
    for (const SseEvent &e : events_)
      handlers_.onEvent(e, now);
  }

  void end(std::string error) {
    result_.error = std::move(error);
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
    if (handlers_.onEnd)
      handlers_.onEnd(result_);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> req_;
  http::response_parser<http::buffer_body> parser_;
  std::array<char, 16384> piece_;
  std::string where_;
  std::chrono::milliseconds timeout_;
  bool streaming_;
  StreamHandlers handlers_;
  SseSplitter sse_;
  std::vector<SseEvent> events_;
  HttpResult result_;
};

} // namespace

HttpClient::HttpClient(net::io_context &io, HttpUrl url, std::vector<HttpHeader> headers,
                       std::chrono::milliseconds timeout)
    : impl_(new Impl{io, std::move(url), std::move(headers), timeout, {}}) {
  tcp::resolver resolver(io);
  beast::error_code ec;
  impl_->endpoints = resolver.resolve(impl_->url.host, impl_->url.port, ec);
  if (ec)
    llm::fail("cannot resolve the server's host '{}': {}", impl_->url.host, ec.message());
}

HttpClient::~HttpClient() = default;

void HttpClient::postStreaming(const std::string &path, std::string body, StreamHandlers handlers) {
  auto exchange =
      std::make_shared<Exchange>(impl_->io, impl_->request(http::verb::post, path, std::move(body)),
                                 "http://" + impl_->url.hostHeader() + impl_->url.prefix + path,
                                 impl_->timeout, true, std::move(handlers));
  exchange->start(impl_->endpoints);
}

HttpResult HttpClient::get(const std::string &path) {
  HttpResult result;
  StreamHandlers handlers;
  handlers.onEnd = [&result](const HttpResult &r) { result = r; };
  auto exchange =
      std::make_shared<Exchange>(impl_->io, impl_->request(http::verb::get, path, ""),
                                 "http://" + impl_->url.hostHeader() + impl_->url.prefix + path,
                                 impl_->timeout, false, std::move(handlers));
  exchange->start(impl_->endpoints);
  exchange.reset();
  impl_->io.restart();
  impl_->io.run();
  impl_->io.restart();
  return result;
}

} // namespace llmrt::tools
