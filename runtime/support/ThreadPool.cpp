#include "support/ThreadPool.h"

#include <sched.h>

#include <immintrin.h>

#include <algorithm>
#include <chrono>

namespace llmrt {

namespace {

// Pieces per share: a thread claims its share in this many pieces, so a thread that falls behind
// holds at most one piece when the others have stolen the rest, and claims (an uncontended
// compare-and-swap each) stay negligible.
constexpr int64_t kPiecesPerShare = 16;
// Units a share may count (they are packed two to a 64-bit word).
constexpr int64_t kMaxUnits = int64_t{1} << 31;

constexpr uint64_t pack(uint32_t begin, uint32_t end) { return uint64_t{begin} << 32 | end; }
constexpr uint32_t rangeBegin(uint64_t r) { return static_cast<uint32_t>(r >> 32); }
constexpr uint32_t rangeEnd(uint64_t r) { return static_cast<uint32_t>(r); }
// How long an idle worker polls for the next loop before it sleeps. Loops of one decode step
// arrive microseconds apart; between steps the engine samples and schedules (well under this).
constexpr std::chrono::microseconds kSpinTime{2000};

// Set while this thread runs a piece: a parallelFor from inside a piece runs serially.
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
  shares_ = std::make_unique<Share[]>(threads);
  workers_.reserve(threads - 1);
  // The state as the pool knows it now: a worker whose thread starts late still joins a loop
  // opened meanwhile (it sees the state move on from this value).
  const uint32_t state = state_.load();
  for (int i = 1; i < threads; ++i)
    workers_.emplace_back([this, i, state] { workerLoop(i, state); });
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

void ThreadPool::workerLoop(int self, uint32_t seen) {
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
      runPieces(self);
    }
    active_.fetch_sub(1);
  }
}

void ThreadPool::runRange(int64_t begin, int64_t end) {
  try {
    fn_(ctx_, begin * unit_, std::min(n_, end * unit_));
  } catch (...) {
    std::lock_guard lock(errorMutex_);
    if (!error_)
      error_ = std::current_exception();
  }
}

void ThreadPool::runPieces(int self) {
  std::atomic<uint64_t> &mine = shares_[self].range;
  for (;;) {
    // This thread's share, a piece at a time from the front (thieves take from the back).
    uint64_t r = mine.load();
    while (rangeBegin(r) < rangeEnd(r)) {
      const uint32_t begin = rangeBegin(r), end = rangeEnd(r);
      const uint32_t to = std::min(end, begin + grain_);
      if (mine.compare_exchange_weak(r, pack(to, end))) {
        runRange(begin, to);
        r = mine.load();
      }
    }
    // Steal the back half of the next share that has units left; it becomes this thread's
    // share (empty until now, and thieves leave empty shares alone), so others can steal from
    // it in turn.
    // NOTE: no ABA: a share's begin only grows until it is empty, and a claimed unit never
    // returns, so a share never holds the same non-empty range twice.
    bool stole = false;
    for (int k = 1; k < threads_ && !stole; ++k) {
      std::atomic<uint64_t> &victim = shares_[(self + k) % threads_].range;
      uint64_t v = victim.load();
      while (rangeBegin(v) < rangeEnd(v)) {
        const uint32_t begin = rangeBegin(v), end = rangeEnd(v);
        const uint32_t from = end - (end - begin + 1) / 2;
        if (victim.compare_exchange_weak(v, pack(begin, from))) {
          mine.store(pack(from, end));
          stole = true;
          break;
        }
      }
    }
    if (!stole)
      return; // every share is empty or belongs to a thread that is running it
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
  // No worker runs a piece now (the last loop waited for active_ == 0, and late joiners never
  // touch these fields), so they can be written; the state store below publishes them.
  fn_ = fn;
  ctx_ = ctx;
  n_ = n;
  unit_ = (n + kMaxUnits - 1) / kMaxUnits;
  const int64_t units = (n + unit_ - 1) / unit_;
  const int64_t share = (units + threads_ - 1) / threads_;
  int64_t grain = std::max<int64_t>(1, (share + kPiecesPerShare - 1) / kPiecesPerShare);
  if (maxChunk > 0)
    grain = std::min(grain, std::max<int64_t>(1, maxChunk / unit_));
  grain_ = static_cast<uint32_t>(grain);
  for (int t = 0; t < threads_; ++t) // contiguous shares, as even as the units allow
    shares_[t].range.store(pack(static_cast<uint32_t>(units * t / threads_),
                                static_cast<uint32_t>(units * (t + 1) / threads_)),
                           std::memory_order_relaxed);
  error_ = nullptr;
  const uint32_t open = state_.load() + 1; // the state is even (closed) between loops
  state_.store(open);
  if (sleepers_.load() > 0)
    state_.notify_all();
  {
    InLoop in;
    runPieces(0);
  }
  // Closed: every unit is claimed, or in the share of a worker that joined and will run it (a
  // share that gains units is a thief's own); no worker joins any more.
  state_.store(open + 1);
  for (int i = 0; active_.load() != 0; ++i) {
    if (i < 4096)
      _mm_pause();
    else
      std::this_thread::yield(); // a joined worker was preempted inside its piece
  }
  if (error_) {
    std::exception_ptr e = error_;
    error_ = nullptr;
    std::rethrow_exception(e);
  }
}

} // namespace llmrt
