#include "http/ConnectionWriter.h"

#include "http/Connection.h"
#include "http/ErrorBody.h"

#include <boost/asio/post.hpp>

namespace llmrt::http::detail {

ConnectionWriter::~ConnectionWriter() {
  bool streaming;
  {
    std::lock_guard lock(state_->mutex);
    if (state_->finished || state_->ended)
      return;
    streaming = state_->streaming;
  }
  if (streaming)
    doEnd();
  else
    doRespond(500,
              openaiErrorJson("The request handler returned without a response.", "server_error",
                              {}, "internal_error"),
              "application/json");
}

void ConnectionWriter::postLocked(WriterOp op) {
  std::shared_ptr<Connection> connection = state_->connection.lock();
  if (!connection)
    return;
  boost::asio::post(connection->executor(),
                    [connection, state = state_, op = std::move(op)]() mutable {
                      connection->deliver(state, std::move(op));
                    });
}

void ConnectionWriter::doSetHeader(std::string name, std::string value) {
  checkHandlerHeader(name, value);
  std::lock_guard lock(state_->mutex);
  if (!state_->started)
    state_->headers.emplace_back(std::move(name), std::move(value));
}

void ConnectionWriter::doRespond(int status, std::string body, std::string contentType) {
  std::lock_guard lock(state_->mutex);
  if (state_->started || state_->finished)
    return;
  state_->started = state_->ended = true;
  postLocked(WriterOp(WriterOp::Kind::Respond, status, std::move(body), std::move(contentType),
                      std::move(state_->headers)));
}

void ConnectionWriter::doBeginStream(int status, std::string contentType) {
  std::lock_guard lock(state_->mutex);
  if (state_->started || state_->finished)
    return;
  state_->started = state_->streaming = true;
  postLocked(WriterOp(WriterOp::Kind::BeginStream, status, {}, std::move(contentType),
                      std::move(state_->headers)));
}

void ConnectionWriter::doWrite(std::string chunk) {
  if (chunk.empty())
    return;
  std::lock_guard lock(state_->mutex);
  if (!state_->streaming || state_->ended || state_->finished || state_->overflowed)
    return;
  // Counted when handed over, so output posted but not yet queued counts too.
  size_t queued = state_->queuedBytes.fetch_add(chunk.size()) + chunk.size();
  if (queued > state_->maxQueuedBytes) {
    state_->overflowed = true;
    postLocked(WriterOp(WriterOp::Kind::Overflow));
    return;
  }
  postLocked(WriterOp(WriterOp::Kind::Chunk, 0, std::move(chunk)));
}

void ConnectionWriter::doEnd() {
  std::unique_lock lock(state_->mutex);
  if (state_->ended || state_->finished)
    return;
  if (!state_->streaming) {
    lock.unlock();
    doRespond(200, "", "application/json");
    return;
  }
  state_->ended = true;
  postLocked(WriterOp(WriterOp::Kind::End));
}

bool ConnectionWriter::isClosed() const { return state_->closed.load(); }

void ConnectionWriter::doOnClose(std::function<void()> callback) {
  std::unique_lock lock(state_->mutex);
  if (!state_->finished) {
    state_->onClose = std::move(callback);
    return;
  }
  bool disconnected = state_->disconnected;
  lock.unlock();
  if (disconnected && callback)
    callback();
}

} // namespace llmrt::http::detail
