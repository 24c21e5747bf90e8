// The scheduler: budgets, chunked prefill, decode-first order, preemption, priorities, aborts,
// stop conditions, fork. Requests come from factories; a fake executor stands in for the model.
#include "engine/Scheduler.h"
#include "support/Error.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <vector>

namespace llmrt {
namespace {

SchedulerConfig config(int numBlocks, int blockSize = 4, int budget = 64, int maxSeqs = 16,
                       SchedulingPolicy policy = SchedulingPolicy::Fcfs) {
  SchedulerConfig c;
  c.maxNumBatchedTokens = budget;
  c.maxNumSeqs = maxSeqs;
  c.policy = policy;
  c.kvCache.numBlocks = numBlocks;
  c.kvCache.blockSize = blockSize;
  return c;
}

std::vector<int32_t> iota(int n, int32_t first = 100) {
  std::vector<int32_t> v(n);
  std::iota(v.begin(), v.end(), first);
  return v;
}

Request request(std::string id, std::vector<int32_t> prompt, int maxTokens = 4, int priority = 0) {
  StopParams stop;
  stop.maxTokens = maxTokens;
  return Request(std::move(id), std::move(prompt), stop, {}, priority);
}

Request request(std::string id, int promptLen, int maxTokens = 4, int priority = 0) {
  return request(std::move(id), iota(promptLen), maxTokens, priority);
}

// A deterministic "model": the next token depends on the request's id and how many outputs it has,
// so a request produces the same tokens however it is batched, chunked or preempted.
int32_t fakeToken(const Request &r) {
  return int32_t(std::hash<std::string>{}(r.id) % 1000 + 7 * r.numOutputTokens()) % 500 + 1;
}

const ScheduledRequest *findIn(const SchedulerOutput &out, std::string_view id) {
  for (const ScheduledRequest &s : out.requests)
    if (s.id == id)
      return &s;
  return nullptr;
}

// Runs one step with fake tokens; returns the output for inspection.
SchedulerOutput step(Scheduler &s, std::vector<NewToken> *tokens = nullptr) {
  SchedulerOutput out = s.schedule();
  std::vector<int32_t> sampled;
  for (const ScheduledRequest &r : out.requests)
    if (r.needsLogits)
      sampled.push_back(fakeToken(*s.find(r.id)));
  std::vector<NewToken> t = s.update(out, sampled);
  if (tokens)
    *tokens = std::move(t);
  return out;
}

// Steps until nothing is left; returns the finished requests by id.
std::map<std::string, std::unique_ptr<Request>> runToCompletion(Scheduler &s, int maxSteps = 1000) {
  std::map<std::string, std::unique_ptr<Request>> done;
  for (int i = 0; i < maxSteps && s.hasUnfinished(); ++i) {
    step(s);
    for (auto &r : s.takeFinished())
      done[r->id] = std::move(r);
  }
  EXPECT_FALSE(s.hasUnfinished()) << "requests left after " << maxSteps << " steps";
  return done;
}

TEST(SchedulerTest, RefusesBadConfigs) {
  EXPECT_THROW(Scheduler(config(0)), llm::Error);
  EXPECT_THROW(Scheduler(config(8, 0)), llm::Error);
  EXPECT_THROW(Scheduler(config(8, 4, 0)), llm::Error);
  EXPECT_THROW(Scheduler(config(8, 4, 16, 0)), llm::Error);
  SchedulerConfig c = config(8);
  c.maxModelLen = -1;
  EXPECT_THROW((Scheduler(c)), llm::Error);
  c.maxModelLen = 1000; // capped at the KV capacity
  EXPECT_EQ(Scheduler(c).maxModelLen(), 32);
}

TEST(SchedulerTest, RefusesBadRequestsCleanly) {
  Scheduler s(config(8, 4)); // 32 positions
  EXPECT_THROW(s.addRequest(request("", 3)), llm::Error);
  EXPECT_THROW(s.addRequest(request("a", 0)), llm::Error);
  EXPECT_THROW(s.addRequest(request("a", 33)), llm::Error); // can never fit: refused, not queued
  EXPECT_THROW(s.addRequest(request("a", 3, 0)), llm::Error);
  EXPECT_THROW(s.addRequest(request("a", std::vector<int32_t>{1, -2})), llm::Error);
  Request minTokens = request("a", 3);
  minTokens.stop.minTokens = -1;
  EXPECT_THROW(s.addRequest(minTokens), llm::Error);
  EXPECT_EQ(s.numWaiting(), 0u);
  s.addRequest(request("a", 32)); // exactly the capacity: computes, samples one token
  EXPECT_THROW(s.addRequest(request("a", 3)), llm::Error); // duplicate id
  auto done = runToCompletion(s);
  EXPECT_EQ(done.at("a")->numOutputTokens(), 1);
  EXPECT_EQ(done.at("a")->status, RequestStatus::FinishedLength);
}

TEST(SchedulerTest, StatusOrderMakesFinishedOneComparison) {
  EXPECT_FALSE(isFinished(RequestStatus::Waiting));
  EXPECT_FALSE(isFinished(RequestStatus::Running));
  EXPECT_FALSE(isFinished(RequestStatus::Preempted));
  EXPECT_TRUE(isFinished(RequestStatus::FinishedStopped));
  EXPECT_TRUE(isFinished(RequestStatus::FinishedLength));
  EXPECT_TRUE(isFinished(RequestStatus::FinishedAborted));
}

TEST(SchedulerTest, PrefillThenDecodesUntilMaxTokens) {
  Scheduler s(config(16, 4));
  s.addRequest(request("a", 6, 3));
  SchedulerOutput out = s.schedule();
  ASSERT_EQ(out.requests.size(), 1u);
  const ScheduledRequest &r = out.requests[0];
  EXPECT_EQ(r.numTokens, 6);
  EXPECT_EQ(r.startPosition, 0);
  EXPECT_EQ(r.tokenIds, iota(6));
  EXPECT_EQ(r.positions, (std::vector<int32_t>{0, 1, 2, 3, 4, 5}));
  ASSERT_EQ(r.blockTable.size(), 2u);
  for (int p = 0; p < 6; ++p)
    EXPECT_EQ(r.slotMapping[p], int64_t(r.blockTable[p / 4]) * 4 + p % 4);
  EXPECT_TRUE(r.needsLogits);
  EXPECT_EQ(out.totalTokens, 6);
  EXPECT_THROW(s.schedule(), llm::Error);      // update() first
  EXPECT_THROW(s.update(out, {}), llm::Error); // one token is needed
  std::vector<NewToken> t = s.update(out, std::vector<int32_t>{42});
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].token, 42);
  EXPECT_EQ(t[0].status, RequestStatus::Running);
  EXPECT_THROW(s.update(out, std::vector<int32_t>{42}), llm::Error); // not twice

