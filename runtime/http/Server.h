// The HTTP/1.1 transport of `llmrt serve`: Boost.Asio + Boost.Beast, asynchronous (no thread per
// connection). ServerOptions::ioThreads threads run one io_context; each connection runs on its
// own strand, so a connection's state is touched by one thread at a time.
//
// Per connection: keep-alive; a request is read within readTimeout (idle keep-alive wait, headers
// and body together), so slow or idle clients are dropped; headers beyond maxHeaderBytes -> 431,
// a body beyond maxBodyBytes -> 413 at once, without reading the rest (also when Content-Length
// claims more, or a chunked body grows past it), malformed HTTP -> 400; each then closes the
// connection. Routing by exact (method, path): unknown path -> 404, known path with another
// method -> 405 (with Allow). With an API key, every non-public route needs
// "Authorization: Bearer <key>" (else 401, code "invalid_api_key", WWW-Authenticate: Bearer).
// Optional CORS (see Cors.h). Every error is an OpenAI-style JSON body (ErrorBody.h).
//
// While a response is pending (the handler returned, the response has not ended), the connection
// keeps a read pending on the socket: a client that closes it is noticed at once (the writer's
// onClose fires, closed() turns true, queued output is dropped), which lets the API layer abort the
// request and free its KV cache blocks. Output is queued per connection and written one batch at
// a time; a client that does not read is cut off once more than maxQueuedBytes wait (or a write
// does not complete within writeTimeout), so the server never buffers without bound.
//
// Graceful shutdown (orchestrated by the serve command): stopAccepting(), wait until
// activeResponses() == 0 (waitUntilIdle) or a grace period passes, then stop().
//
// NOTE: route() only before start(). stopAccepting(), activeResponses(), waitUntilIdle() and
// stop() are safe from any thread (a signal-handling thread included) and may be called more than
// once (a stop() racing with another returns at once; the destructor always joins). Every connection object is destroyed once it is closed (liveConnections() counts them).
#pragma once

#include "http/ErrorBody.h"
#include "http/Request.h"
#include "http/ResponseWriter.h"
#include "http/Router.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace llmrt::http {

struct ServerOptions {
  std::string host = "127.0.0.1"; // a name or address; "0.0.0.0" or "::" for every interface
  uint16_t port = 8000;            // 0: any free port (port() says which)
  int ioThreads = 2;
  size_t maxBodyBytes = 8 << 20;
  size_t maxHeaderBytes = 16 << 10;
  // A request (from the end of the previous response, or the connection's start, to its last
  // body byte) must arrive within this time, else the connection closes.
  std::chrono::milliseconds readTimeout = std::chrono::seconds(60);
  // A batch of queued output (one socket write of up to 64 queued pieces) that cannot be
  // written within this time closes the connection (a stalled reader).
  std::chrono::milliseconds writeTimeout = std::chrono::seconds(60);
  // Output waiting for a slow reader beyond this closes the connection.
  size_t maxQueuedBytes = 16 << 20;
  std::string apiKey;                   // empty: no authentication
  std::vector<std::string> corsOrigins; // empty: CORS off; "*" or exact origins
};

class Server {
public:
  // Binds and listens on host:port (connections wait in the backlog until start()). Throws
  // llm::Error naming host:port and the reason when it cannot (address in use, unknown host, ...),
  // or for invalid options.
  explicit Server(ServerOptions options);
  ~Server(); // stop()
  Server(const Server &) = delete;
  Server &operator=(const Server &) = delete;

  // Throws llm::Error after start() or for a bad or duplicate route (Router::add).
  void route(std::string method, std::string path, Handler handler, bool isPublic = false);

  // Starts accepting and the I/O threads; returns at once.
  void start();
  uint16_t port() const; // the bound port (valid after the constructor)
  const ServerOptions &options() const;

  // Graceful shutdown, phase 1: closes the listener (new connections are refused when this
  // returns), closes idle keep-alive connections, and makes every later response carry
  // "Connection: close". Requests in flight go on.
  void stopAccepting();
  // Requests whose response has not ended (finished writing, or its connection closed).
  size_t activeResponses() const;
  // Waits until activeResponses() == 0 or timeout; true when idle.
  bool waitUntilIdle(std::chrono::milliseconds timeout) const;
  // Closes every connection (pending responses' onClose callbacks fire) and joins the I/O
  // threads. From an I/O thread (a handler) it closes everything but cannot join; the destructor
  // joins then.
  void stop();

  size_t liveConnections() const; // connection objects alive (for leak tests and metrics)

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

} // namespace llmrt::http
