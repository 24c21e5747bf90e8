#include "support/ThreadPool.h"

#include <sched.h>

#include <immintrin.h>

#include <algorithm>
#include <chrono>

namespace llmrt {

namespace {

// Chunks per thread: enough that a thread which falls behind leaves its share to the others,
// few enough that claiming a chunk (one atomic increment) stays negligible.
constexpr int64_t kChunksPerThread = 4;
// How long an idle worker polls for the next loop before it sleeps. Loops of one decode step
// arrive microseconds apart; between steps the engine samples and schedules (well under this).
constexpr std::chrono::microseconds kSpinTime{2000};

// Set while this thread runs a chunk: a parallelFor from inside a chunk runs serially.
thread_local bool tInLoop = false;

struct InLoop {
  InLoop() { tInLoop = true; }
  ~InLoop() { tInLoop = false; }
};

} // namespace

ThreadPool &ThreadPool::global() {
  static ThreadPool pool(0);
  return pool;
}

int ThreadPool::defaultThreads() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
    return CPU_COUNT(&set);
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

ThreadPool::ThreadPool(int threads) { startWorkers(threads > 0 ? threads : defaultThreads()); }

ThreadPool::~ThreadPool() { stopWorkers(); }

void ThreadPool::setThreads(int threads) {
  if (threads <= 0)
    threads = defaultThreads();
  std::lock_guard lock(dispatch_);
  if (threads == threads_)
    return;
  stopWorkers();
  startWorkers(threads);
}

void ThreadPool::startWorkers(int threads) {
  threads_ = threads;
  workers_.reserve(threads - 1);
  // The state as the pool knows it now: a worker whose thread starts late still joins a loop
  // opened meanwhile (it sees the state move on from this value).
  const uint32_t state = state_.load();
  for (int i = 1; i < threads; ++i)
    workers_.emplace_back([this, state] { workerLoop(state); });
}

void ThreadPool::stopWorkers() {
  stop_.store(true);
  state_.fetch_add(2); // a new closed epoch: wakes every worker without opening a loop
  state_.notify_all();
  for (std::thread &t : workers_)
    t.join();
  workers_.clear();
  stop_.store(false);
  threads_ = 1;
}

void ThreadPool::workerLoop(uint32_t seen) {
  for (;;) {
    // Wait for the state to move on: poll, then sleep.
    uint32_t s = state_.load();
    auto spinStart = std::chrono::steady_clock::now();
    for (int i = 1; s == seen && !stop_.load(std::memory_order_relaxed); ++i) {
      _mm_pause();
      if (i % 64 == 0 && std::chrono::steady_clock::now() - spinStart > kSpinTime) {
        sleepers_.fetch_add(1);
        // NOTE: the caller stores the state before it reads sleepers_ (both sequentially
        // consistent), so either it sees this sleeper and notifies, or this load sees its state.
        if (state_.load() == seen && !stop_.load())
          state_.wait(seen);
        sleepers_.fetch_sub(1);
        spinStart = std::chrono::steady_clock::now();
      }
      s = state_.load();
    }
    if (stop_.load())
      return;
    seen = s;
    if (!(s & 1))
      continue; // closed before this worker saw it open
    active_.fetch_add(1);
    // Joined only if the loop is still the same open one: the caller may have closed it (and
    // even opened the next) meanwhile; then this worker touches nothing of it.
    if (state_.load() == s) {
      InLoop in;
      runChunks();
    }
    active_.fetch_sub(1);
  }
}

void ThreadPool::runChunks() {
  for (;;) {
    int64_t c = next_.fetch_add(1, std::memory_order_relaxed);
    if (c >= numChunks_)
      return;
    int64_t begin = c * chunk_, end = std::min(n_, begin + chunk_);
    try {
      fn_(ctx_, begin, end);
    } catch (...) {
      std::lock_guard lock(errorMutex_);
      if (!error_)
        error_ = std::current_exception();
    }
  }
}

void ThreadPool::run(int64_t n, bool parallel, int64_t maxChunk, ChunkFn fn, void *ctx) {
  if (n <= 0)
    return;
  if (!parallel || threads_ == 1 || n < 2 || tInLoop) {
    fn(ctx, 0, n);
    return;
  }
  std::unique_lock lock(dispatch_, std::try_to_lock);
  if (!lock.owns_lock()) { // another thread's loop (or a resize) is running
    fn(ctx, 0, n);
    return;
  }
  // No worker runs a chunk now (the last loop waited for active_ == 0, and late joiners never
  // touch these fields), so they can be written; the state store below publishes them.
  fn_ = fn;
  ctx_ = ctx;
  n_ = n;
  int64_t chunks = std::min<int64_t>(n, threads_ * kChunksPerThread);
  chunk_ = (n + chunks - 1) / chunks;
  if (maxChunk > 0)
    chunk_ = std::min(chunk_, maxChunk);
  numChunks_ = (n + chunk_ - 1) / chunk_;
  next_.store(0, std::memory_order_relaxed);
  error_ = nullptr;
  const uint32_t open = state_.load() + 1; // the state is even (closed) between loops
  state_.store(open);
  if (sleepers_.load() > 0)
    state_.notify_all();
  {
    InLoop in;
    runChunks();
  }
  state_.store(open + 1); // closed: every chunk is claimed; no worker joins any more
  for (int i = 0; active_.load() != 0; ++i) {
    if (i < 4096)
      _mm_pause();
    else
      std::this_thread::yield(); // a joined worker was preempted inside its chunk
  }
  if (error_) {
    std::exception_ptr e = error_;
    error_ = nullptr;
    std::rethrow_exception(e);
  }
}

} // namespace llmrt