  out = s.schedule(); // decode: the sampled token at position 6
  ASSERT_EQ(out.requests.size(), 1u);
  EXPECT_EQ(out.requests[0].numTokens, 1);
  EXPECT_EQ(out.requests[0].tokenIds, std::vector<int32_t>{42});
  EXPECT_EQ(out.requests[0].positions, std::vector<int32_t>{6});
  EXPECT_TRUE(out.requests[0].needsLogits);
  s.update(out, std::vector<int32_t>{43});
  out = s.schedule();
  t = s.update(out, std::vector<int32_t>{44});
  EXPECT_EQ(t[0].status, RequestStatus::FinishedLength);
  EXPECT_EQ(s.kvCache().numUsedBlocks(), 0);
  out = s.schedule();
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(out.finishedIds, std::vector<std::string>{"a"});
  s.update(out, {});                             // accepted, and not needed: an empty step
  EXPECT_TRUE(s.schedule().finishedIds.empty()); // reported once
  auto finished = s.takeFinished();
  ASSERT_EQ(finished.size(), 1u);
  EXPECT_EQ(
      std::vector<int32_t>(finished[0]->outputTokens().begin(), finished[0]->outputTokens().end()),
      (std::vector<int32_t>{42, 43, 44}));
}

TEST(SchedulerTest, LongPromptIsChunkedWhileOthersDecode) {
  Scheduler s(config(64, 4, /*budget=*/16));
  s.addRequest(request("a", 5, 20));
  step(s); // a's prefill
  s.addRequest(request("b", iota(50, 1000), 2));
  std::vector<int> chunks;
  int expectedStart = 0;
  for (int i = 0; i < 10; ++i) {
    SchedulerOutput out = step(s);
    EXPECT_LE(out.totalTokens, 16);
    // a decodes first, every step; b gets what is left.
    ASSERT_GE(out.requests.size(), 1u);
    EXPECT_EQ(out.requests[0].id, "a");
    EXPECT_EQ(out.requests[0].numTokens, 1);
    const ScheduledRequest *b = findIn(out, "b");
    if (!b)
      break;
    EXPECT_EQ(b->startPosition, expectedStart);
    expectedStart += b->numTokens;
    chunks.push_back(b->numTokens);
    EXPECT_EQ(b->needsLogits, expectedStart == 50);
    if (b->needsLogits)
      break;
  }
  EXPECT_EQ(chunks, (std::vector<int>{15, 15, 15, 5}));
}

