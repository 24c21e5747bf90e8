#include "http/Connection.h"

#include "http/Dispatch.h"
#include "http/ErrorBody.h"
#include "http/ResponseHead.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace llmrt::http::detail {

namespace net = boost::asio;
namespace bhttp = boost::beast::http;
using boost::system::error_code;
using tcp = net::ip::tcp;

namespace {

// A pending response's disconnect-detection read keeps at most this much of a pipelined next
// request; beyond it the connection stops reading until the response ends (a disconnect is then
// noticed by the next write).
constexpr size_t kMaxPipelinedBytes = 64 << 10;
constexpr size_t kWatchReadBytes = 4096;
// After a "Connection: close" response, what the client still sends (the rest of an oversized
// body) is discarded for at most this long and this much before the socket closes.
constexpr std::chrono::milliseconds kLingerTime{2000};
constexpr size_t kMaxLingerBytes = 1 << 20;
// Queued outputs gathered into one write.
constexpr size_t kMaxBatchItems = 64;
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

// Splits a request target into path and query; an absolute-form target
// ("http://host/path?q") is reduced to its path.
void splitTarget(std::string_view target, std::string &path, std::string &query) {
  size_t scheme = target.find("://");
  if (scheme != std::string_view::npos && target.front() != '/') {
    size_t slash = target.find('/', scheme + 3);
    target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
  }
  size_t q = target.find('?');
  path = std::string(target.substr(0, q));
  query = q == std::string_view::npos ? std::string() : std::string(target.substr(q + 1));
}

std::string describe(const tcp::socket &socket) {
  error_code ec;
  tcp::endpoint endpoint = socket.remote_endpoint(ec);
  if (ec)
    return "unknown";
  std::string address = endpoint.address().to_string();
  if (endpoint.address().is_v6())
    address = "[" + address + "]";
  return address + ":" + std::to_string(endpoint.port());
}

} // namespace

Connection::Connection(std::shared_ptr<ServerCore> core, tcp::socket socket)
    : core_(std::move(core)), socket_(std::move(socket)), strand_(socket_.get_executor()),
      readTimer_(strand_), writeTimer_(strand_), remote_(describe(socket_)) {
  core_->liveConnections.fetch_add(1);
}

Connection::~Connection() {
  std::lock_guard lock(core_->mutex);
  core_->connections.erase(this);
  if (core_->liveConnections.fetch_sub(1) == 1)
    core_->changed.notify_all();
}

void Connection::start() {
  {
    std::lock_guard lock(core_->mutex);
    if (core_->stopping)
      return; // the socket closes with this object
    core_->connections[this] = weak_from_this();
  }
  net::dispatch(strand_, [self = shared_from_this()] { self->readRequest(); });
}

void Connection::requestClose() {
  net::post(strand_, [self = shared_from_this()] { self->closeNow(); });
}

void Connection::requestCloseIfIdle() {
  net::post(strand_, [self = shared_from_this()] {
    bool idle = (self->phase_ == Phase::ReadingRequest && self->readingHeader_) ||
                self->phase_ == Phase::WaitingForRequest;
    if (idle && self->buffer_.size() == 0)
      self->closeNow();
  });
}

// ---- reading a request ----

void Connection::readRequest() {
  if (phase_ == Phase::Closed)
    return;
  phase_ = Phase::ReadingRequest;
  armReadTimer(core_->options.readTimeout);
  const ServerOptions &options = core_->options;
  parser_.emplace();
  parser_->header_limit(static_cast<uint32_t>(options.maxHeaderBytes));
  parser_->body_limit(options.maxBodyBytes);
  readingHeader_ = true;
  bhttp::async_read_header(socket_, buffer_, *parser_,
                           [self = shared_from_this()](error_code ec, size_t) {
                             self->onHeader(ec);
                           });
}

void Connection::onHeader(error_code ec) {
  readingHeader_ = false;
  if (phase_ == Phase::Closed)
    return;
  if (ec)
    return onReadError(ec);
  const auto &message = parser_->get();
  bool expectContinue = message.version() >= 11 && !parser_->is_done() &&
                        equalsIgnoreCase(message[bhttp::field::expect], "100-continue");
  if (!expectContinue)
    return readBody();
  net::async_write(socket_, net::buffer(kContinue.data(), kContinue.size()),
                   [self = shared_from_this()](error_code ec, size_t) {
                     if (ec)
                       return self->closeNow();
                     self->readBody();
                   });
}

void Connection::readBody() {
  if (phase_ == Phase::Closed)
    return;
  bhttp::async_read(socket_, buffer_, *parser_,
                    [self = shared_from_this()](error_code ec, size_t) { self->onBody(ec); });
}

void Connection::onBody(error_code ec) {
  if (phase_ == Phase::Closed)
    return;
  if (ec)
    return onReadError(ec);
  ++readGeneration_;
  readTimer_.cancel();
  dispatchRequest();
}

