#include "plan/PlanLoader.h"

#include "plan/FloatTiles.h"
#include "plan/PlanVersion.h"
#include "registry/KernelRegistry.h"
#include "support/AvailableMemory.h"
#include "support/Error.h"
#include "support/ThreadPool.h"

#include <fmt/format.h>
#include <xxhash.h>

#include <cctype>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <map>
#include <algorithm>
#include <set>

namespace llmrt {
namespace {

namespace reg = llm::registry;
using llm::fail;

// Verification limits: far above what any real plan has (a 100-layer model has tens of thousands
// of tables), low enough that a hostile file cannot make the verifier walk forever.
constexpr flatbuffers::uoffset_t kMaxTables = 50'000'000;
constexpr flatbuffers::uoffset_t kMaxDepth = 64;

std::string_view str(const flatbuffers::String *s) { return s ? s->string_view() : ""; }

reg::ParamType toRegistryType(fb::ParamKind kind) {
  switch (kind) {
  case fb::ParamKind::Int:
    return reg::ParamType::Int;
  case fb::ParamKind::Float:
    return reg::ParamType::Float;
  case fb::ParamKind::String:
    return reg::ParamType::String;
  case fb::ParamKind::FloatArray:
    return reg::ParamType::FloatArray;
  }
  fail("unknown parameter kind {}", static_cast<int>(kind));
}

// "call 3 'linear' (model.layers.0.q_proj)": how errors name a kernel call.
std::string callName(uint32_t index, const fb::KernelCall &call) {
  std::string s = fmt::format("call {} '{}'", index, str(call.kernel()));
  if (call.label() && call.label()->size() > 0)
    s += fmt::format(" ({})", str(call.label()));
  return s;
}

// Product of the shape's dims times the element size; nullopt-like false on overflow or a
// negative dim.
bool byteSizeOf(const fb::WeightEntry &w, uint64_t &bytes) {
  if (std::optional<llm::quant::Scheme> q = quantScheme(w.dtype())) {
    // Quantized: a [rows, cols] matrix of whole blocks (checked by checkQuantized first).
    bytes = llm::quant::tensorBytes(*q, w.shape()->Get(0), w.shape()->Get(1));
    return true;
  }
  uint64_t n = dtypeSize(w.dtype());
  if (w.shape())
    for (int64_t d : *w.shape()) {
      if (d < 0 || __builtin_mul_overflow(n, static_cast<uint64_t>(d), &n))
        return false;
    }
  bytes = n;
  return true;
}

// The dtype names' case (fb::EnumNameDType) for a list of scheme names.
std::string upperCase(std::string_view s) {
  std::string u(s);
  for (char &c : u)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return u;
}

// A quantized weight is a matrix whose rows are whole blocks, stored in the row_blocks layout
// (or rows8_blocks: QuantFormat.h's tiles).
void checkQuantized(const std::string &where, const fb::WeightEntry &w, std::string_view shape) {
  std::optional<llm::quant::Scheme> q = quantScheme(w.dtype());
  if (!q)
    return;
  const int64_t block = llm::quant::blockElems(*q);
  if (!w.shape() || w.shape()->size() != 2 || w.shape()->Get(0) <= 0 || w.shape()->Get(1) <= 0 ||
      w.shape()->Get(1) % block != 0 || w.shape()->Get(0) > (int64_t{1} << 40) ||
      w.shape()->Get(1) > (int64_t{1} << 40))
    fail("{}: shape {} of {} is invalid, expected [rows, cols] with cols a positive multiple of {}",
         where, shape, fb::EnumNameDType(w.dtype()), block);
  std::string_view layout = w.layout() ? w.layout()->string_view() : std::string_view();
  std::optional<llm::quant::Layout> l = llm::quant::parseLayout(layout);
  if (l == llm::quant::Layout::Rows8) {
    if (!llm::quant::hasRows8Layout(*q))
      fail("{}: layout '{}' of {} weight, expected '{}' (only {} have '{}')", where, layout,
           fb::EnumNameDType(w.dtype()), llm::quant::kRowBlocksLayout,
           upperCase(llm::quant::kRows8Schemes), layout);
    if (w.shape()->Get(0) % llm::quant::kTileRows != 0)
      fail("{}: layout '{}' of a weight with {} rows, expected a multiple of {} rows", where,
           layout, w.shape()->Get(0), llm::quant::kTileRows);
  } else if (!l) {
    fail("{}: layout '{}' of {} weight, expected '{}' or '{}'", where, layout,
         fb::EnumNameDType(w.dtype()), llm::quant::kRowBlocksLayout, llm::quant::kRows8Layout);
  }
}

// A float weight is row_major (the default), or rows8 (plan/FloatTiles.h): a matrix whose rows and
// columns are multiples of 8.
void checkFloatLayout(const std::string &where, const fb::WeightEntry &w, std::string_view shape) {
  if (w.dtype() != fb::DType::F32 || !w.layout())
    return;
  std::string_view layout = w.layout()->string_view();
  if (layout.empty() || layout == llm::floattiles::kRowMajorLayout)
    return;
  if (layout != llm::floattiles::kRows8Layout)
    fail("{}: layout '{}' of an F32 weight, expected '{}' or '{}'", where, layout,
         llm::floattiles::kRowMajorLayout, llm::floattiles::kRows8Layout);
  if (!w.shape() || w.shape()->size() != 2 ||
      !llm::floattiles::fitsRows8(w.shape()->Get(0), w.shape()->Get(1)))
    fail("{}: layout '{}' of an F32 weight of shape {}, expected [rows, cols] with both multiples "
         "of {}",
         where, layout, shape, llm::floattiles::kTileRows);
}

std::string shapeString(const fb::WeightEntry &w) {
  std::string s = "[";
  if (w.shape())
    for (uint32_t i = 0; i < w.shape()->size(); ++i)
      s += fmt::format("{}{}", i ? ", " : "", w.shape()->Get(i));
  return s + "]";
}

// A tunable of the plan's target family: an integer among the registered choices.
void checkTunable(const std::string &where, const fb::Param &p, const reg::TunableSpec &t) {
  if (p.kind() != fb::ParamKind::Int ||
      std::find(t.choices.begin(), t.choices.end(), p.int_value()) == t.choices.end())
    fail("{}: tunable '{}' must be one of its registered integer choices", where, t.name);
}

void checkParams(const std::string &where, const fb::KernelCall &call,
                 const reg::KernelSpec &spec, reg::TargetFamily family) {
  std::set<std::string_view> seen;
  if (call.params())
    for (const fb::Param *p : *call.params()) {
      std::string_view name = p->name()->string_view();
      if (!seen.insert(name).second)
        fail("{}: parameter '{}' is given twice", where, name);
      const reg::ParamSpec *ps = nullptr;
      for (const reg::ParamSpec &candidate : spec.params)
        if (candidate.name == name)
          ps = &candidate;
      if (!ps) {
        if (const reg::TunableSpec *t = reg::findTunable(spec, family, name)) {
          checkTunable(where, *p, *t);
          continue;
        }
        std::string known;
        for (const reg::ParamSpec &candidate : spec.params)
          known += fmt::format("{}{}", known.empty() ? "" : ", ", candidate.name);
        fail("{}: unknown parameter '{}' (kernel '{}' takes: {})", where, name, spec.name, known);
      }
      reg::ParamType have = toRegistryType(p->kind());
      if (have != ps->type)
        fail("{}: parameter '{}' is of kind {}, expected {}", where, name, reg::paramTypeName(have),
             reg::paramTypeName(ps->type));
      if (have == reg::ParamType::String && !p->string_value())
        fail("{}: string parameter '{}' has no value", where, name);
      if (have == reg::ParamType::FloatArray && !p->float_array())
        fail("{}: float array parameter '{}' has no value", where, name);
    }
  for (const reg::ParamSpec &ps : spec.params)
    if (ps.required && !seen.count(ps.name))
      fail("{}: missing required parameter '{}' ({})", where, ps.name, reg::paramTypeName(ps.type));
}

// Schema 1.2 buckets: tunables of the target family only, each once, among the registered
// choices; row ranges non-empty and pairwise disjoint (so the bucket a step uses is unambiguous).
void checkBuckets(const std::string &where, const fb::KernelCall &call,
                  const reg::KernelSpec &spec, reg::TargetFamily family) {
  if (!call.buckets())
    return;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (uint32_t i = 0; i < call.buckets()->size(); ++i) {
    const fb::TunableBucket &bucket = *call.buckets()->Get(i);
    std::string at = fmt::format("{} bucket {}", where, i);
    uint64_t lo = bucket.min_rows(), hi = bucket.max_rows() ? bucket.max_rows() : UINT64_MAX;
    if (lo == 0 || hi < lo)
      fail("{}: rows [{}, {}] are not a range of at least one row (max_rows 0 means no bound)",
           at, bucket.min_rows(), bucket.max_rows());
    for (auto [l, h] : ranges)
      if (lo <= h && l <= hi)
        fail("{}: rows [{}, {}] overlap another bucket of the call", at, bucket.min_rows(),
             bucket.max_rows());
    ranges.emplace_back(lo, hi);
    std::set<std::string_view> seen;
    if (bucket.params())
      for (const fb::Param *p : *bucket.params()) {
        std::string_view name = p->name()->string_view();
        const reg::TunableSpec *t = reg::findTunable(spec, family, name);
        if (!t)
          fail("{}: '{}' is not a tunable of '{}' for this target", at, name, spec.name);
        if (!seen.insert(name).second)
          fail("{}: tunable '{}' is given twice", at, name);
        checkTunable(at, *p, *t);
      }
  }
}

void checkBuffer(const std::string &where, const fb::Buffer *b, const fb::Program &program) {
  if (!b)
    fail("{}: buffer is missing", where);
  if (b->space() == fb::Space::StepInput) {
    uint32_t numInputs = program.inputs() ? program.inputs()->size() : 0;
    if (b->input_index() >= numInputs)
      fail("{}: step input index {} is out of range (the program has {} inputs)", where,
           b->input_index(), numInputs);
    return;
  }
  if (b->space() != fb::Space::Arena)
    fail("{}: unknown buffer space {}", where, static_cast<int>(b->space()));
  // Tokens buffers live in the per-token region, LogitRows buffers in the per-logit-row one.
  bool perRow = b->rows() == fb::Rows::LogitRows;
  uint64_t region = perRow ? program.arena_bytes_per_logit_row() : program.arena_bytes_per_token();
  const char *unit = perRow ? "logit row" : "token";
  uint64_t end;
  if (__builtin_add_overflow(b->offset_per_token(), b->row_bytes(), &end) || end > region)
    fail("{}: arena buffer at {} bytes/{} with {} bytes/row does not fit in the arena "
         "({} bytes/{})",
         where, b->offset_per_token(), unit, b->row_bytes(), region, unit);
}

void checkCall(const std::string &file, uint32_t index, const fb::KernelCall &call,
               const fb::Program &program, uint32_t numWeights, reg::TargetFamily family) {
  std::string where = fmt::format("plan '{}': {}", file, callName(index, call));
  const reg::KernelSpec *spec = reg::findKernel(call.kernel()->string_view());
  if (!spec) {
    std::string known;
    for (const reg::KernelSpec &k : reg::allKernels())
      known += fmt::format("{}{}", known.empty() ? "" : ", ", k.name);
    fail("{}: unknown kernel '{}' (the kernel registry has: {})", where, str(call.kernel()), known);
  }
  uint32_t numInputs = call.inputs() ? call.inputs()->size() : 0;
  if (numInputs != static_cast<uint32_t>(spec->numInputs))
    fail("{}: has {} inputs, expected {}", where, numInputs, spec->numInputs);
  uint32_t numOutputs = call.outputs() ? call.outputs()->size() : 0;
  if (numOutputs != static_cast<uint32_t>(spec->numOutputs))
    fail("{}: has {} outputs, expected {}", where, numOutputs, spec->numOutputs);
  uint32_t callWeights = call.weights() ? call.weights()->size() : 0;
  if (callWeights < static_cast<uint32_t>(spec->minWeights) ||
      callWeights > static_cast<uint32_t>(spec->maxWeights))
    fail("{}: has {} weights, expected {}", where, callWeights,
         spec->minWeights == spec->maxWeights
             ? fmt::format("{}", spec->minWeights)
             : fmt::format("{} to {}", spec->minWeights, spec->maxWeights));
  if (call.weights())
    for (uint32_t w : *call.weights())
      if (w >= numWeights)
        fail("{}: weight index {} is out of range (the plan has {} weights)", where, w, numWeights);
  checkParams(where, call, *spec, family);
  checkBuckets(where, call, *spec, family);
  for (uint32_t i = 0; i < numInputs; ++i)
    checkBuffer(fmt::format("{} input {}", where, i), call.inputs()->Get(i), program);
  for (uint32_t o = 0; o < numOutputs; ++o) {
    std::string at = fmt::format("{} output {}", where, o);
    checkBuffer(at, call.outputs()->Get(o), program);
    const fb::Buffer *out = call.outputs()->Get(o);
    bool wantLogitRows = spec->outputRows == reg::Rows::LogitRows;
    if ((out->rows() == fb::Rows::LogitRows) != wantLogitRows)
      fail("{}: rows are {}, expected {}", at, fb::EnumNameRows(out->rows()),
           wantLogitRows ? "LogitRows" : "Tokens");
    if (out->space() != fb::Space::Arena)
      fail("{}: must live in the arena, not in a step input", at);
  }
}

// Appends one formatted line to `out` (describe() builds its report with it).
template <typename... Args>
void appendLine(std::string &out, fmt::format_string<Args...> format, Args &&...args) {
  fmt::format_to(std::back_inserter(out), format, std::forward<Args>(args)...);
  out += '\n';
}

} // namespace

std::optional<llm::quant::Scheme> quantScheme(fb::DType dtype) {
  switch (dtype) {
  case fb::DType::Q8_0: return llm::quant::Scheme::Q8_0;
  case fb::DType::Q4_0: return llm::quant::Scheme::Q4_0;
  case fb::DType::Q4_1: return llm::quant::Scheme::Q4_1;
  case fb::DType::W8: return llm::quant::Scheme::W8;
  case fb::DType::Q4_K: return llm::quant::Scheme::Q4_K;
  case fb::DType::Q5_K: return llm::quant::Scheme::Q5_K;
  case fb::DType::Q6_K: return llm::quant::Scheme::Q6_K;
  case fb::DType::W4G32: return llm::quant::Scheme::W4G32;
  case fb::DType::W4G64: return llm::quant::Scheme::W4G64;
  case fb::DType::W4G128: return llm::quant::Scheme::W4G128;
  case fb::DType::W4G32A: return llm::quant::Scheme::W4G32A;
  case fb::DType::W4G64A: return llm::quant::Scheme::W4G64A;
  case fb::DType::W4G128A: return llm::quant::Scheme::W4G128A;
  case fb::DType::WFP8: return llm::quant::Scheme::FP8;
  case fb::DType::Q5_0: return llm::quant::Scheme::Q5_0;
  case fb::DType::Q5_1: return llm::quant::Scheme::Q5_1;
  default: return std::nullopt;
  }
}

uint64_t dtypeSize(fb::DType dtype) {
  switch (dtype) {
  case fb::DType::F32:
    return 4;
  case fb::DType::F16:
    return 2;
  case fb::DType::BF16:
    return 2;
  case fb::DType::I32:
    return 4;
  case fb::DType::FP8_E4M3:
    return 1;
  case fb::DType::Q8_0:
  case fb::DType::Q4_0:
  case fb::DType::Q4_1:
  case fb::DType::W8:
  case fb::DType::Q4_K:
  case fb::DType::Q5_K:
  case fb::DType::Q6_K:
  case fb::DType::W4G32:
  case fb::DType::W4G64:
  case fb::DType::W4G128:
  case fb::DType::W4G32A:
  case fb::DType::W4G64A:
  case fb::DType::W4G128A:
  case fb::DType::WFP8:
  case fb::DType::Q5_0:
  case fb::DType::Q5_1:
    fail("{} is a block format: it has no size per element", fb::EnumNameDType(dtype));
  }
  fail("unknown dtype {}", static_cast<int>(dtype));
}

WeightMemory chooseWeightMemory(WeightMemory requested, bool cpuTarget, uint64_t weightBytes,
                                std::optional<uint64_t> availableBytes) {
  if (requested != WeightMemory::Auto)
    return requested;
  // Weights over half the available memory stay mapped: a copy could only run out of memory
  // where the page cache still pages them in.
  const bool fits = availableBytes && weightBytes <= *availableBytes / 2;
  return cpuTarget && fits ? WeightMemory::HugePages : WeightMemory::Mapped;
}

std::unique_ptr<LoadedPlan> LoadedPlan::load(const std::string &planPath, LoadOptions options) {
  std::unique_ptr<LoadedPlan> lp(new LoadedPlan());
  lp->path_ = planPath;
  lp->planFile_ = llm::MappedFile::open(planPath);
  lp->verifyPlanBuffer();
  lp->mapWeightFiles(options.weightMemory);
  lp->checkWeights(options);
  lp->checkPrograms();
  return lp;
}

void LoadedPlan::verifyPlanBuffer() {
  const uint8_t *data = planFile_.data();
  size_t size = planFile_.size();
  // The smallest FlatBuffer with an identifier: root offset + identifier.
  if (size < 8)
    fail("plan '{}': file is {} bytes, too small to be a plan", path_, size);
  if (size >= FLATBUFFERS_MAX_BUFFER_SIZE)
    fail("plan '{}': file is {} bytes, over the FlatBuffers limit of 2 GiB", path_, size);
  if (!flatbuffers::BufferHasIdentifier(data, fb::PlanIdentifier()))
    fail("plan '{}': file identifier is '{}', expected '{}' (not an llmrt plan)", path_,
         std::string(reinterpret_cast<const char *>(data) + 4, 4), fb::PlanIdentifier());
  flatbuffers::Verifier::Options opts;
  opts.max_depth = kMaxDepth;
  opts.max_tables = kMaxTables;
  flatbuffers::Verifier verifier(data, size, opts);
  if (!fb::VerifyPlanBuffer(verifier))
    fail("plan '{}': FlatBuffers verification failed (the file is truncated or corrupt)", path_);
  plan_ = fb::GetPlan(data);
  if (plan_->schema_major() != kPlanSchemaMajor)
    fail("plan '{}': plan schema version {}.{} is not supported: this runtime supports schema "
         "version {}.x (up to {}.{}); recompile the plan with a matching llmc",
         path_, plan_->schema_major(), plan_->schema_minor(), kPlanSchemaMajor, kPlanSchemaMajor,
         kPlanSchemaMinor);
}

void LoadedPlan::mapWeightFiles(WeightMemory memory) {
  std::filesystem::path dir = std::filesystem::path(path_).parent_path();
  if (!plan_->weight_files())
    return;
  if (memory == WeightMemory::Auto) {
    // An unknown target is refused by checkPrograms; map its files meanwhile.
    const reg::TargetInfo *target = reg::findTarget(str(plan_->target()));
    uint64_t bytes = 0;
    for (const fb::WeightFile *wf : *plan_->weight_files())
      bytes += wf->size();
    memory = chooseWeightMemory(memory, target && target->family == reg::TargetFamily::Cpu, bytes,
                                llm::availableMemoryBytes());
  }
  const auto backing = memory == WeightMemory::HugePages ? llm::MappedFile::Backing::HugePages
                                                         : llm::MappedFile::Backing::Mapped;
  for (uint32_t i = 0; i < plan_->weight_files()->size(); ++i) {
    const fb::WeightFile *wf = plan_->weight_files()->Get(i);
    std::filesystem::path rel(wf->path()->str());
    if (rel.is_absolute() || rel.empty())
      fail("plan '{}': weight file {} has path '{}', expected a path relative to the plan's folder",
           path_, i, rel.string());
    std::string full = (dir / rel).string();
    llm::MappedFile file;
    try {
      file = llm::MappedFile::open(full, backing);
    } catch (const llm::Error &e) {
      fail("plan '{}': weight file {} is missing or unreadable: {}", path_, i, e.what());
    }
    if (file.size() < kWeightAlignment)
      fail("weight file '{}': {} bytes, too small for its {}-byte header page (truncated?)", full,
           file.size(), kWeightAlignment);
    WeightFileHeader h;
    std::memcpy(&h, file.data(), sizeof h);
    if (std::memcmp(h.magic, kWeightFileMagic, sizeof h.magic) != 0)
      fail("weight file '{}': bad magic, expected 'LLMWEIGT' (not a weight file)", full);
    if (h.version != kWeightFileVersion)
      fail("weight file '{}': format version {}, this runtime reads version {}", full, h.version,
           kWeightFileVersion);
    if (h.plan_id != plan_->plan_id())
      fail("weight file '{}': belongs to plan id {:#x}, but plan '{}' has id {:#x} (weight file "
           "from another plan)",
           full, h.plan_id, path_, plan_->plan_id());
    if (h.file_size != file.size())
      fail("weight file '{}': is {} bytes, but its header says {} (truncated or overwritten)", full,
           file.size(), h.file_size);
    if (wf->size() != file.size())
      fail("weight file '{}': is {} bytes, but the plan expects {} bytes", full, file.size(),
           wf->size());
    weightFiles_.push_back(std::move(file));
  }
}

void LoadedPlan::checkWeights(const LoadOptions &options) {
  if (!plan_->weights())
    return;
  const auto &weights = *plan_->weights();
  for (uint32_t i = 0; i < weights.size(); ++i) {
    const fb::WeightEntry &w = *weights.Get(i);
    std::string where = fmt::format("plan '{}': weight {} '{}'", path_, i, str(w.name()));
    if (w.file() >= weightFiles_.size())
      fail("{}: file index {} is out of range (the plan has {} weight files)", where, w.file(),
           weightFiles_.size());
    const llm::MappedFile &file = weightFiles_[w.file()];
    const std::string shape = shapeString(w);
    checkQuantized(where, w, shape);
    checkFloatLayout(where, w, shape);
    uint64_t expected;
    if (!byteSizeOf(w, expected))
      fail("{}: shape {} is invalid", where, shape);
    if (w.size() != expected)
      fail("{}: size is {} bytes, expected {} for shape {} of {}", where, w.size(), expected,
           shape, fb::EnumNameDType(w.dtype()));
    if (w.offset() % kWeightAlignment != 0)
      fail("{}: offset {} is not {}-byte aligned", where, w.offset(), kWeightAlignment);
    uint64_t end;
    if (w.offset() < kWeightAlignment || __builtin_add_overflow(w.offset(), w.size(), &end) ||
        end > file.size())
      fail("{}: bytes [{}, {}+{}) lie outside the tensor area of '{}' ([{}, {}))", where,
           w.offset(), w.offset(), w.size(), file.path(), kWeightAlignment, file.size());
  }
  if (!options.verifyChecksums)
    return;
  // Hash in parallel: this is the one step of loading whose cost grows with the model.
  std::vector<uint64_t> actual(weights.size());
  ThreadPool::global().parallelFor(
      static_cast<int64_t>(weights.size()), [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
          const fb::WeightEntry &w = *weights.Get(i);
          actual[i] = XXH3_64bits(weightFiles_[w.file()].data() + w.offset(), w.size());
        }
      });
  for (uint32_t i = 0; i < weights.size(); ++i) {
    const fb::WeightEntry &w = *weights.Get(i);
    if (actual[i] != w.checksum())
      fail("weight file '{}': checksum mismatch for weight {} '{}' at offset {}: XXH3 is {:#018x}, "
           "the plan expects {:#018x} (corrupt weight data)",
           weightFiles_[w.file()].path(), i, str(w.name()), w.offset(), actual[i], w.checksum());
  }
}

