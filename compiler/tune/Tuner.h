// The `llmc tune` sweep driver.
//
// For every distinct (kernel, shape) among a plan's kernel calls that has tunables on the target,
// and every token-count bucket, the tuner measures each candidate of the pruned space
// (TuneSpace.h) on the CPU harness: warm-up runs, then repeated timed runs summarized by their
// median; a candidate whose first `loserRuns` runs are all slower than `loserFactor` x the best
// median so far stops early. Before it may win, each candidate's output must equal the reference
// output (the registry defaults' run) within `tolerance` (0 on CPU: every tunable choice computes
// every dot product in the same order, so the bits must match). The winner of each (kernel, shape,
// bucket) becomes a tuning-database entry, and the database is saved (atomically) after each
// entry, so an interrupted sweep (budget, SIGINT) leaves a valid file that `resume` continues:
// entries already present are skipped, and the sweep order is fixed, so a resumed sweep writes the
// same entries in the same order as an uninterrupted one (given the same timings).
#pragma once

#include "backends/cpu/CpuKernels.h"
#include "tune/TuneSpace.h"

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <span>
#include <string>
#include <vector>

namespace llmc::tune {

// One kernel call of a plan, as the tuner needs it.
struct CallSite {
  std::string kernel;
  llmrt::cpu::KernelParams params; // every registry parameter of the call
  Params ints;                     // its integer parameters (the shape key among them)
};

// What is measured: one (kernel, shape) at one bucket.
struct Problem {
  std::string kernel;
  std::string shapeKey; // TuningDB::shapeKey
  Bucket bucket;
};

struct TuneOptions {
  std::string target = "cpu";
  std::string output = "tuning.json";
  double budgetSeconds = 0; // 0: no budget
  bool resume = false;
  std::vector<int64_t> tokens{1, 8, 64, 512};
  int warmupRuns = 2;
  int minRuns = 5;
  int maxRuns = 30;
  double minSecondsPerCandidate = 0.03; // timed runs continue until this much time (or maxRuns)
  int loserRuns = 3;
  double loserFactor = 1.5;
  double tolerance = 0; // max |candidate - reference| over every output element
  std::ostream *log = nullptr; // progress; null: silent
  bool tty = false;            // progress on one rewritten terminal line

  // Test hooks, reachable only from code (no command-line flag sets them):
  // called after each run of a candidate, may change its outputs (plants a wrong kernel).
  std::function<void(const Problem &, const Params &, std::vector<std::span<float>> &)>
      afterRun;
  // replaces the clock: the seconds a run of the candidate took (deterministic sweeps).
  std::function<double(const Problem &, const Params &, int run)> fakeSeconds;
  // stop after this many new entries, as an interrupt would (0: no limit).
  size_t stopAfterEntries = 0;
};

struct TuneReport {
  size_t problems = 0;      // (kernel, shape, bucket) combinations to tune
  size_t calls = 0;         // calls with tunables among the plan's calls
  size_t resumed = 0;       // entries found in the database already
  size_t written = 0;       // entries measured and written now
  size_t candidates = 0;    // candidate measurements started
  size_t rejected = 0;      // candidates whose output differed from the reference
  size_t stoppedEarly = 0;  // clear losers stopped after loserRuns runs
  bool complete = false;    // every problem has an entry
  std::string stopReason;   // "budget", "interrupt", "entry limit" or empty
  double seconds = 0;
};

// Runs the sweep; the database is written to options.output. llm::Error for bad options, an
// existing output without `resume`, a target the harness cannot measure on (CUDA: it needs a GPU).
TuneReport runTune(const std::vector<CallSite> &calls, const TuneOptions &options);

// The distinct problems the sweep covers, in sweep order (buckets ascending, then the calls'
// first appearance), with the number of candidates each has after pruning.
struct PlannedProblem {
  Problem problem;
  size_t calls = 0;
  size_t candidates = 0;
  size_t fullSpace = 0;
};
std::vector<PlannedProblem> planSweep(const std::vector<CallSite> &calls,
                                      const TuneOptions &options);

// The kernel calls of program 0 of a plan file (verified with the FlatBuffers verifier).
std::vector<CallSite> callsFromPlanFile(const std::string &path);

// Set by SIGINT while a sweep runs (installed by runTune, restored after it).
void requestStop();

} // namespace llmc::tune