void Connection::onReadError(error_code ec) {
  if (phase_ == Phase::Closed)
    return;
  if (ec == bhttp::error::body_limit)
    return failRequest(413,
                       fmt::format("The request body exceeds the limit of {} bytes.",
                                   core_->options.maxBodyBytes),
                       "request_too_large");
  if (ec == bhttp::error::header_limit)
    return failRequest(431,
                       fmt::format("The request headers exceed the limit of {} bytes.",
                                   core_->options.maxHeaderBytes),
                       "request_header_fields_too_large");
  // A clean end between requests, a client gone mid-request, a network error, or the read timer
  // (which closes the socket): nothing to answer.
  bool httpSyntax = ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category();
  if (!httpSyntax || ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message)
    return closeNow();
  failRequest(400, fmt::format("Malformed HTTP request: {}.", ec.message()), "bad_request");
}

void Connection::failRequest(int status, std::string_view message, std::string_view code) {
  ++readGeneration_;
  readTimer_.cancel();
  parser_.reset();
  phase_ = Phase::Responding;
  std::string body = openaiErrorJson(message, "invalid_request_error", {}, code);
  ResponseHead head;
  head.status = status;
  head.keepAlive = false;
  head.hasLength = true;
  head.contentLength = body.size();
  head.headers = {{"Content-Type", "application/json"}};
  closeAfter_ = true;
  finalQueued_ = true;
  enqueue(OutItem(formatHead(head), std::move(body)));
}

void Connection::armReadTimer(std::chrono::milliseconds timeout) {
  uint64_t generation = ++readGeneration_;
  readTimer_.expires_after(timeout);
  readTimer_.async_wait([self = shared_from_this(), generation](error_code ec) {
    if (!ec && self->readGeneration_ == generation && self->phase_ != Phase::Responding)
      self->closeNow();
  });
}

void Connection::dispatchRequest() {
  auto message = parser_->release();
  parser_.reset();
  Request request;
  request.method = std::string(message.method_string());
  splitTarget(message.target(), request.path, request.query);
  request.version = message.version() == 10 ? 10 : 11;
  for (const auto &field : message)
    request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  request.body = std::move(message.body());
  request.remote = remote_;

  auto state = std::make_shared<ResponseState>();
  state->connection = weak_from_this();
  state->maxQueuedBytes = core_->options.maxQueuedBytes;
  state->version = request.version;
  state->keepAlive = message.keep_alive();
  state->corsHeaders = core_->cors.responseHeaders(request.header("Origin"));

  current_ = state;
  phase_ = Phase::Responding;
  finalQueued_ = closeAfter_ = chunked_ = false;
  core_->responseStarted();
  startWatch();
  detail::dispatch(*core_, request, std::make_shared<ConnectionWriter>(std::move(state)));
}

// ---- noticing a disconnect while a response is pending ----

void Connection::startWatch() {
  if (watching_ || phase_ == Phase::Closed)
    return;
  if (phase_ != Phase::Lingering && buffer_.size() >= kMaxPipelinedBytes)
    return;
  watching_ = true;
  socket_.async_read_some(buffer_.prepare(kWatchReadBytes),
                          [self = shared_from_this()](error_code ec, size_t bytes) {
                            self->onWatch(ec, bytes);
                          });
}

void Connection::onWatch(error_code ec, size_t bytes) {
  watching_ = false;
  bool resume = std::exchange(resumeAfterCancel_, false);
  if (phase_ == Phase::Closed)
    return;
  if (phase_ == Phase::Lingering) {
    lingerBytes_ += bytes;
    if (ec || lingerBytes_ > kMaxLingerBytes)
      return closeNow();
    return startWatch(); // bytes were never committed: discarded
  }
  if (ec == net::error::operation_aborted && resume)
    return readRequest(); // the response ended with a pipelined request already buffered
  if (ec)
    return closeNow(); // the client went away
  buffer_.commit(bytes);
  if (phase_ == Phase::Responding)
    startWatch();
  else
    readRequest();
}

// ---- writing ----