void LoadedPlan::checkPrograms() {
  if (!plan_->programs() || plan_->programs()->size() == 0)
    fail("plan '{}': has no programs, expected one per tensor-parallel rank", path_);
  uint32_t numWeights = plan_->weights() ? plan_->weights()->size() : 0;
  const reg::TargetInfo *target = reg::findTarget(str(plan_->target()));
  if (!target)
    fail("plan '{}': unknown target '{}' (known: {})", path_, str(plan_->target()),
         reg::targetNames());
  for (uint32_t r = 0; r < plan_->programs()->size(); ++r) {
    const fb::Program &program = *plan_->programs()->Get(r);
    if (program.calls())
      for (uint32_t c = 0; c < program.calls()->size(); ++c)
        checkCall(path_, c, *program.calls()->Get(c), program, numWeights, target->family);
    std::string where = fmt::format("plan '{}': program {} output", path_, r);
    checkBuffer(where, program.output(), program);
    if (program.output()->rows() != fb::Rows::LogitRows ||
        program.output()->dtype() != fb::DType::F32)
      fail("{}: expected F32 logits with LogitRows rows", where);
  }
}

const uint8_t *LoadedPlan::weightBytes(uint32_t index) const {
  if (!plan_->weights() || index >= plan_->weights()->size())
    fail("plan '{}': weight index {} is out of range", path_, index);
  const fb::WeightEntry &w = *plan_->weights()->Get(index);
  return weightFiles_[w.file()].data() + w.offset();
}