TEST(SchedulerTest, RunningRequestsComeFirstThenAdmissionsInArrivalOrder) {
  Scheduler s(config(64, 4, 100));
  s.addRequest(request("a", 3, 10));
  s.addRequest(request("b", 3, 10));
  step(s);
  s.addRequest(request("c", 3, 10));
  s.addRequest(request("d", 3, 10));
  SchedulerOutput out = step(s);
  std::vector<std::string> ids;
  for (auto &r : out.requests)
    ids.push_back(r.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_EQ(out.requests[0].numTokens, 1);
  EXPECT_EQ(out.requests[2].numTokens, 3);
}

TEST(SchedulerTest, SequenceCapLimitsRunningRequests) {
  Scheduler s(config(64, 4, 100, /*maxSeqs=*/2));
  for (std::string id : {"a", "b", "c", "d", "e"})
    s.addRequest(request(id, 3, 3));
  SchedulerOutput out = step(s);
  EXPECT_EQ(out.requests.size(), 2u);
  EXPECT_EQ(s.numRunning(), 2u);
  EXPECT_EQ(s.numWaiting(), 3u);
  auto done = runToCompletion(s);
  EXPECT_EQ(done.size(), 5u);
}

TEST(SchedulerTest, TokenBudgetOfOneStillProgresses) {
  Scheduler s(config(16, 4, /*budget=*/1));
  s.addRequest(request("a", 5, 2));
  s.addRequest(request("b", 2, 2));
  auto done = runToCompletion(s);
  EXPECT_EQ(done.size(), 2u);
  EXPECT_EQ(done.at("a")->numOutputTokens(), 2);
}

TEST(SchedulerTest, PreemptsTheLatestArrivalWhichLaterResumesAndFinishes) {
  // 6 blocks of 4. a, b, c each take 2 blocks for their 6-token prompts; decoding past position 7
  // needs a third block each, which the pool does not have.
  Scheduler s(config(6, 4, 64));
  for (std::string id : {"a", "b", "c"})
    s.addRequest(request(id, 6, 6));
  step(s);
  step(s); // position 6
  step(s); // position 7
  EXPECT_EQ(s.kvCache().numUsedBlocks(), 6);
  SchedulerOutput out = step(s); // a needs a block: c (latest) is preempted; b gets the other
  EXPECT_EQ(out.preemptedIds, (std::vector<std::string>{"c"}));
  ASSERT_EQ(out.requests.size(), 2u);
  EXPECT_EQ(out.requests[0].id, "a");
  EXPECT_EQ(out.requests[1].id, "b");
  EXPECT_EQ(s.numPreemptions(), 1u);
  const Request *c = s.find("c");
  EXPECT_EQ(c->status, RequestStatus::Preempted);
  EXPECT_EQ(c->numComputedTokens, 0);
  EXPECT_TRUE(c->blockTable.empty());
  EXPECT_EQ(c->numPreemptions, 1);

  // Everything still finishes, with the tokens an unpreempted run gives.
  auto done = runToCompletion(s);
  Scheduler roomy(config(64, 4, 64));
  for (std::string id : {"a", "b", "c"})
    roomy.addRequest(request(id, 6, 6));
  auto reference = runToCompletion(roomy);
  ASSERT_EQ(done.size(), 3u);
  for (auto &[id, r] : done) {
    EXPECT_EQ(r->status, RequestStatus::FinishedLength) << id;
    EXPECT_EQ(r->numOutputTokens(), 6) << id;
    EXPECT_EQ(r->tokens, reference.at(id)->tokens) << id;
  }
  EXPECT_EQ(s.kvCache().numUsedBlocks(), 0);
}

TEST(SchedulerTest, PreemptedRequestGoesToTheFrontOfTheWaitingQueue) {
  Scheduler s(config(4, 4, 64, 16));
  s.addRequest(request("a", 3, 3));
  s.addRequest(request("b", 3, 3)); // a and b: 1 block each, 2 once they decode past position 3
  step(s);
  s.addRequest(request("c", 8, 2)); // 2 blocks: admitted, the pool is full
  step(s);
  s.addRequest(request("d", 2, 2)); // no room
  // a needs a second block: c (the latest) is preempted, and waits before d.
  SchedulerOutput out = step(s);
  EXPECT_EQ(out.preemptedIds, std::vector<std::string>{"c"});
  EXPECT_EQ(findIn(out, "d"), nullptr); // no admissions in a step that preempted
  EXPECT_EQ(s.find("c")->status, RequestStatus::Preempted);
  // a and b finished in that step; c is admitted before d.
  out = step(s);
  std::vector<std::string> ids;
  for (auto &r : out.requests)
    ids.push_back(r.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"c", "d"}));
  EXPECT_EQ(findIn(out, "c")->seqLen(), 9); // its prompt and its first output, recomputed
  auto done = runToCompletion(s);
  EXPECT_EQ(done.at("c")->numOutputTokens(), 2);
}

