#include "engine/AsyncEngine.h"

#include "support/Error.h"

#include <fmt/format.h>

namespace llmrt {

AsyncEngine::AsyncEngine(const LoadedPlan &plan, EngineConfig config, AsyncEngineOptions options)
    : engine_(plan, config), options_(std::move(options)),
      maxModelLen_(engine_.scheduler().maxModelLen()), vocabSize_(engine_.executor().vocabSize()) {
  publish(nullptr);
  thread_ = std::thread([this] { run(); });
}

AsyncEngine::~AsyncEngine() { stop(); }

bool AsyncEngine::submit(Request request, int numSamples, std::shared_ptr<RequestSink> sink) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || inFlight_ >= options_.maxPendingRequests)
      return false;
    ++inFlight_;
    queue_.push_back(Submit{std::move(request), numSamples, std::move(sink)});
  }
  wake_.notify_one();
  return true;
}

void AsyncEngine::abort(const std::string &requestId) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(Abort{requestId});
  }
  wake_.notify_one();
}

void AsyncEngine::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable())
    thread_.join();
}

EngineSnapshot AsyncEngine::snapshot() const {
  std::lock_guard lock(mutex_);
  return snapshot_;
}

void AsyncEngine::apply(Command &command) {
  if (auto *abort = std::get_if<Abort>(&command)) {
    if (auto it = samples_.find(abort->requestId); it != samples_.end())
      for (const std::string &id : it->second)
        engine_.abort(id);
    return;
  }
  Submit &s = std::get<Submit>(command);
  const std::string id = s.request.id;
  if (samples_.count(id)) {
    s.sink->onRejected(fmt::format("request id '{}' is in use", id));
  } else {
    try {
      engine_.add(std::move(s.request), s.numSamples);
    } catch (const llm::Error &e) {
      s.sink->onRejected(e.what());
      std::lock_guard lock(mutex_);
      --inFlight_;
      return;
    }
    std::vector<std::string> &ids = samples_[id];
    for (int i = 0; i < s.numSamples; ++i) {
      ids.push_back(Engine::sampleId(id, i));
      routes_[ids.back()] = Route{s.sink, id, i};
    }
    return;
  }
  std::lock_guard lock(mutex_);
  --inFlight_;
}

void AsyncEngine::deliver(const EngineOutput &out) {
  for (size_t i = 0; i < out.tokens.size(); ++i) {
    const NewToken &t = out.tokens[i];
    auto it = routes_.find(t.id);
    if (it == routes_.end())
      continue;
    const TokenLogprobs *lp = out.logprobs.size() > i && out.logprobs[i] ? &*out.logprobs[i] : nullptr;
    if (!it->second.sink->onToken(it->second.sample, t.token, lp, t.status) &&
        !isFinished(t.status))
      toFinish_.emplace_back(t.id, RequestStatus::FinishedStopped);
  }
  for (const std::unique_ptr<Request> &r : out.finished) {
    auto it = routes_.find(r->id);
    if (it == routes_.end())
      continue;
    Route route = std::move(it->second);
    routes_.erase(it);
    auto group = samples_.find(route.requestId);
    bool last = true;
    for (const std::string &id : group->second)
      last = last && !routes_.count(id);
    if (last) {
      // NOTE: the request leaves the in-flight count before its sink learns it finished: a
      // client that sends its next request on seeing the end must find room.
      samples_.erase(group);
      std::lock_guard lock(mutex_);
      --inFlight_;
    }
    route.sink->onFinished(route.sample, *r);
  }
}

void AsyncEngine::publish(const EngineOutput *out) {
  const Scheduler &s = engine_.scheduler();
  EngineSnapshot snap;
  snap.running = s.numRunning();
  snap.waiting = s.numWaiting();
  snap.usedKvBlocks = s.kvCache().numUsedBlocks();
  snap.totalKvBlocks = engine_.numKvBlocks();
  snap.blockSize = engine_.blockSize();
  snap.kvCacheBytes = engine_.executor().kvCache().bytes();
  snap.kvCacheDtype = engine_.executor().kvCache().dtype();
  snap.prefixQueryTokens = s.kvCache().prefixQueryTokens();
  snap.prefixHitTokens = s.kvCache().prefixHitTokens();
  snap.preemptions = s.numPreemptions();
  snap.steps = engine_.stats().steps;
  snap.maxModelLen = maxModelLen_;
  {
    std::lock_guard lock(mutex_);
    snap.failed = snapshot_.failed;
    snapshot_ = snap;
  }
  if (out && options_.stepObserver)
    options_.stepObserver(*out, snap);
}

void AsyncEngine::fail(const std::string &message) {
  fmt::print(stderr, "llmrt: the engine failed and stops serving: {}\n", message);
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    snapshot_.failed = true;
  }
  for (auto &[id, route] : routes_) {
    Request aborted(id, {});
    aborted.status = RequestStatus::FinishedAborted;
    route.sink->onFinished(route.sample, aborted);
  }
  routes_.clear();
  samples_.clear();
  std::deque<Command> rest;
  {
    std::lock_guard lock(mutex_);
    rest.swap(queue_);
    inFlight_ = 0;
  }
  for (Command &c : rest)
    if (auto *s = std::get_if<Submit>(&c))
      s->sink->onRejected("the engine has stopped");
}

void AsyncEngine::run() {
  std::deque<Command> commands;
  bool stopping = false;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty() || engine_.hasUnfinished() ||
                                    !toFinish_.empty(); });
      commands.swap(queue_);
      stopping = stopping_;
    }
    for (Command &c : commands)
      apply(c);
    commands.clear();
    for (auto &[id, reason] : toFinish_)
      engine_.finish(id, reason);
    toFinish_.clear();
    if (stopping)
      for (auto &[id, route] : routes_)
        engine_.abort(id);
    EngineOutput out;
    try {
      out = engine_.step();
    } catch (const std::exception &e) {
      // NOTE: inputs are validated before they reach the executor, so this is an internal error
      // and the scheduler cannot go on: end every request now (as aborted) rather than leave
      // clients waiting, and refuse new ones.
      fail(e.what());
      return;
    }
    // The snapshot first: a client that has heard its request finish then sees it gone from
    // the snapshot (running, waiting, KV blocks), never the step before.
    publish(&out);
    deliver(out);
    if (stopping && routes_.empty() && !engine_.hasUnfinished())
      return;
  }
}

} // namespace llmrt