void Connection::deliver(const std::shared_ptr<ResponseState> &state, WriterOp op) {
  if (phase_ == Phase::Closed || state != current_)
    return;
  auto headersOf = [&](const std::string &contentType, bool withBody) {
    std::vector<Header> headers;
    if (withBody && !contentType.empty())
      headers.emplace_back("Content-Type", contentType);
    for (auto &header : op.headers)
      headers.push_back(std::move(header));
    for (const auto &header : state->corsHeaders)
      headers.push_back(header);
    return headers;
  };
  switch (op.kind) {
  case WriterOp::Kind::Respond: {
    ResponseHead head;
    head.status = op.status;
    head.version = state->version;
    head.keepAlive = keepAliveFor(*state);
    head.hasLength = true;
    bool withBody = statusAllowsBody(op.status);
    if (!withBody)
      op.data.clear();
    head.contentLength = op.data.size();
    head.headers = headersOf(op.contentType, withBody);
    closeAfter_ = !head.keepAlive;
    finalQueued_ = true;
    enqueue(OutItem(formatHead(head), std::move(op.data)));
    break;
  }
  case WriterOp::Kind::BeginStream: {
    chunked_ = state->version != 10; // HTTP/1.0: no chunking, the close ends the body
    ResponseHead head;
    head.status = op.status;
    head.version = state->version;
    head.keepAlive = chunked_ && keepAliveFor(*state);
    head.chunked = chunked_;
    head.headers = headersOf(op.contentType, true);
    closeAfter_ = !head.keepAlive;
    enqueue(OutItem(formatHead(head)));
    break;
  }
  case WriterOp::Kind::Chunk: {
    size_t size = op.data.size();
    if (chunked_)
      enqueue(OutItem(chunkPrefix(size), std::move(op.data), kChunkSuffix, size));
    else
      enqueue(OutItem({}, std::move(op.data), {}, size));
    break;
  }
  case WriterOp::Kind::End:
    finalQueued_ = true;
    if (chunked_)
      enqueue(OutItem(std::string(kLastChunk)));
    else if (!writing_)
      startWrite();
    break;
  case WriterOp::Kind::Overflow:
    closeNow(); // a client that does not read: cut it off
    break;
  }
}

bool Connection::keepAliveFor(const ResponseState &state) const {
  return state.keepAlive && !core_->draining.load();
}

void Connection::enqueue(OutItem item) {
  queue_.push_back(std::move(item));
  if (!writing_)
    startWrite();
}

void Connection::startWrite() {
  if (phase_ == Phase::Closed)
    return;
  if (queue_.empty()) {
    if (finalQueued_)
      responseDone();
    return;
  }
  batch_.clear();
  batchItems_ = 0;
  for (const OutItem &item : queue_) {
    if (batchItems_ == kMaxBatchItems)
      break;
    for (std::string_view piece : {std::string_view(item.head), std::string_view(item.body),
                                   item.tail})
      if (!piece.empty())
        batch_.emplace_back(piece.data(), piece.size());
    ++batchItems_;
  }
  writing_ = true;
  uint64_t generation = ++writeGeneration_;
  writeTimer_.expires_after(core_->options.writeTimeout);
  writeTimer_.async_wait([self = shared_from_this(), generation](error_code ec) {
    if (!ec && self->writing_ && self->writeGeneration_ == generation)
      self->closeNow(); // no progress: a stalled reader
  });
  net::async_write(socket_, batch_,
                   [self = shared_from_this()](error_code ec, size_t) { self->onWrite(ec); });
}

void Connection::onWrite(error_code ec) {
  writing_ = false;
  writeTimer_.cancel();
  if (phase_ == Phase::Closed)
    return;
  if (ec)
    return closeNow();
  size_t counted = 0;
  for (size_t i = 0; i < batchItems_; ++i) {
    counted += queue_.front().counted;
    queue_.pop_front();
  }
  if (current_ && counted)
    current_->queuedBytes.fetch_sub(counted);
  startWrite();
}

void Connection::responseDone() {
  finalQueued_ = false;
  if (current_) {
    finishState(current_, false);
    current_.reset();
  }
  if (closeAfter_ || core_->draining.load())
    return gracefulClose(); // also: the server stopped accepting while this response ran
  if (!watching_)
    return readRequest();
  phase_ = Phase::WaitingForRequest;
  armReadTimer(core_->options.readTimeout);
  if (buffer_.size() > 0) {
    // A pipelined request is buffered: stop the watch read and parse it.
    resumeAfterCancel_ = true;
    error_code ignored;
    socket_.cancel(ignored);
  }
}

// ---- closing ----

void Connection::gracefulClose() {
  phase_ = Phase::Lingering;
  error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_send, ignored);
  buffer_.consume(buffer_.size());
  uint64_t generation = ++readGeneration_;
  readTimer_.expires_after(std::min(kLingerTime, core_->options.readTimeout));
  readTimer_.async_wait([self = shared_from_this(), generation](error_code ec) {
    if (!ec && self->readGeneration_ == generation)
      self->closeNow();
  });
  startWatch();
}

void Connection::closeNow() {
  if (phase_ == Phase::Closed)
    return;
  phase_ = Phase::Closed;
  readTimer_.cancel();
  writeTimer_.cancel();
  error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  if (!writing_)
    queue_.clear(); // else the aborted write still refers to it; freed with the connection
  if (current_) {
    finishState(current_, true);
    current_.reset();
  }
}

void Connection::finishState(const std::shared_ptr<ResponseState> &state, bool disconnected) {
  std::function<void()> callback;
  {
    std::lock_guard lock(state->mutex);
    if (state->finished)
      return;
    state->finished = true;
    state->disconnected = disconnected;
    state->closed = true;
    if (disconnected)
      callback = std::move(state->onClose);
    state->onClose = nullptr;
  }
  core_->responseFinished();
  if (callback) {
    try {
      callback();
    } catch (...) {
      // A callback must not throw; an I/O thread is no place to let it escape.
    }
  }
}

} // namespace llmrt::http::detail