TEST(SchedulerTest, RequestThatIsLastPreemptsItself) {
  // a holds 3 blocks, b 1; b (the latest) needs a new block: it preempts itself, a goes on.
  Scheduler s(config(4, 4, 64));
  s.addRequest(request("a", 12, 8));
  s.addRequest(request("b", 4, 8));
  step(s);
  SchedulerOutput out = s.schedule();
  EXPECT_EQ(out.preemptedIds, std::vector<std::string>{"b"});
  ASSERT_EQ(out.requests.size(), 1u);
  EXPECT_EQ(out.requests[0].id, "a");
  s.update(out, std::vector<int32_t>{5});
  EXPECT_EQ(s.find("b")->status, RequestStatus::Preempted);
  auto done = runToCompletion(s);
  EXPECT_EQ(done.at("b")->numOutputTokens(), 8);
}

TEST(SchedulerTest, PriorityPolicyAdmitsByPriorityAndPreemptsTheLowest) {
  Scheduler s(config(6, 4, 64, 16, SchedulingPolicy::Priority));
  s.addRequest(request("low", 6, 6, /*priority=*/5));
  s.addRequest(request("high", 6, 6, 0));
  s.addRequest(request("mid", 6, 6, 2));
  SchedulerOutput out = step(s);
  std::vector<std::string> ids;
  for (auto &r : out.requests)
    ids.push_back(r.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"high", "mid", "low"}));
  step(s);
  step(s);
  out = step(s); // every one needs a third block: "low" goes first although it arrived first
  ASSERT_FALSE(out.preemptedIds.empty());
  EXPECT_EQ(out.preemptedIds[0], "low");
  EXPECT_EQ(out.requests[0].id, "high");
  auto done = runToCompletion(s);
  for (auto &[id, r] : done)
    EXPECT_EQ(r->numOutputTokens(), 6) << id;
}

TEST(SchedulerTest, FcfsIgnoresPriorities) {
  Scheduler s(config(16, 4, 64));
  s.addRequest(request("first", 3, 2, 9));
  s.addRequest(request("second", 3, 2, 0));
  SchedulerOutput out = step(s);
  EXPECT_EQ(out.requests[0].id, "first");
}

TEST(SchedulerTest, AbortReturnsBlocksAtOnce) {
  Scheduler s(config(16, 4, 64, 1));
  s.addRequest(request("run", 10, 50));
  s.addRequest(request("wait", 10, 50));
  step(s);
  EXPECT_EQ(s.kvCache().numUsedBlocks(), 3);
  EXPECT_TRUE(s.abort("wait"));
  EXPECT_EQ(s.numWaiting(), 0u);
  EXPECT_TRUE(s.abort("run"));
  EXPECT_EQ(s.kvCache().numUsedBlocks(), 0);
  EXPECT_FALSE(s.abort("run"));
  EXPECT_FALSE(s.hasUnfinished());
  SchedulerOutput out = s.schedule();
  EXPECT_EQ(out.finishedIds, (std::vector<std::string>{"wait", "run"}));
  auto finished = s.takeFinished();
  ASSERT_EQ(finished.size(), 2u);
  EXPECT_EQ(finished[0]->status, RequestStatus::FinishedAborted);
}

