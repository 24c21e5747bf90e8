// The OpenAI-compatible API over one served model: the route handlers of `llmrt serve`.
//
//   POST /v1/completions, /v1/chat/completions   generation (streaming or not)
//   GET  /v1/models, /v1/models/{id}             the served model
//   POST /tokenize, /detokenize                  vLLM's tokenizer endpoints
//   GET  /health                                 200 while the engine runs, 503 after it failed
//   GET  /metrics                                Prometheus text format
//
// Handlers run on the HTTP I/O threads: they parse and validate the JSON body (OpenAIRequest.h),
// render the chat template, tokenize, check the prompt against the context length, and hand
// native requests to the engine thread (AsyncEngine) with a GenerationJob that writes the
// response. Every refusal is an OpenAI-style JSON error with the right status.
//
// The transport is not here: handle() takes a parsed request and a ResponseWriter, so tests drive
// the handlers without sockets, and the serve command registers them on an http::Server.
#pragma once

#include "engine/AsyncEngine.h"
#include "http/Request.h"
#include "http/ResponseWriter.h"
#include "server/ServedModel.h"
#include "server/ServerMetrics.h"

#include <memory>
#include <string>
#include <vector>

namespace llmrt::server {

struct OpenAIServerOptions {
  std::string servedModelName; // "" = the plan's model name
  EngineConfig engine;
  size_t maxPendingRequests = 4096; // beyond: 503
};

class OpenAIServer {
public:
  // Loads the model's tokenizer and chat template and starts the engine thread. Throws llm::Error
  // on a plan the server cannot serve (no tokenizer, a chat template that does not parse).
  OpenAIServer(const LoadedPlan &plan, OpenAIServerOptions options);
  ~OpenAIServer();

  // (method, path) pairs the server answers, and whether each is public (no API key needed).
  struct Route {
    std::string method, path;
    bool isPublic;
  };
  // /v1/models/{id} is registered for the served model's id only (other ids: 404).
  std::vector<Route> routes() const;

  // Answers one request (a route from routes(); /v1/models/{id} by prefix). Never throws: every
  // failure becomes an error response.
  void handle(const http::Request &request, std::shared_ptr<http::ResponseWriter> writer);

  // Aborts what runs and stops the engine thread (every response gets its end).
  void stop();

  const ServedModel &model() const { return model_; }
  ServerMetrics &metrics() { return metrics_; }
  AsyncEngine &engine() { return *engine_; }

private:
  void completions(const http::Request &request, std::shared_ptr<http::ResponseWriter> writer);
  void chat(const http::Request &request, std::shared_ptr<http::ResponseWriter> writer);
  void tokenize(const http::Request &request, http::ResponseWriter &writer);
  void detokenize(const http::Request &request, http::ResponseWriter &writer);
  void models(const http::Request &request, http::ResponseWriter &writer);

  ServedModel model_;
  ServerMetrics metrics_;
  std::unique_ptr<AsyncEngine> engine_;
};

} // namespace llmrt::server
