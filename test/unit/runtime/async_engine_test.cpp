// The engine thread: requests submitted from several threads get exactly the tokens the engine
// gives them when driven directly; aborts, sink-requested stops, rejections, overload and stop()
// with requests in flight.
#include "TestPlanWriter.h"
#include "engine/AsyncEngine.h"
#include "plan/PlanLoader.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

namespace llmrt::test {
namespace {

// Collects a request's outputs; can ask to stop after `stopAfter` tokens of sample 0.
class CollectingSink : public RequestSink {
public:
  explicit CollectingSink(int samples, int stopAfter = -1) : tokens(samples), status(samples),
                                                             stopAfter_(stopAfter) {}
  void onRejected(const std::string &message) override {
    std::lock_guard lock(mutex);
    rejected = message;
    done = true;
    cv.notify_all();
  }
  bool onToken(int sample, int32_t token, const TokenLogprobs *, RequestStatus) override {
    std::unique_lock lock(mutex);
    // A held sink keeps the engine's thread in its first token until release(): what the test
    // does meanwhile (an abort) lands before the request can finish on its own.
    cv.wait_for(lock, std::chrono::seconds(20), [&] { return !held_; });
    tokens.at(sample).push_back(token);
    return !(sample == 0 && static_cast<int>(tokens[0].size()) == stopAfter_);
  }
  void onFinished(int sample, const Request &final) override {
    std::lock_guard lock(mutex);
    status.at(sample) = final.status;
    if (++finished == static_cast<int>(tokens.size()))
      done = true;
    cv.notify_all();
  }
  void hold() { held_ = true; }
  void release() {
    std::lock_guard lock(mutex);
    held_ = false;
    cv.notify_all();
  }
  void wait() {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(20), [&] { return done; }));
  }

  std::mutex mutex;
  std::condition_variable cv;
  std::vector<std::vector<int32_t>> tokens;
  std::vector<RequestStatus> status;
  std::string rejected;
  int finished = 0;
  bool done = false;

private:
  int stopAfter_;
  bool held_ = false;
};

TPlan planWithKv() {
  TPlan p = tinyPlan(11, 8);
  p.kvLayers = 2;
  p.kvHeads = 1;
  p.headDim = 4;
  return p;
}

Request request(std::string id, std::vector<int32_t> prompt, int maxTokens) {
  StopParams stop;
  stop.maxTokens = maxTokens;
  stop.ignoreEos = true;
  return Request(std::move(id), std::move(prompt), stop);
}

std::vector<int32_t> direct(const LoadedPlan &plan, EngineConfig c, Request r) {
  Engine engine(plan, c);
  std::string id = r.id;
  engine.add(std::move(r));
  std::vector<int32_t> out;
  while (engine.hasUnfinished())
    for (const NewToken &t : engine.step().tokens)
      out.push_back(t.token);
  return out;
}

TEST(AsyncEngineTest, RequestsFromManyThreadsGetTheirTokens) {
  TempDir dir;
  auto plan = LoadedPlan::load(writePlan(planWithKv(), dir.path()).plan.string());
  EngineConfig c;
  c.kvCacheBlocks = 256;
  std::atomic<int> steps{0};
  AsyncEngineOptions o;
  o.stepObserver = [&](const EngineOutput &, const EngineSnapshot &) { ++steps; };
  AsyncEngine engine(*plan, c, o);
  EXPECT_EQ(engine.vocabSize(), 11);
  std::vector<std::shared_ptr<CollectingSink>> sinks(32);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = t; i < 32; i += 4) {
        sinks[i] = std::make_shared<CollectingSink>(1);
        EXPECT_TRUE(engine.submit(request("r" + std::to_string(i), {i % 11, 3}, 4 + i % 5), 1,
                                  sinks[i]));
      }
    });
  for (std::thread &t : threads)
    t.join();
  for (int i = 0; i < 32; ++i) {
    sinks[i]->wait();
    EXPECT_EQ(sinks[i]->status[0], RequestStatus::FinishedLength);
    EXPECT_EQ(sinks[i]->tokens[0], direct(*plan, c, request("x", {i % 11, 3}, 4 + i % 5))) << i;
  }
  EXPECT_GT(steps.load(), 0);
  EngineSnapshot s = engine.snapshot();
  EXPECT_EQ(s.running + s.waiting, 0u);
  EXPECT_EQ(s.usedKvBlocks, 0);
  EXPECT_EQ(s.totalKvBlocks, 256);
}

TEST(AsyncEngineTest, SinkStopsRejectionsAndAborts) {
  TempDir dir;
  auto plan = LoadedPlan::load(writePlan(planWithKv(), dir.path()).plan.string());
  EngineConfig c;
  c.kvCacheBlocks = 64;
  AsyncEngine engine(*plan, c);
  auto stopped = std::make_shared<CollectingSink>(2, 3);
  engine.submit(request("s", {1, 2}, 50), 2, stopped);
  stopped->wait();
  EXPECT_EQ(stopped->tokens[0].size(), 3u);
  EXPECT_EQ(stopped->status[0], RequestStatus::FinishedStopped);
  EXPECT_EQ(stopped->status[1], RequestStatus::FinishedLength);
  EXPECT_EQ(stopped->tokens[1].size(), 50u);

  auto bad = std::make_shared<CollectingSink>(1);
  engine.submit(request("bad", {99}, 5), 1, bad);
  bad->wait();
  EXPECT_NE(bad->rejected.find("vocabulary"), std::string::npos) << bad->rejected;

  // Held at its first token, the request cannot reach its length limit before the abort (on a
  // loaded machine the test's thread may otherwise run only after it has).
  auto aborted = std::make_shared<CollectingSink>(3);
  aborted->hold();
  engine.submit(request("a", {1, 2, 3}, 10000), 3, aborted);
  engine.abort("a");
  engine.abort("unknown");
  aborted->release();
  aborted->wait();
  for (RequestStatus st : aborted->status)
    EXPECT_EQ(st, RequestStatus::FinishedAborted);
}

TEST(AsyncEngineTest, OverloadAndStopWithRequestsInFlight) {
  TempDir dir;
  auto plan = LoadedPlan::load(writePlan(planWithKv(), dir.path()).plan.string());
  EngineConfig c;
  c.kvCacheBlocks = 64;
  AsyncEngineOptions o;
  o.maxPendingRequests = 2;
  auto engine = std::make_unique<AsyncEngine>(*plan, c, o);
  // "a" holds the engine's thread at its first token, so neither request can reach its length
  // limit (on a loaded machine the test's thread may otherwise run only after they have): "c"
  // finds two requests in flight, and stop() finds them still running. The hold is released
  // once stop() has had ample time to set its flag; the engine then aborts both.
  auto a = std::make_shared<CollectingSink>(1), b = std::make_shared<CollectingSink>(1);
  a->hold();
  EXPECT_TRUE(engine->submit(request("a", {1}, 100000), 1, a));
  EXPECT_TRUE(engine->submit(request("b", {2}, 100000), 1, b));
  EXPECT_FALSE(engine->submit(request("c", {3}, 5), 1, std::make_shared<CollectingSink>(1)));
  std::thread releaser([a] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    a->release();
  });
  engine->stop();
  releaser.join();
  EXPECT_EQ(a->status[0], RequestStatus::FinishedAborted);
  EXPECT_EQ(b->status[0], RequestStatus::FinishedAborted);
  EXPECT_TRUE(a->done && b->done);
  EXPECT_FALSE(engine->submit(request("d", {3}, 5), 1, std::make_shared<CollectingSink>(1)));
}

} // namespace
} // namespace llmrt::test
