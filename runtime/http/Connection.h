// One client connection: reads requests, hands each to the router, writes the response, and
// notices a client that goes away. Internal to the transport. Lives in shared_ptrs held by its
// pending asynchronous operations; destroyed when the last one completes after it closed.
//
// Phases (strand only):
//   ReadingRequest   -> a request is being read (read timer armed: idle wait + header + body)
//   Responding       -> the handler has the request; a read stays pending on the socket to catch
//                       a disconnect (bytes it gets are kept: a pipelined next request)
//   WaitingForRequest-> the response ended while that read was pending; its bytes start the next
//                       request (read timer armed)
//   Lingering        -> the last response was sent with "Connection: close": sending side shut,
//                       what the client still sends is discarded for a moment (bounded), so the
//                       kernel does not reset the connection before the client read the response
//   Closed
//
// NOTE: invariants: at most one read and one write in flight; current_ is the only response
// whose writer calls are delivered (ops of any other ResponseState are dropped); output queued
// for the current response is counted in its ResponseState::queuedBytes until written.
#pragma once

#include "http/ConnectionWriter.h"
#include "http/ServerCore.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace llmrt::http::detail {

class Connection : public std::enable_shared_from_this<Connection> {
public:
  Connection(std::shared_ptr<ServerCore> core, boost::asio::ip::tcp::socket socket);
  ~Connection();

  // Registers with the core and starts reading; closes at once when the server is stopping.
  void start();
  // Thread-safe: close now (server stop); a pending response's onClose fires.
  void requestClose();
  // Thread-safe: close if idle between requests (stopAccepting).
  void requestCloseIfIdle();

  // The connection's strand (thread-safe: never changes).
  const boost::asio::any_io_executor &executor() const { return strand_; }
  // Strand only: one writer call (ConnectionWriter posts it here).
  void deliver(const std::shared_ptr<ResponseState> &state, WriterOp op);

private:
  enum class Phase { ReadingRequest, Responding, WaitingForRequest, Lingering, Closed };
  struct OutItem {
    explicit OutItem(std::string head, std::string body = {}, std::string_view tail = {},
                     size_t counted = 0)
        : head(std::move(head)), body(std::move(body)), tail(tail), counted(counted) {}
    std::string head;
    std::string body;
    std::string_view tail;
    size_t counted = 0; // bytes counted in the response's queuedBytes
  };

  void readRequest();
  void onHeader(boost::system::error_code ec);
  void readBody();
  void onBody(boost::system::error_code ec);
  void onReadError(boost::system::error_code ec);
  void failRequest(int status, std::string_view message, std::string_view code);
  void dispatchRequest();
  void armReadTimer(std::chrono::milliseconds timeout);

  void startWatch();
  void onWatch(boost::system::error_code ec, size_t bytes);

  bool keepAliveFor(const ResponseState &state) const;
  void enqueue(OutItem item);
  void startWrite();
  void onWrite(boost::system::error_code ec);
  void responseDone();

  void gracefulClose();
  void closeNow();
  // Marks state finished (disconnected: before its response was done, onClose fires).
  void finishState(const std::shared_ptr<ResponseState> &state, bool disconnected);

  std::shared_ptr<ServerCore> core_;
  boost::asio::ip::tcp::socket socket_;
  boost::asio::any_io_executor strand_;
  boost::asio::steady_timer readTimer_, writeTimer_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  std::string remote_;

  Phase phase_ = Phase::ReadingRequest;
  bool readingHeader_ = false;
  bool watching_ = false;
  bool resumeAfterCancel_ = false;
  uint64_t readGeneration_ = 0, writeGeneration_ = 0;
  size_t lingerBytes_ = 0;

  std::shared_ptr<ResponseState> current_;
  std::deque<OutItem> queue_;
  std::vector<boost::asio::const_buffer> batch_;
  size_t batchItems_ = 0;
  bool writing_ = false;
  bool finalQueued_ = false; // the current response's last bytes are queued
  bool closeAfter_ = false;  // close once the current response is written
  bool chunked_ = false;     // the current stream uses chunked framing
};

} // namespace llmrt::http::detail
