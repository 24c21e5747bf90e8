// The server's ResponseWriter: it checks each call against the response's state (under a mutex,
// on the caller's thread) and posts what passes to the connection's strand. Internal.
//
// NOTE: ResponseState is shared by the writer and the connection. `finished` turns true (under
// the mutex) when the response's last byte was written or its connection closed; after that no
// writer call touches the connection, and since stop() closes every connection before the
// io_context goes away, a writer outliving the server is harmless.
#pragma once

#include "http/ResponseHead.h"
#include "http/ResponseWriter.h"

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace llmrt::http::detail {

class Connection;

// One writer call, as the connection's strand receives it.
struct WriterOp {
  enum class Kind { Respond, BeginStream, Chunk, End, Overflow };
  explicit WriterOp(Kind kind, int status = 0, std::string data = {}, std::string contentType = {},
                    std::vector<Header> headers = {})
      : kind(kind), status(status), data(std::move(data)), contentType(std::move(contentType)),
        headers(std::move(headers)) {}
  Kind kind;
  int status = 0;
  std::string data;        // Respond: body; Chunk: the chunk
  std::string contentType; // Respond, BeginStream
  std::vector<Header> headers;
};

struct ResponseState {
  std::mutex mutex;
  // NOTE: no executor of the connection here: a writer may outlive the io_context, and a strand
  // must not (its destructor touches the io_context's strand service).
  std::weak_ptr<Connection> connection;
  size_t maxQueuedBytes = 0;

  // Under mutex, writer side.
  bool started = false, streaming = false, ended = false, overflowed = false;
  std::vector<Header> headers; // set by setHeader() before the response starts
  // Under mutex, set by the connection.
  bool finished = false;
  bool disconnected = false; // the connection closed before the response was done
  std::function<void()> onClose;

  std::atomic<bool> closed{false};      // closed() of the writer: finished or disconnected
  std::atomic<size_t> queuedBytes{0};   // chunk bytes handed to write() and not yet written

  // Strand only: facts of the request, set before the handler runs.
  int version = 11;
  bool keepAlive = true;
  std::vector<Header> corsHeaders;
};

class ConnectionWriter final : public ResponseWriter {
public:
  explicit ConnectionWriter(std::shared_ptr<ResponseState> state) : state_(std::move(state)) {}
  ~ConnectionWriter() override; // ends an abandoned response

protected:
  void doSetHeader(std::string name, std::string value) override;
  void doRespond(int status, std::string body, std::string contentType) override;
  void doBeginStream(int status, std::string contentType) override;
  void doWrite(std::string chunk) override;
  void doEnd() override;
  bool isClosed() const override;
  void doOnClose(std::function<void()> callback) override;

private:
  // Posts op to the connection's strand; caller holds state_->mutex.
  void postLocked(WriterOp op);

  std::shared_ptr<ResponseState> state_;
};

} // namespace llmrt::http::detail