TEST(SchedulerTest, AbortBetweenScheduleAndUpdateIsSkipped) {
  Scheduler s(config(16, 4, 64));
  s.addRequest(request("a", 3, 5));
  s.addRequest(request("b", 3, 5));
  SchedulerOutput out = s.schedule();
  EXPECT_TRUE(s.abort("a"));
  s.addRequest(request("a", 4, 5)); // the id again: a new request, not scheduled in `out`
  std::vector<NewToken> t = s.update(out, std::vector<int32_t>{1, 2});
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].id, "b");
  EXPECT_EQ(t[0].token, 2);
  EXPECT_EQ(s.find("a")->numComputedTokens, 0);
  EXPECT_EQ(s.find("a")->status, RequestStatus::Waiting);
}

TEST(SchedulerTest, StopConditions) {
  auto finishWith = [](StopParams stop, std::vector<int32_t> tokens) {
    Scheduler s(config(16, 4, 64));
    s.addRequest(Request("r", iota(3), stop));
    std::vector<NewToken> t;
    for (int32_t token : tokens) {
      SchedulerOutput out = s.schedule();
      t = s.update(out, std::vector<int32_t>{token});
      if (isFinished(t[0].status))
        break;
    }
    auto finished = s.takeFinished();
    EXPECT_EQ(finished.size(), 1u);
    EXPECT_EQ(s.kvCache().numUsedBlocks(), 0);
    return std::pair(t[0].status, finished.empty() ? 0 : finished[0]->numOutputTokens());
  };
  StopParams stop;
  stop.maxTokens = 10;
  stop.eosTokenIds = {2};
  stop.stopTokenIds = {7};
  using S = RequestStatus;
  EXPECT_EQ(finishWith(stop, {5, 5, 2, 5}), std::pair(S::FinishedStopped, 3));
  EXPECT_EQ(finishWith(stop, {5, 7, 5}), std::pair(S::FinishedStopped, 2));
  StopParams ignore = stop;
  ignore.ignoreEos = true;
  EXPECT_EQ(finishWith(ignore, {2, 2, 7}), std::pair(S::FinishedStopped, 3)); // stop ids still stop
  ignore.maxTokens = 3;
  EXPECT_EQ(finishWith(ignore, {2, 2, 2, 2}), std::pair(S::FinishedLength, 3));
  StopParams minTokens = stop;
  minTokens.minTokens = 2;
  EXPECT_EQ(finishWith(minTokens, {2, 2, 5}), std::pair(S::FinishedStopped, 2));
  StopParams len = stop;
  len.maxTokens = 2;
  EXPECT_EQ(finishWith(len, {5, 5, 5}), std::pair(S::FinishedLength, 2));
  EXPECT_EQ(finishWith(len, {5, 2}), std::pair(S::FinishedStopped, 2)); // the reason is the stop
}

TEST(SchedulerTest, MaxModelLenFinishesByLength) {
  SchedulerConfig c = config(16, 4, 64);
  c.maxModelLen = 6;
  Scheduler s(c);
  s.addRequest(request("a", 4, 100));
  auto done = runToCompletion(s);
  EXPECT_EQ(done.at("a")->numTokens(), 6);
  EXPECT_EQ(done.at("a")->status, RequestStatus::FinishedLength);
  EXPECT_THROW(s.addRequest(request("b", 7)), llm::Error);
}

TEST(SchedulerTest, FinishHookForStopStrings) {
  Scheduler s(config(16, 4, 64));
  s.addRequest(request("a", 3, 100));
  step(s);
  EXPECT_THROW(s.finish("a", RequestStatus::Running), llm::Error);
  EXPECT_TRUE(s.finish("a", RequestStatus::FinishedStopped));
  EXPECT_EQ(s.kvCache().numUsedBlocks(), 0);
  auto finished = s.takeFinished();
  ASSERT_EQ(finished.size(), 1u);
  EXPECT_EQ(finished[0]->status, RequestStatus::FinishedStopped);
}

