// The CPU kernels' thread pool: every index runs exactly once whatever the team size, loops nest
// and overlap safely (serially), exceptions reach the caller, sleeping workers wake up, and a
// worker that does not show up never holds the caller.
#include "support/ThreadPool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <tuple>
#include <vector>

namespace llmrt {
namespace {

using namespace std::chrono_literals;

// Counts how often each index of [0, n) runs.
std::vector<int> coverage(ThreadPool &pool, int64_t n, bool parallel = true) {
  std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
  pool.parallelFor(
      n,
      [&](int64_t begin, int64_t end) {
        EXPECT_LE(0, begin);
        EXPECT_LT(begin, end);
        EXPECT_LE(end, n);
        for (int64_t i = begin; i < end; ++i)
          hits[i].fetch_add(1);
      },
      parallel);
  std::vector<int> counts;
  for (auto &h : hits)
    counts.push_back(h.load());
  return counts;
}

TEST(ThreadPoolTest, EveryIndexRunsOnceForAnyTeamAndSize) {
  for (int threads : {1, 2, 3, 5, 8}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.threads(), threads);
    for (int64_t n : {0, 1, 2, 3, 7, 8, 9, 31, 32, 33, 1000, 4097})
      for (int repeat = 0; repeat < 3; ++repeat)
        ASSERT_EQ(coverage(pool, n), std::vector<int>(n, 1)) << threads << " threads, n " << n;
  }
}

// A loop is cut into pieces of at most a sixteenth of a thread's share, or of maxChunk indices
// when that is smaller, and the pieces cover every index once.
TEST(ThreadPoolTest, PiecesAreBoundedBySharesAndMaxChunk) {
  ThreadPool pool(2);
  for (auto [n, cap, most] : {std::tuple<int64_t, int64_t, int64_t>{1600, 0, 50},
                              {1600, 7, 7},
                              {1600, 1000, 50},
                              {9, 0, 1},
                              {9, 3, 1}}) {
    std::vector<std::atomic<int>> hits(n);
    std::mutex m;
    std::vector<int64_t> sizes;
    pool.parallelFor(
        n,
        [&](int64_t begin, int64_t end) {
          std::lock_guard lock(m);
          sizes.push_back(end - begin);
          for (int64_t i = begin; i < end; ++i)
            hits[i].fetch_add(1);
        },
        true, cap);
    for (auto &h : hits)
      ASSERT_EQ(h.load(), 1) << "n " << n << " cap " << cap;
    for (int64_t size : sizes)
      EXPECT_LE(size, most) << "n " << n << " cap " << cap;
  }
}

TEST(ThreadPoolTest, SerialWhenAskedRunsOneRangeOnTheCaller) {
  ThreadPool pool(4);
  std::vector<std::pair<int64_t, int64_t>> ranges;
  std::thread::id caller = std::this_thread::get_id(), ran;
  pool.parallelFor(
      100,
      [&](int64_t b, int64_t e) {
        ranges.emplace_back(b, e);
        ran = std::this_thread::get_id();
      },
      false);
  ASSERT_EQ(ranges.size(), 1u);
  EXPECT_EQ(ranges[0], std::make_pair(int64_t{0}, int64_t{100}));
  EXPECT_EQ(ran, caller);
}

// With more than one thread, the workers take part: a chunk waits (bounded) until a chunk runs
// on another thread at the same time.
TEST(ThreadPoolTest, WorkersTakePart) {
  ThreadPool pool(3);
  std::mutex m;
  std::set<std::thread::id> ids;
  std::atomic<int> running{0}, maxRunning{0};
  pool.parallelFor(64, [&](int64_t, int64_t) {
    int now = running.fetch_add(1) + 1;
    int seen = maxRunning.load();
    while (now > seen && !maxRunning.compare_exchange_weak(seen, now)) {
    }
    {
      std::lock_guard lock(m);
      ids.insert(std::this_thread::get_id());
    }
    auto until = std::chrono::steady_clock::now() + 2s;
    while (maxRunning.load() < 2 && std::chrono::steady_clock::now() < until)
      std::this_thread::yield();
    running.fetch_sub(1);
  });
  EXPECT_GE(maxRunning.load(), 2);
  EXPECT_GE(ids.size(), 2u);
}

TEST(ThreadPoolTest, NestedLoopsRunSeriallyInsideAChunk) {
  ThreadPool pool(3);
  std::vector<std::atomic<int>> hits(50 * 20);
  pool.parallelFor(50, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      pool.parallelFor(20, [&](int64_t b2, int64_t e2) {
        EXPECT_EQ(b2, 0); // serial: one range
        EXPECT_EQ(e2, 20);
        for (int64_t j = b2; j < e2; ++j)
          hits[i * 20 + j].fetch_add(1);
      });
  });
  for (auto &h : hits)
    ASSERT_EQ(h.load(), 1);
}

