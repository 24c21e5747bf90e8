// Per-kernel wall time of an executor's steps, for finding where a step's time goes
// (`LLMRT_PROFILE=1 llmrt generate ...`). Off unless the environment asks for it: a step then
// pays one branch per call.
//
// Steps are split in two phases: decode (every sequence of the step computes one token) and
// prefill (any other step: prompts, chunks, mixed batches). Within a phase, calls are grouped by
// kernel and weight format ("linear q4_0"), and with LLMRT_PROFILE=shapes also by the shape of
// the call's first weight ("linear q4_0 3072x576"); the report gives each group's calls, total
// time, share of the phase's step time and time per call, and the phase's steps and time per
// step.
// Time per call includes the thread pool's fork and join, which is the point: a kernel that
// finishes in less time than its synchronization shows up as such.
#pragma once
#include <chrono>
#include <string_view>
#include <cstdint>
#include <string>
#include <vector>

namespace llmrt {

class StepProfile {
public:
  enum class Phase : uint8_t { Decode, Prefill };
  using Clock = std::chrono::steady_clock;

  // Whether LLMRT_PROFILE is set to anything but "" or "0"; whether it is "shapes".
  static bool requested();
  static bool byShape();

  // `labels`: one per call of the program, in order (see label()).
  explicit StepProfile(std::vector<std::string> labels);

  // The group of a call: its kernel, then its weight format and its first weight's shape when it
  // has them (each may be empty).
  static std::string label(std::string_view kernel, std::string_view weightFormat,
                           const std::vector<int64_t> &shape = {});

  void addCall(Phase phase, size_t call, Clock::duration d);
  void addStep(Phase phase, int64_t tokens, Clock::duration d);

  // The report (see above), one table per phase that ran.
  std::string report() const;

private:
  struct PhaseTotals {
    std::vector<Clock::duration> perCall; // by call index
    int64_t steps = 0, tokens = 0;
    Clock::duration stepTime{};
  };
  std::vector<std::string> labels_;
  PhaseTotals phases_[2];
};

} // namespace llmrt