TEST(SchedulerTest, AdmissionCountsCachedPrefixAsComputed) {
  Scheduler s(config(32, 4, 64));
  s.addRequest(request("a", 10, 1));
  runToCompletion(s);
  s.addRequest(request("b", 10, 1)); // same prompt: 2 full blocks cached, the last token not
  SchedulerOutput out = step(s);
  ASSERT_EQ(out.requests.size(), 1u);
  EXPECT_EQ(out.requests[0].startPosition, 8);
  EXPECT_EQ(out.requests[0].numTokens, 2);
  EXPECT_TRUE(out.requests[0].needsLogits);
  EXPECT_EQ(s.kvCache().prefixQueryTokens(), 20u);
  EXPECT_EQ(s.kvCache().prefixHitTokens(), 8u);
}

TEST(SchedulerTest, ForkSharesThePromptAndCopiesTheTailOnWrite) {
  Scheduler s(config(32, 4, 64));
  s.addRequest(request("p", 10, 3)); // blocks: full, full, 2 of 4
  SchedulerOutput out = s.schedule();
  ASSERT_TRUE(out.requests[0].needsLogits);
  NewToken c1 = s.fork("p", "p.1", 501);
  NewToken c2 = s.fork("p", "p.2", 502);
  EXPECT_EQ(c1.status, RequestStatus::Running);
  EXPECT_THROW(s.fork("p", "p.1", 5), llm::Error); // id in use
  EXPECT_EQ(s.kvCache().numUsedBlocks(), 3);       // shared, not copied
  s.update(out, std::vector<int32_t>{500});
  EXPECT_THROW(s.fork("p", "p.3", 5), llm::Error); // outside the window

  out = s.schedule(); // all three decode into the shared tail block
  ASSERT_EQ(out.requests.size(), 3u);
  EXPECT_EQ(out.requests[0].id, "p");
  EXPECT_EQ(out.copies.size(), 2u); // the first two writers copy; the last keeps the block
  std::set<BlockId> tails;
  for (auto &r : out.requests) {
    EXPECT_EQ(r.startPosition, 10);
    EXPECT_EQ(r.blockTable[0], out.requests[0].blockTable[0]);
    tails.insert(r.blockTable[2]);
  }
  EXPECT_EQ(tails.size(), 3u);
  EXPECT_EQ(findIn(out, "p.1")->tokenIds, std::vector<int32_t>{501});
  EXPECT_EQ(findIn(out, "p.2")->tokenIds, std::vector<int32_t>{502});
  s.update(out, std::vector<int32_t>{1, 2, 3});
  auto done = runToCompletion(s);
  EXPECT_EQ(done.size(), 3u);
  for (auto &[id, r] : done)
    EXPECT_EQ(r->numOutputTokens(), 3) << id;
  EXPECT_EQ(s.kvCache().numUsedBlocks(), 0);
}

TEST(SchedulerTest, ForkBeyondTheSequenceCapWaits) {
  Scheduler s(config(32, 4, 64, /*maxSeqs=*/1));
  s.addRequest(request("p", 10, 2));
  SchedulerOutput out = s.schedule();
  NewToken c = s.fork("p", "c", 7);
  EXPECT_EQ(c.status, RequestStatus::Running);
  EXPECT_EQ(s.find("c")->status, RequestStatus::Preempted);
  EXPECT_TRUE(s.find("c")->blockTable.empty());
  s.update(out, std::vector<int32_t>{6});
  auto done = runToCompletion(s);
  EXPECT_EQ(done.at("c")->numOutputTokens(), 2);
  EXPECT_EQ(done.at("c")->outputTokens()[0], 7);
  EXPECT_GE(s.kvCache().prefixHitTokens(), 8u); // c reused p's full blocks
}

TEST(SchedulerTest, ForkWhoseTokenStopsFinishesAtOnce) {
  Scheduler s(config(32, 4, 64));
  StopParams stop;
  stop.maxTokens = 5;
  stop.eosTokenIds = {2};
  s.addRequest(Request("p", iota(6), stop));
  SchedulerOutput out = s.schedule();
  NewToken c = s.fork("p", "c", 2);
  EXPECT_EQ(c.status, RequestStatus::FinishedStopped);
  s.update(out, std::vector<int32_t>{2}); // the parent stops too
  EXPECT_EQ(s.kvCache().numUsedBlocks(), 0);
  EXPECT_EQ(s.takeFinished().size(), 2u);
}