const float *LoadedPlan::weightF32(uint32_t index) const {
  const uint8_t *bytes = weightBytes(index);
  const fb::WeightEntry &w = *plan_->weights()->Get(index);
  if (w.dtype() != fb::DType::F32)
    fail("plan '{}': weight {} '{}' is {}, expected F32", path_, index, str(w.name()),
         fb::EnumNameDType(w.dtype()));
  // Aligned: offsets are 4 KiB multiples inside a page-aligned mapping.
  return reinterpret_cast<const float *>(bytes);
}

std::string LoadedPlan::describe() const {
  const fb::Plan &p = *plan_;
  std::string s;
  appendLine(s, "plan: {}", path_);
  appendLine(s, "schema: {}.{} (runtime supports {}.x)", p.schema_major(), p.schema_minor(),
             kPlanSchemaMajor);
  appendLine(s, "plan id: {:#018x}", p.plan_id());
  appendLine(s, "producer: {}", str(p.producer()));
  if (const fb::ModelInfo *m = p.model()) {
    appendLine(s, "model: {} (architecture {})", str(m->name()), str(m->architecture()));
    appendLine(s, "  vocab {}, hidden {}, layers {}, max positions {}, source dtype {}",
               m->vocab_size(), m->hidden_size(), m->num_layers(), m->max_position_embeddings(),
               str(m->source_dtype()));
  }
  appendLine(s, "target: {}, tensor-parallel size {}", str(p.target()), p.tp_size());
  if (const fb::KVCacheSpec *kv = p.kv_cache())
    appendLine(s,
               "kv cache: {} layers, {} kv heads, head dim {}, {}, block size {}, max seq len {}",
               kv->num_layers(), kv->num_kv_heads(), kv->head_dim(), fb::EnumNameDType(kv->dtype()),
               kv->block_size(), kv->max_seq_len());
  for (uint32_t r = 0; r < p.programs()->size(); ++r) {
    const fb::Program &prog = *p.programs()->Get(r);
    std::map<std::string, int> counts;
    uint32_t numCalls = prog.calls() ? prog.calls()->size() : 0;
    for (uint32_t c = 0; c < numCalls; ++c)
      ++counts[prog.calls()->Get(c)->kernel()->str()];
    appendLine(s, "program {} (rank {}): {} calls, arena {} bytes/token + {} bytes/logit row", r,
               prog.rank(), numCalls, prog.arena_bytes_per_token(),
               prog.arena_bytes_per_logit_row());
    for (const auto &[name, n] : counts)
      appendLine(s, "  {:<12} {}", name, n);
  }
  uint64_t totalBytes = 0;
  uint32_t numWeights = p.weights() ? p.weights()->size() : 0;
  std::map<std::string, std::pair<uint32_t, uint64_t>> byDType; // tensors and bytes per dtype
  for (uint32_t i = 0; i < numWeights; ++i) {
    const fb::WeightEntry &w = *p.weights()->Get(i);
    totalBytes += w.size();
    auto &[n, bytes] = byDType[fb::EnumNameDType(w.dtype())];
    ++n;
    bytes += w.size();
  }
  appendLine(s, "weights: {} tensors, {} bytes ({:.2f} MiB) in {} files", numWeights, totalBytes,
             totalBytes / (1024.0 * 1024.0), weightFiles_.size());
  for (const auto &[dtype, nb] : byDType)
    appendLine(s, "  {:<5} {} tensors, {:.2f} MiB", dtype, nb.first, nb.second / (1024.0 * 1024.0));
  std::string tok;
  if (p.tokenizer_files())
    for (const fb::TokenizerFile *t : *p.tokenizer_files())
      tok += fmt::format("{}{} ({} bytes)", tok.empty() ? "" : ", ", str(t->name()),
                         t->data() ? t->data()->size() : 0);
  appendLine(s, "tokenizer files: {}", tok.empty() ? "none" : tok);
  appendLine(s, "chat template: {}",
             p.chat_template() && p.chat_template()->size()
                 ? fmt::format("{} bytes", p.chat_template()->size())
                 : std::string("none"));
  if (const fb::GenerationDefaults *g = p.generation()) {
    std::string eos;
    if (g->eos_token_ids())
      for (int id : *g->eos_token_ids())
        eos += fmt::format("{}{}", eos.empty() ? "" : " ", id);
    appendLine(
        s,
        "generation defaults: temperature {}, top_k {}, top_p {}, max_new_tokens {}, bos {}, "
        "eos [{}]",
        g->temperature(), g->top_k(), g->top_p(), g->max_new_tokens(), g->bos_token_id(), eos);
  } else {
    appendLine(s, "generation defaults: none");
  }
  return s;
}

std::string LoadedPlan::describeWeightMemory() const {
  uint64_t bytes = 0;
  bool copied = false, huge = true;
  for (const llm::MappedFile &f : weightFiles_) {
    bytes += f.size();
    copied = copied || f.backing() == llm::MappedFile::Backing::HugePages;
    huge = huge && f.hugePages();
  }
  const size_t n = weightFiles_.size();
  const std::string files = fmt::format("{} file{}", n, n == 1 ? "" : "s");
  const double mib = bytes / (1024.0 * 1024.0);
  if (!copied)
    return fmt::format("{:.1f} MiB mapped from {}", mib, files);
  return fmt::format("{:.1f} MiB read from {} into {}", mib, files,
                     huge ? "huge pages"
                          : "memory (transparent huge pages are off: 4 KiB pages)");
}

} // namespace llmrt
