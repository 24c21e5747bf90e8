#include "engine/StepProfile.h"
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <algorithm>
#include <cstdlib>
#include <map>

namespace llmrt {

bool StepProfile::requested() {
  const char *v = std::getenv("LLMRT_PROFILE");
  return v && *v && std::string_view(v) != "0";
}

bool StepProfile::byShape() {
  const char *v = std::getenv("LLMRT_PROFILE");
  return v && std::string_view(v) == "shapes";
}

StepProfile::StepProfile(std::vector<std::string> labels) : labels_(std::move(labels)) {
  for (PhaseTotals &p : phases_)
    p.perCall.assign(labels_.size(), Clock::duration{});
}

std::string StepProfile::label(std::string_view kernel, std::string_view weightFormat,
                               const std::vector<int64_t> &shape) {
  std::string s(kernel);
  if (!weightFormat.empty())
    s += fmt::format(" {}", weightFormat);
  if (!shape.empty())
    s += fmt::format(" {}", fmt::join(shape, "x"));
  return s;
}

void StepProfile::addCall(Phase phase, size_t call, Clock::duration d) {
  phases_[static_cast<int>(phase)].perCall.at(call) += d;
}

void StepProfile::addStep(Phase phase, int64_t tokens, Clock::duration d) {
  PhaseTotals &p = phases_[static_cast<int>(phase)];
  ++p.steps;
  p.tokens += tokens;
  p.stepTime += d;
}

std::string StepProfile::report() const {
  using Ms = std::chrono::duration<double, std::milli>;
  std::string out;
  const char *names[2] = {"decode", "prefill"};
  for (int ph = 0; ph < 2; ++ph) {
    const PhaseTotals &p = phases_[ph];
    if (p.steps == 0)
      continue;
    struct Group {
      int64_t calls = 0;
      Clock::duration time{};
    };
    std::map<std::string, Group> groups;
    Clock::duration inCalls{};
    for (size_t c = 0; c < p.perCall.size(); ++c) {
      Group &g = groups[labels_[c]];
      g.calls += p.steps; // every step runs every call once
      g.time += p.perCall[c];
      inCalls += p.perCall[c];
    }
    std::vector<std::pair<std::string, Group>> rows(groups.begin(), groups.end());
    std::sort(rows.begin(), rows.end(),
              [](const auto &a, const auto &b) { return a.second.time > b.second.time; });
    const double stepMs = Ms(p.stepTime).count();
    out += fmt::format("{}: {} steps, {} tokens, {:.3f} ms/step ({:.1f}% in kernel calls)\n",
                       names[ph], p.steps, p.tokens, stepMs / p.steps,
                       stepMs > 0 ? 100.0 * Ms(inCalls).count() / stepMs : 0.0);
    out += fmt::format("  {:<40} {:>10} {:>12} {:>7} {:>10}\n", "kernel", "calls", "total ms",
                       "share", "us/call");
    for (const auto &[name, g] : rows) {
      const double ms = Ms(g.time).count();
      out += fmt::format("  {:<40} {:>10} {:>12.2f} {:>6.1f}% {:>10.2f}\n", name, g.calls, ms,
                         stepMs > 0 ? 100.0 * ms / stepMs : 0.0, 1000.0 * ms / g.calls);
    }
  }
  return out;
}

} // namespace llmrt
