// The CPU kernels' persistent thread pool: one process-wide team of worker threads that the
// calling thread (the engine thread) hands a parallel loop to, many times per decode step.
//
// Why not OpenMP: a decode step of a small model runs a few hundred parallel loops of a few
// microseconds each. OpenMP's static schedules end each loop at a barrier that waits for every
// team member, so on a machine with other work one descheduled thread stalls the whole step (a
// 2-thread decode measured 0.8 tok/s against 30.7 with 1 thread under load). Here:
//  - each thread starts on its own contiguous share of the loop (a decode GEMV's share of the
//    weights is then one memory stream), which it claims from the front a piece at a time (a
//    compare-and-swap on its own cache line); a thread whose share is done steals the back half
//    of another's remaining share and goes on with that. A slow or preempted thread only delays
//    the piece it holds (a sixteenth of its share at most);
//  - the caller never waits for a worker that has not started: a worker joins a loop only while
//    the loop is open, its share is stolen like any other, and the caller closes the loop when
//    every index is claimed, then waits only for the workers that joined (and are running a
//    piece);
//  - pieces used to be 4 chunks per thread, claimed in turn from one shared counter: each claim
//    was a jump to another part of the weights, where the hardware prefetchers start over, and a
//    contended cache line. Contiguous shares made a cold 576 x 576 Q4_0 GEMV 1.4x faster and Q4_0
//    decode 1.085x (README "Threads").
//  - idle workers spin briefly (new loops arrive microseconds apart within a step), then sleep on
//    a futex (std::atomic::wait), so an idle server costs no CPU.
// NOTE: results never depend on the thread count or on which thread runs a piece: kernels split
// independent rows or features over pieces and keep every reduction inside one piece.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace llmrt {

class ThreadPool {
public:
  // The process-wide pool (created on first use with defaultThreads()).
  static ThreadPool &global();
  // Hardware threads of this machine (at least 1).
  static int defaultThreads();

  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool &) = delete;
  ThreadPool &operator=(const ThreadPool &) = delete;

  // Threads taking part in a loop, the caller included (>= 1).
  int threads() const { return threads_; }
  // Resizes the team (0: defaultThreads()). Must not be called while a loop runs.
  void setThreads(int threads);

  // Runs body(begin, end) over disjoint ranges that cover [0, n), on the team and the calling
  // thread, and returns when all have run. Serial (one call body(0, n)) when `parallel` is false,
  // the team has one thread, n < 2, or the call comes from inside a loop or while another thread
  // runs a loop on this pool. An exception thrown by body is rethrown here (the first one; the
  // remaining pieces still run). A range holds at most `maxChunk` indices when it is positive
  // (a loop of few, unequal items: one item per claim balances the threads best).
  template <class Body>
  void parallelFor(int64_t n, Body &&body, bool parallel = true, int64_t maxChunk = 0) {
    using B = std::remove_reference_t<Body>;
    run(n, parallel, maxChunk,
        [](void *ctx, int64_t b, int64_t e) { (*static_cast<B *>(ctx))(b, e); },
        const_cast<void *>(static_cast<const void *>(&body)));
  }

private:
  using ChunkFn = void (*)(void *ctx, int64_t begin, int64_t end);
  void run(int64_t n, bool parallel, int64_t maxChunk, ChunkFn fn, void *ctx);
  void runPieces(int self); // claims pieces of its share, then steals, until none is left
  void runRange(int64_t begin, int64_t end); // body over [begin, end) units
  void workerLoop(int self, uint32_t seen); // seen: the state when the pool started the worker
  void startWorkers(int threads);
  void stopWorkers();

  // Fields on three cache lines by who writes them, so that opening a loop moves one line to
  // the spinning workers and closing it one line back (sharing a line, the caller's lock and the
  // workers' join count made each loop wait for several more cross-core transfers).
  // The caller's own: one loop at a time (a second caller runs its loop serially), its error.
  alignas(64) std::mutex dispatch_;
  std::exception_ptr error_;
  std::mutex errorMutex_;
  std::vector<std::thread> workers_;

  // The open loop, published by the store of `state`: 2 * epoch + 1 while a loop is open
  // (workers may join), even when closed; the other fields are written only while no worker can
  // be running a piece.
  alignas(64) std::atomic<uint32_t> state_{0};
  std::atomic<int> sleepers_{0}; // workers blocked in state_.wait
  std::atomic<bool> stop_{false};
  int threads_ = 1;
  ChunkFn fn_ = nullptr;
  void *ctx_ = nullptr;
  int64_t n_ = 0;
  int64_t unit_ = 1;  // indices per unit (1 unless n is beyond 32-bit unit counts)
  uint32_t grain_ = 1; // units per claimed piece
  // Thread t's unclaimed units [begin, end), packed as begin << 32 | end. Thread 0 is the caller.
  struct alignas(64) Share {
    std::atomic<uint64_t> range{0};
  };
  std::unique_ptr<Share[]> shares_;

  // Written by the workers as they join and leave a loop, read by the caller that closes it.
  alignas(64) std::atomic<int> active_{0};
};

} // namespace llmrt