// ---------------------------------------------------------------------------------------------
// Randomized: arrivals with shared prefixes, aborts, forks, random stops, a small pool; a fake
// executor writes a per-prefix identity into every slot it computes and checks that every
// scheduled request reads its whole context back from its block table.

uint64_t identity(const std::vector<int32_t> &tokens, int pos) {
  uint64_t h = 1469598103934665603ull;
  for (int i = 0; i <= pos; ++i)
    h = (h ^ uint64_t(tokens[i])) * 1099511628211ull;
  return h;
}

struct RandomCase {
  int blockSize, numBlocks, budget, maxSeqs;
  SchedulingPolicy policy;
  uint32_t seed;
};

class RandomSchedulerTest : public ::testing::TestWithParam<RandomCase> {};

TEST_P(RandomSchedulerTest, EveryStepIsConsistent) {
  const RandomCase p = GetParam();
  SchedulerConfig c = config(p.numBlocks, p.blockSize, p.budget, p.maxSeqs, p.policy);
  Scheduler s(c);
  std::mt19937 rng(p.seed);
  std::vector<uint64_t> kv(size_t(p.numBlocks) * p.blockSize, 0);
  std::vector<std::vector<int32_t>> bases;
  for (int i = 0; i < 3; ++i) {
    std::vector<int32_t> b(3 * p.blockSize + 1);
    for (auto &t : b)
      t = rng() % 4;
    bases.push_back(b);
  }
  std::set<std::string> added, finishedIds;
  std::map<std::string, int> maxTokens;
  int nextId = 0, forks = 0, copies = 0, steps = 0;
  const int capacity = p.numBlocks * p.blockSize;
  for (int stepNo = 0; stepNo < 1500; ++stepNo) {
    // Arrivals.
    if (stepNo < 1200 && rng() % 3 == 0) {
      std::vector<int32_t> prompt;
      if (rng() % 3) {
        const auto &b = bases[rng() % 3];
        prompt.assign(b.begin(), b.begin() + rng() % b.size());
      }
      for (int n = 1 + rng() % (2 * p.blockSize); n > 0; --n)
        prompt.push_back(rng() % 4);
      prompt.resize(std::min<size_t>(prompt.size(), capacity / 2));
      StopParams stop;
      stop.maxTokens = 1 + rng() % 12;
      stop.eosTokenIds = {3};
      stop.ignoreEos = rng() % 2;
      Request r(fmt::format("r{}", nextId++), prompt, stop, {}, int(rng() % 3));
      maxTokens[r.id] = stop.maxTokens;
      added.insert(r.id);
      s.addRequest(std::move(r));
    }
    // Aborts.
    if (rng() % 20 == 0 && !added.empty()) {
      std::string id = fmt::format("r{}", rng() % nextId);
      s.abort(id);
    }

    SchedulerOutput out = s.schedule();
    ASSERT_LE(out.totalTokens, p.budget);
    ASSERT_LE(s.numRunning(), size_t(p.maxSeqs));
    ASSERT_EQ(s.kvCache().pool().checkInvariants(), "");
    ASSERT_EQ(s.kvCache().numUsedBlocks() + s.kvCache().numFreeBlocks(), p.numBlocks);
    ASSERT_TRUE(!s.hasUnfinished() || !out.empty() || s.numRunning() == 0)
        << "step " << stepNo << ": running requests but nothing scheduled";
    int total = 0;
    // The fake executor: copies first, then K/V writes, then attention reads the whole context.
    copies += int(out.copies.size());
    ++steps;
    for (const BlockCopy &cp : out.copies)
      std::copy_n(kv.begin() + int64_t(cp.src) * p.blockSize, p.blockSize,
                  kv.begin() + int64_t(cp.dst) * p.blockSize);
    std::vector<int32_t> sampled;
    for (const ScheduledRequest &r : out.requests) {
      const Request *req = s.find(r.id);
      ASSERT_NE(req, nullptr);
      ASSERT_GE(r.numTokens, 1);
      total += r.numTokens;
      ASSERT_EQ(req->numComputedTokens, r.seqLen());
      ASSERT_EQ(r.needsLogits, r.seqLen() == req->numTokens());
      ASSERT_EQ(r.blockTable, req->blockTable);
      ASSERT_EQ(int(r.blockTable.size()), (r.seqLen() + p.blockSize - 1) / p.blockSize);
      for (int i = 0; i < r.numTokens; ++i) {
        int pos = r.startPosition + i;
        ASSERT_EQ(r.positions[i], pos);
        ASSERT_EQ(r.tokenIds[i], req->tokens[pos]);
        ASSERT_EQ(r.slotMapping[i],
                  int64_t(r.blockTable[pos / p.blockSize]) * p.blockSize + pos % p.blockSize);
        kv[r.slotMapping[i]] = identity(req->tokens, pos);
      }
      if (r.needsLogits)
        sampled.push_back(rng() % 2 ? fakeToken(*req) : int32_t(rng() % 4));
    }
    for (const ScheduledRequest &r : out.requests) {
      const Request *req = s.find(r.id);
      for (int pos = 0; pos < r.seqLen(); ++pos)
        ASSERT_EQ(kv[int64_t(r.blockTable[pos / p.blockSize]) * p.blockSize + pos % p.blockSize],
                  identity(req->tokens, pos))
            << "step " << stepNo << " request " << r.id << " position " << pos;
    }
    ASSERT_EQ(total, out.totalTokens);

    // n > 1: fork some requests whose logits this step yields.
    for (const ScheduledRequest &r : out.requests)
      if (r.needsLogits && rng() % 10 == 0) {
        std::string child = fmt::format("r{}", nextId++);
        NewToken t = s.fork(r.id, child, rng() % 4);
        maxTokens[child] = maxTokens[r.id];
        added.insert(child);
        ++forks;
      }
    s.update(out, sampled);
    // Reference counts equal the number of block tables holding each block.
    std::vector<int> refs(p.numBlocks, 0);
    for (const std::string &id : added)
      if (const Request *r = s.find(id))
        for (BlockId b : r->blockTable)
          ++refs[b];
    for (BlockId b = 0; b < p.numBlocks; ++b)
      ASSERT_EQ(s.kvCache().pool().refCount(b), refs[b]) << "block " << b << " step " << stepNo;
    for (auto &r : s.takeFinished()) {
      ASSERT_TRUE(finishedIds.insert(r->id).second) << r->id << " finished twice";
      ASSERT_TRUE(r->blockTable.empty());
      ASSERT_LE(r->numOutputTokens(), maxTokens[r->id]);
      if (r->status == RequestStatus::FinishedLength) {
        ASSERT_TRUE(r->numOutputTokens() == maxTokens[r->id] || r->numTokens() == capacity);
      }
    }
    if (stepNo >= 1200 && !s.hasUnfinished())
      break;
  }
  EXPECT_FALSE(s.hasUnfinished());
  EXPECT_EQ(finishedIds, added); // nothing lost
  EXPECT_EQ(s.kvCache().numUsedBlocks(), 0);
  EXPECT_GT(s.numPreemptions(), 0u);
  EXPECT_GT(s.kvCache().prefixHitTokens(), 0u);
  EXPECT_GT(forks, 0);
  EXPECT_GT(copies, 0);
  fmt::print("{} requests ({} forks), {} steps, {} preemptions, {} of {} prompt tokens cached, {} "
             "copies, {} evictions\n",
             added.size(), forks, steps, s.numPreemptions(), s.kvCache().prefixHitTokens(),
             s.kvCache().prefixQueryTokens(), copies, s.kvCache().numEvictions());
}

INSTANTIATE_TEST_SUITE_P(Cases, RandomSchedulerTest,
                         ::testing::Values(RandomCase{4, 24, 32, 8, SchedulingPolicy::Fcfs, 1},
                                           RandomCase{4, 24, 32, 8, SchedulingPolicy::Priority, 2},
                                           RandomCase{8, 12, 16, 4, SchedulingPolicy::Fcfs, 3},
                                           RandomCase{16, 8, 64, 6, SchedulingPolicy::Priority, 4},
                                           RandomCase{3, 20, 7, 16, SchedulingPolicy::Fcfs, 5},
                                           RandomCase{32, 6, 48, 3, SchedulingPolicy::Fcfs, 6}));

} // namespace
} // namespace llmrt
