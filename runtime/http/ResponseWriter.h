// The handler's side of one HTTP response: a whole response (respond) or a chunked stream
// (beginStream, write..., end). Handlers get it as a shared_ptr and may hand it to another thread
// (the engine thread) that finishes the response later.
//
// NOTE: every method is thread-safe and returns at once: the server's implementation posts the
// work to the connection's strand, so calls from one thread are delivered in call order. Calls
// that do not fit the response's state are dropped silently: anything after the response ended or
// the connection closed, respond() after beginStream(), write() before beginStream(), a second
// respond(). A response is "ended" when respond() or end() is called.
//
// NOTE: when the last reference to a writer goes away before the response ended, the server ends
// it: a started stream gets its last chunk, otherwise the client gets a 500 JSON error. A handler
// can never leave a connection hanging.
//
// This is an interface so the API layer can test its handlers without sockets
// (RecordingResponseWriter).
#pragma once

#include <functional>
#include <string>

namespace llmrt::http {

class ResponseWriter {
public:
  virtual ~ResponseWriter() = default;

  // Adds a response header (e.g. "x-request-id"); only before respond()/beginStream(), later calls
  // are dropped. Throws llm::Error for a name or value that could break the response (CR, LF, NUL,
  // a name that is not an HTTP token) or a header the transport owns (Content-Length,
  // Transfer-Encoding, Connection).
  void setHeader(std::string name, std::string value) {
    doSetHeader(std::move(name), std::move(value));
  }
  // A complete response with a Content-Length.
  void respond(int status, std::string body, std::string contentType = "application/json") {
    doRespond(status, std::move(body), std::move(contentType));
  }
  // Sends the status line and headers of a chunked response (HTTP/1.0 clients: no chunking, the
  // connection closes at end()).
  void beginStream(int status = 200, std::string contentType = "text/event-stream") {
    doBeginStream(status, std::move(contentType));
  }
  // One chunk of the stream, sent as it is (the API layer formats "data: ...\n\n" itself); empty
  // chunks are dropped (an empty chunk would end a chunked body).
  void write(std::string chunk) { doWrite(std::move(chunk)); }
  // The last chunk; the connection is then free for the next request. Without beginStream() first,
  // end() responds 200 with an empty body.
  void end() { doEnd(); }
  // True once nothing more can reach the client: the client went away, a write failed, the
  // connection was closed (slow reader, server stopping), or the response finished.
  bool closed() const { return isClosed(); }
  // callback runs once, on an I/O thread, if the connection closes before the response finished
  // (client gone, write failed, slow reader cut off, server stopping); at once on the calling
  // thread if that has happened already; never when the response completes normally. A second
  // registration replaces the first. The callback must not throw.
  void onClose(std::function<void()> callback) { doOnClose(std::move(callback)); }

protected:
  virtual void doSetHeader(std::string name, std::string value) = 0;
  virtual void doRespond(int status, std::string body, std::string contentType) = 0;
  virtual void doBeginStream(int status, std::string contentType) = 0;
  virtual void doWrite(std::string chunk) = 0;
  virtual void doEnd() = 0;
  virtual bool isClosed() const = 0;
  virtual void doOnClose(std::function<void()> callback) = 0;
};

} // namespace llmrt::http
