// What the server and its connections share: options, routes, CORS policy, counters, and the
// registry of live connections (for stop()). Internal to the transport.
//
// NOTE: options, router and cors are written only before start(); afterwards they are read from
// any I/O thread without locks. connections and stopping are guarded by mutex.
#pragma once

#include "http/Cors.h"
#include "http/Router.h"
#include "http/Server.h"

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace llmrt::http::detail {

class Connection;

struct ServerCore {
  explicit ServerCore(ServerOptions opts) : options(std::move(opts)), cors(options.corsOrigins) {}

  ServerOptions options;
  Router router;
  CorsPolicy cors;
  std::atomic<size_t> activeResponses{0};
  std::atomic<bool> draining{false}; // stopAccepting() was called
  std::atomic<size_t> liveConnections{0};

  mutable std::mutex mutex;
  mutable std::condition_variable changed; // activeResponses or connections reached 0
  std::unordered_map<Connection *, std::weak_ptr<Connection>> connections;
  bool stopping = false; // stop() was called: new connections close at once

  void responseStarted() { activeResponses.fetch_add(1); }
  void responseFinished() {
    if (activeResponses.fetch_sub(1) == 1) {
      std::lock_guard lock(mutex);
      changed.notify_all();
    }
  }
  // The connections alive now (strong references; drop them without holding mutex).
  std::vector<std::shared_ptr<Connection>> snapshot() {
    std::vector<std::shared_ptr<Connection>> out;
    std::lock_guard lock(mutex);
    for (auto &[ptr, weak] : connections)
      if (auto strong = weak.lock())
        out.push_back(std::move(strong));
    return out;
  }
};

} // namespace llmrt::http::detail
