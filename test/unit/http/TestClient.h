// A blocking HTTP client on plain POSIX sockets for the transport tests: receive timeouts, so a
// broken server fails a test instead of hanging it; responses parsed with Beast's parser (chunked
// bodies decoded).
#pragma once

#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

namespace llmrt::http::test {

// Polls pred every millisecond until it is true or timeout passes.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

struct Response {
  bool complete = false; // a whole response was parsed
  int status = 0;
  boost::beast::http::response<boost::beast::http::string_body> message;
  std::string header(std::string_view name) const {
    auto it = message.find(name);
    return it == message.end() ? std::string() : std::string(it->value());
  }
  const std::string &body() const { return message.body(); }
};

class TestClient {
public:
  explicit TestClient(uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{static_cast<time_t>(timeout.count() / 1000),
               static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr *>(&addr), sizeof addr) == 0;
    connectErrno_ = connected_ ? 0 : errno;
  }
  ~TestClient() { close(); }
  TestClient(const TestClient &) = delete;
  TestClient &operator=(const TestClient &) = delete;

  bool connected() const { return connected_; }
  int connectErrno() const { return connectErrno_; }
  int fd() const { return fd_; }

  // Sends all of data; false when the connection refused it.
  bool send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0)
        return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Reads one response (leftover bytes stay for the next call). A response whose body ends with
  // the connection (no length, no chunking) is complete at EOF.
  Response read() {
    Response out;
    boost::beast::http::response_parser<boost::beast::http::string_body> parser;
    parser.body_limit(1ull << 32);
    parser.header_limit(1 << 20);
    boost::beast::error_code ec;
    for (;;) {
      while (!pending_.empty() && !parser.is_done()) {
        size_t used = parser.put(boost::asio::buffer(pending_), ec);
        pending_.erase(0, used);
        if (ec == boost::beast::http::error::need_more) {
          ec = {};
          break;
        }
        if (ec)
          return out;
        if (used == 0)
          break;
      }
      if (parser.is_done())
        break;
      if (!receive()) {
        if (eof_) {
          parser.put_eof(ec);
          if (!ec && parser.is_done())
            break;
        }
        return out;
      }
    }
    out.complete = true;
    out.message = parser.release();
    out.status = static_cast<int>(out.message.result_int());
    return out;
  }

  // Reads raw bytes until the buffer holds `what` (true) or the connection ends (false).
  bool readUntil(std::string_view what) {
    while (pending_.find(what) == std::string::npos)
      if (!receive())
        return false;
    return true;
  }
  std::string &pending() { return pending_; }

  // True when the server closed the connection (EOF or reset) within the receive timeout; bytes
  // that arrive before are collected in pending().
  bool waitClosed() {
    while (receive()) {
    }
    return eof_ || reset_;
  }

  void shutdownWrite() { ::shutdown(fd_, SHUT_WR); }
  void close() {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = -1;
  }

private:
  bool receive() {
    char buf[65536];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n > 0) {
      pending_.append(buf, static_cast<size_t>(n));
      return true;
    }
    if (n == 0)
      eof_ = true;
    else if (errno == ECONNRESET)
      reset_ = true;
    return false;
  }

  int fd_ = -1;
  bool connected_ = false;
  int connectErrno_ = 0;
  bool eof_ = false, reset_ = false;
  std::string pending_;
};

} // namespace llmrt::http::test
