#include "tools/Serve.h"

#include "backends/cpu/Isa.h"
#include "http/Server.h"
#include "plan/PlanLoader.h"
#include "server/OpenAIServer.h"
#include "support/Error.h"
#include "tools/KVCacheDtypeOption.h"
#include "tools/WeightMemoryOption.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <pthread.h>
#include <algorithm>

namespace llmrt::tools {

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

} // namespace

CLI::App *addServeCommand(CLI::App &app, ServeOptions &o) {
  CLI::App *cmd = app.add_subcommand("serve", "serve a plan behind an OpenAI-compatible HTTP API");
  cmd->add_option("plan", o.plan, "plan.fb written by llmc compile")->required();
  cmd->add_option("--host", o.host, "address to listen on")->capture_default_str();
  cmd->add_option("--port", o.port, "port to listen on (0: any free port)")->capture_default_str();
  cmd->add_option("--api-key", o.apiKey,
                  "require 'Authorization: Bearer KEY' (default: $LLMRT_API_KEY, else none)");
  cmd->add_option("--served-model-name", o.servedModelName,
                  "the model name clients use (default: the plan's model name)");
  cmd->add_option("--allowed-origins", o.allowedOrigins,
                  "CORS: origins allowed to call the API from a browser ('*' for any; default: "
                  "none, CORS off)");
  cmd->add_option("--io-threads", o.ioThreads, "HTTP I/O threads")->capture_default_str();
  cmd->add_option("--max-body-bytes", o.maxBodyBytes, "largest request body accepted (413 above)")
      ->capture_default_str();
  cmd->add_option("--max-pending-requests", o.maxPendingRequests,
                  "requests queued or running beyond which new ones get 503")
      ->capture_default_str();
  cmd->add_option("--shutdown-grace", o.shutdownGraceSeconds,
                  "seconds in-flight requests get to finish on SIGTERM")
      ->capture_default_str();
  cmd->add_option("--max-model-len", o.engine.maxModelLen,
                  "longest sequence, prompt + output (default: the plan's, within the KV cache)");
  cmd->add_option("--max-num-seqs", o.engine.maxNumSeqs, "requests running at once")
      ->capture_default_str();
  cmd->add_option("--max-num-batched-tokens", o.engine.maxNumBatchedTokens, "tokens per step")
      ->capture_default_str();
  cmd->add_option("--kv-cache-memory", o.engine.kvCacheMemory,
                  "bytes of KV cache (default: a quarter of the available memory)");
  cmd->add_option("--block-size", o.engine.blockSize, "KV cache block size (default: the plan's)");
  cmd->add_option("--threads", o.engine.threads, "CPU threads for the model (default: all cores)");
  cmd->add_flag("!--no-prefix-caching", o.engine.enablePrefixCaching, "disable prefix caching");
  cmd->add_flag("!--no-kv-cache-prefault", o.engine.kvCachePrefault,
                "do not commit the KV cache's memory at start (pages are then taken as used)");
  addKVCacheDtypeOption(cmd, o.engine.kvCacheDtype);
  addMmapOption(cmd, o.load);
  return cmd;
}

int runServe(const ServeOptions &o) {
  const auto start = Clock::now();
  // NOTE: block the signals before any thread starts, so every thread inherits the mask and only
  // sigwait below sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::unique_ptr<LoadedPlan> plan = LoadedPlan::load(o.plan, o.load);
  server::OpenAIServerOptions serverOptions;
  serverOptions.servedModelName = o.servedModelName;
  serverOptions.engine = o.engine;
  serverOptions.maxPendingRequests = o.maxPendingRequests;
  server::OpenAIServer api(*plan, serverOptions);

  http::ServerOptions httpOptions;
  httpOptions.host = o.host;
  httpOptions.port = o.port;
  httpOptions.ioThreads = o.ioThreads;
  httpOptions.maxBodyBytes = static_cast<size_t>(o.maxBodyBytes);
  httpOptions.apiKey = o.apiKey;
  if (httpOptions.apiKey.empty())
    if (const char *env = std::getenv("LLMRT_API_KEY"))
      httpOptions.apiKey = env;
  httpOptions.corsOrigins = o.allowedOrigins;
  http::Server server(httpOptions);
  for (const server::OpenAIServer::Route &r : api.routes())
    server.route(r.method, r.path,
                 [&api](const http::Request &request, std::shared_ptr<http::ResponseWriter> w) {
                   api.handle(request, std::move(w));
                 },
                 r.isPublic);
  server.start();

  const EngineSnapshot s = api.engine().snapshot();
  fmt::print("llmrt serve: model '{}' from {} (vocabulary {}, max_model_len {}, chat template: "
             "{})\n",
             api.model().name, o.plan, api.model().vocabSize, api.model().maxModelLen,
             api.model().chatTemplate ? "yes" : "no");
  fmt::print("llmrt serve: weights: {}\n", plan->describeWeightMemory());
  fmt::print("llmrt serve: KV cache {} blocks of {} positions, {} ({:.1f} MiB, {})\n",
             s.totalKvBlocks, s.blockSize, kvCacheDtypeName(s.kvCacheDtype),
             double(s.kvCacheBytes) / (1 << 20),
             o.engine.kvCachePrefault ? "committed at start" : "committed as used");
  fmt::print("llmrt serve: CPU kernels {} (LLMRT_CPU_ISA caps them)\n", cpu::describeIsas());
  fmt::print("llmrt serve: listening on http://{}:{} ({} I/O threads{}{})\n", o.host,
             server.port(), o.ioThreads, httpOptions.apiKey.empty() ? "" : ", API key required",
             o.allowedOrigins.empty() ? "" : ", CORS on");
  fmt::print("llmrt serve: ready in {:.2f} s\n", secondsSince(start));
  std::fflush(stdout);

  int signal = 0;
  sigwait(&signals, &signal);
  fmt::print("llmrt serve: {} received: no new connections; {} responses in flight get {:g} s\n",
             signal == SIGTERM ? "SIGTERM" : "SIGINT", server.activeResponses(),
             o.shutdownGraceSeconds);
  std::fflush(stdout);
  server.stopAccepting();
  const auto grace = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::duration<double>(std::max(0.0, o.shutdownGraceSeconds)));
  bool clean = server.waitUntilIdle(grace);
  // Whatever still runs is aborted: streams end with finish_reason "abort".
  api.stop();
  server.waitUntilIdle(std::chrono::seconds(2));
  server.stop();
  fmt::print("llmrt serve: stopped ({})\n", clean ? "every request finished"
                                                  : "requests still running were aborted");
  return 0;
}

} // namespace llmrt::tools
