#include "tune/Tuner.h"

#include "tune/CpuHarness.h"
#include "tuning/TuningDB.h"
#include "support/Error.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <dlfcn.h>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <ostream>

namespace llmc::tune {

namespace reg = llm::registry;
namespace fs = std::filesystem;

namespace {

std::atomic<bool> gStop{false};
extern "C" void onInterrupt(int) { gStop.store(true); }

std::string str(const Params &p) {
  std::string s;
  for (const auto &[k, v] : p)
    s += fmt::format("{}{}={}", s.empty() ? "" : ",", k, v);
  return s;
}

// A distinct (kernel, shape) and the first call that has it.
struct Shape {
  std::string kernel, key;
  const CallSite *site = nullptr;
  size_t calls = 0;
};

std::vector<Shape> distinctShapes(const std::vector<CallSite> &calls,
                                  const reg::TargetInfo &target) {
  std::vector<Shape> out;
  for (const CallSite &c : calls) {
    const reg::KernelSpec *spec = reg::findKernel(c.kernel);
    if (!spec || reg::tunables(*spec, target.family).empty())
      continue;
    // NOTE: quantized kernels (weight_format other than f32) take no tunables yet, and the
    // harness feeds f32 weights: such calls are not measured.
    if (c.params.has("weight_format") && c.params.getString("weight_format") != "f32")
      continue;
    std::string key = TuningDB::shapeKey(c.kernel, c.ints);
    auto it = std::find_if(out.begin(), out.end(),
                           [&](const Shape &s) { return s.kernel == c.kernel && s.key == key; });
    if (it == out.end())
      out.push_back(Shape{c.kernel, key, &c, 1});
    else
      ++it->calls;
  }
  return out;
}

const reg::TargetInfo &targetOf(const TuneOptions &o) {
  const reg::TargetInfo *t = reg::findTarget(o.target);
  if (!t)
    llm::fail("unknown target '{}' (known: {})", o.target, reg::targetNames());
  return *t;
}

TuningDB::TokenRange rangeOf(const Bucket &b) { return {b.min, b.max}; }

// The shape-key parameters of a call.
Params shapeOf(const CallSite &c) {
  Params shape;
  for (std::string_view name : reg::findKernel(c.kernel)->shapeKey)
    if (auto it = c.ints.find(std::string(name)); it != c.ints.end())
      shape[it->first] = it->second;
  return shape;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Progress: one rewritten line on a terminal, plain lines otherwise.
struct Progress {
  const TuneOptions &o;
  void line(const std::string &s, bool final) const {
    if (!o.log)
      return;
    if (o.tty)
      *o.log << "\r\033[K" << s << (final ? "\n" : "") << std::flush;
    else if (final)
      *o.log << s << "\n" << std::flush;
  }
};

class Sweep {
public:
  Sweep(const TuneOptions &o, const reg::TargetInfo &t) : o_(o), target_(t), progress_{o} {}

  bool stopNow() {
    if (gStop.load())
      return reason_ = "interrupt", true;
    if (o_.budgetSeconds > 0 && elapsed() > o_.budgetSeconds)
      return reason_ = "budget", true;
    return false;
  }
  double elapsed() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  const std::string &reason() const { return reason_; }

  // Measures a problem; nullopt when the sweep had to stop before it finished.
  std::optional<TuningDB::Entry> measure(const Shape &shape, const Bucket &bucket,
                                         const std::string &label, TuneReport &report) {
    Problem problem{shape.kernel, shape.key, bucket};
    const reg::KernelSpec &spec = *reg::findKernel(shape.kernel);
    std::vector<Params> space = enumerateSpace(spec, target_, shape.site->ints, bucket.measureRows);
    CpuHarness harness(shape.kernel, shape.site->params, bucket.measureRows);
    harness.run(space.front());
    std::vector<std::vector<float>> reference;
    for (std::span<float> out : harness.outputs())
      reference.emplace_back(out.begin(), out.end());

    double best = std::numeric_limits<double>::infinity(), defaultTime = 0;
    Params winner = space.front();
    for (size_t i = 0; i < space.size(); ++i) {
      if (stopNow())
        return std::nullopt;
      const Params &c = space[i];
      ++report.candidates;
      std::string what = fmt::format("{} [{}/{}] {}", label, i + 1, space.size(), str(c));
      std::string bestText =
          std::isinf(best) ? "" : fmt::format(" | best {:.1f} us {}", best * 1e6, str(winner));
      progress_.line(fmt::format("{}{}", what, bestText), false);
      auto runOnce = [&](int run) {
        double s = harness.run(c);
        std::vector<std::span<float>> outs = harness.outputs();
        if (o_.afterRun)
          o_.afterRun(problem, c, outs);
        return o_.fakeSeconds ? o_.fakeSeconds(problem, c, run) : s;
      };
      for (int w = 0; w < o_.warmupRuns; ++w)
        runOnce(-1 - w);
      std::vector<double> times{runOnce(0)};
      double diff = maxAbsDiff(reference, harness.outputs());
      if (!(diff <= o_.tolerance)) {
        ++report.rejected;
        progress_.line(fmt::format("{}: output differs from the reference (max abs diff {}), "
                                   "rejected",
                                   what, diff),
                       true);
        continue;
      }
      double total = times[0];
      bool loser = false;
      while (static_cast<int>(times.size()) < o_.maxRuns &&
             (static_cast<int>(times.size()) < o_.minRuns || total < o_.minSecondsPerCandidate)) {
        if (static_cast<int>(times.size()) == o_.loserRuns &&
            *std::min_element(times.begin(), times.end()) > o_.loserFactor * best) {
          loser = true;
          break;
        }
        if (stopNow())
          return std::nullopt;
        times.push_back(runOnce(static_cast<int>(times.size())));
        total += times.back();
      }
      double m = median(times);
      if (i == 0)
        defaultTime = m;
      if (loser)
        ++report.stoppedEarly;
      else if (m < best)
        best = m, winner = c;
      if (!o_.tty)
        progress_.line(fmt::format("{}: {:.1f} us{}", what, m * 1e6,
                                   loser ? " (stopped early: clear loser)" : ""),
                       true);
    }
    TuningDB::Entry e;
    e.target = std::string(target_.name);
    e.kernel = shape.kernel;
    e.shape = shapeOf(*shape.site);
    e.tokens = rangeOf(bucket);
    e.params = winner;
    e.timeUs = best * 1e6;
    e.defaultTimeUs = defaultTime * 1e6;
    e.note = fmt::format("measured at {} rows; {} of {} candidates", bucket.measureRows,
                         space.size(), fullSpaceSize(spec, target_));
    progress_.line(fmt::format("{}: {} {:.1f} us (defaults {:.1f} us, {:.2f}x)", label, str(winner),
                               e.timeUs, e.defaultTimeUs, e.defaultTimeUs / e.timeUs),
                   true);
    return e;
  }

private:
  const TuneOptions &o_;
  const reg::TargetInfo &target_;
  Progress progress_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::string reason_;
};

// CUDA sweeps need a GPU and NVRTC-compiled variants; say which part is missing.
[[noreturn]] void failCuda(const reg::TargetInfo &t) {
  void *driver = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
  if (driver)
    dlclose(driver);
  llm::fail("tuning for {} measures NVRTC-compiled kernel variants on an NVIDIA GPU: {}; this "
            "llmc measures CPU targets only for now (the CUDA backend is a later milestone). "
            "`llmc tune ... --list` shows the space a CUDA sweep would search",
            t.name,
            driver ? "a CUDA driver is present, but this llmc has no CUDA measurement harness"
                   : "this machine has no CUDA driver (libcuda.so.1), so no GPU to measure on");
}

} // namespace

void requestStop() { gStop.store(true); }

std::vector<PlannedProblem> planSweep(const std::vector<CallSite> &calls,
                                      const TuneOptions &o) {
  const reg::TargetInfo &target = targetOf(o);
  std::vector<PlannedProblem> out;
  std::vector<Shape> shapes = distinctShapes(calls, target);
  for (const Bucket &b : bucketsFromPoints(o.tokens))
    for (const Shape &s : shapes) {
      const reg::KernelSpec &spec = *reg::findKernel(s.kernel);
      out.push_back(PlannedProblem{Problem{s.kernel, s.key, b}, s.calls,
                                   enumerateSpace(spec, target, s.site->ints, b.measureRows).size(),
                                   fullSpaceSize(spec, target)});
    }
  return out;
}

TuneReport runTune(const std::vector<CallSite> &calls, const TuneOptions &o) {
  const reg::TargetInfo &target = targetOf(o);
  if (target.family == reg::TargetFamily::Cuda)
    failCuda(target);
  std::vector<Bucket> buckets = bucketsFromPoints(o.tokens);
  TuningDB db;
  TuneReport report;
  if (fs::exists(o.output)) {
    if (!o.resume)
      llm::fail("'{}' exists: pass --resume to continue its sweep, or another -o", o.output);
    db = TuningDB::load(o.output);
  }
  std::vector<Shape> shapes = distinctShapes(calls, target);
  for (const Shape &s : shapes)
    report.calls += s.calls;
  report.problems = shapes.size() * buckets.size();

  gStop.store(false);
  // NOTE: restored on every way out, so a sweep never leaves its handler behind.
  struct RestoreSigint {
    void (*previous)(int) = std::signal(SIGINT, onInterrupt);
    ~RestoreSigint() { std::signal(SIGINT, previous); }
  } restore;
  Sweep sweep(o, target);
  auto sweepAll = [&]() -> std::string {
    size_t index = 0;
    for (const Bucket &b : buckets)
      for (const Shape &s : shapes) {
        ++index;
        if (db.find(target.name, s.kernel, s.key, rangeOf(b))) {
          ++report.resumed;
          continue;
        }
        if (o.stopAfterEntries && report.written == o.stopAfterEntries)
          return "entry limit";
        std::string label = fmt::format("[{}/{}] {} {} tokens {}", index, report.problems,
                                        s.kernel, s.key, rangeOf(b).str());
        std::optional<TuningDB::Entry> e = sweep.measure(s, b, label, report);
        if (!e)
          return sweep.reason();
        db.add(std::move(*e));
        db.save(o.output); // after every entry: an interrupt loses at most the one in flight
        ++report.written;
      }
    return {};
  };
  report.stopReason = sweepAll();
  report.complete = report.stopReason.empty();
  db.save(o.output);
  report.seconds = sweep.elapsed();
  return report;
}

std::vector<CallSite> callsFromPlanFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    llm::fail("cannot read the plan '{}'", path);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  flatbuffers::Verifier v(reinterpret_cast<const uint8_t *>(bytes.data()), bytes.size());
  if (!llmrt::fb::PlanBufferHasIdentifier(bytes.data()) || !llmrt::fb::VerifyPlanBuffer(v))
    llm::fail("'{}' is not a valid plan file (FlatBuffers verification failed)", path);
  const llmrt::fb::Plan *plan = llmrt::fb::GetPlan(bytes.data());
  std::vector<CallSite> out;
  if (!plan->programs() || plan->programs()->size() == 0 || !plan->programs()->Get(0)->calls())
    return out;
  for (const llmrt::fb::KernelCall *call : *plan->programs()->Get(0)->calls()) {
    CallSite c{call->kernel()->str(), llmrt::cpu::KernelParams::fromPlan(*call), {}};
    if (call->params())
      for (const llmrt::fb::Param *p : *call->params())
        if (p->kind() == llmrt::fb::ParamKind::Int)
          c.ints[p->name()->str()] = p->int_value();
    out.push_back(std::move(c));
  }
  return out;
}

} // namespace llmc::tune
