// `llmrt serve PLAN`: the OpenAI-compatible server (runtime/server/OpenAIServer.h) on an HTTP
// listener (runtime/http/Server.h).
//
// Start-up logs what is served and where, and the time from start to ready. SIGTERM or SIGINT
// starts a graceful shutdown: the listener closes at once, requests in flight get up to
// --shutdown-grace seconds to finish, then the rest are aborted (streams end with
// finish_reason "abort"), and the process exits 0.
#pragma once

#include "engine/Engine.h"
#include "plan/PlanLoader.h"

#include <cstdint>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace llmrt::tools {

struct ServeOptions {
  std::string plan;
  std::string host = "127.0.0.1";
  uint16_t port = 8000;
  std::string apiKey;          // "" = no key (also read from LLMRT_API_KEY)
  std::string servedModelName; // "" = the plan's model name
  std::vector<std::string> allowedOrigins; // CORS: none by default
  int ioThreads = 2;
  int64_t maxBodyBytes = 8 << 20;
  size_t maxPendingRequests = 4096;
  double shutdownGraceSeconds = 30;
  EngineConfig engine = serveEngineDefaults();
  LoadOptions load; // --mmap

  static EngineConfig serveEngineDefaults() {
    EngineConfig c;
    c.kvCachePrefault = true; // a server commits its KV cache at start
    return c;
  }
};

CLI::App *addServeCommand(CLI::App &app, ServeOptions &options);

// Serves until SIGTERM/SIGINT. Throws llm::Error on a bad plan, option, or address.
int runServe(const ServeOptions &options);

} // namespace llmrt::tools