// Two threads sharing one pool (e.g. two engines in one process): both loops complete, the one
// that finds the pool busy runs on its own thread.
TEST(ThreadPoolTest, ConcurrentCallersBothComplete) {
  ThreadPool pool(3);
  auto work = [&](int seed) {
    for (int round = 0; round < 200; ++round) {
      int64_t n = 1 + (seed * 31 + round * 17) % 300;
      ASSERT_EQ(coverage(pool, n), std::vector<int>(n, 1));
    }
  };
  std::thread a(work, 1), b(work, 2);
  a.join();
  b.join();
}

TEST(ThreadPoolTest, ExceptionReachesTheCallerAndThePoolStaysUsable) {
  ThreadPool pool(3);
  std::atomic<int> ran{0};
  EXPECT_THROW(pool.parallelFor(40,
                                [&](int64_t b, int64_t e) {
                                  ran.fetch_add(static_cast<int>(e - b));
                                  if (b <= 13 && 13 < e)
                                    throw std::runtime_error("chunk with 13");
                                }),
               std::runtime_error);
  EXPECT_EQ(ran.load(), 40); // the other chunks still ran
  EXPECT_EQ(coverage(pool, 100), std::vector<int>(100, 1));
}

// Idle workers go to sleep after polling briefly; the next loop wakes them.
TEST(ThreadPoolTest, SleepingWorkersWakeForTheNextLoop) {
  ThreadPool pool(3);
  for (int round = 0; round < 3; ++round) {
    std::this_thread::sleep_for(20ms);
    std::atomic<int> running{0}, maxRunning{0};
    pool.parallelFor(16, [&](int64_t, int64_t) {
      int now = running.fetch_add(1) + 1;
      int seen = maxRunning.load();
      while (now > seen && !maxRunning.compare_exchange_weak(seen, now)) {
      }
      auto until = std::chrono::steady_clock::now() + 2s;
      while (maxRunning.load() < 2 && std::chrono::steady_clock::now() < until)
        std::this_thread::yield();
      running.fetch_sub(1);
    });
    EXPECT_GE(maxRunning.load(), 2) << "round " << round;
  }
}

// A team far larger than the machine's cores: at any moment most workers are descheduled or
// asleep; the caller takes the chunks of those that do not show up, and every loop completes.
TEST(ThreadPoolTest, ManyShortLoopsWithAnOversizedTeam) {
  ThreadPool pool(16);
  int64_t total = 0;
  for (int round = 0; round < 2000; ++round) {
    std::atomic<int64_t> sum{0};
    pool.parallelFor(64, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i)
        sum.fetch_add(i);
    });
    total += sum.load();
  }
  EXPECT_EQ(total, 2000 * (63 * 64 / 2));
}

TEST(ThreadPoolTest, ResizingKeepsLoopsCorrect) {
  ThreadPool pool(2);
  for (int threads : {4, 1, 3, 0, 2}) {
    pool.setThreads(threads);
    EXPECT_EQ(pool.threads(), threads > 0 ? threads : ThreadPool::defaultThreads());
    ASSERT_EQ(coverage(pool, 333), std::vector<int>(333, 1));
  }
}

} // namespace
} // namespace llmrt
