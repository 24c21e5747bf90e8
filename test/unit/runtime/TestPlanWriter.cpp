#include "TestPlanWriter.h"

#include <flatbuffers/flatbuffers.h>
#include <xxhash.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <stdexcept>

namespace llmrt::test {
namespace fs = std::filesystem;

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "llmrt-test-XXXXXX").string();
  if (!::mkdtemp(tmpl.data()))
    throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

TBuffer stepInput(uint32_t index, fb::Rows rows) {
  TBuffer b;
  b.space = fb::Space::StepInput;
  b.inputIndex = index;
  b.rowBytes = 4;
  b.rows = rows;
  b.dtype = fb::DType::I32;
  return b;
}

TBuffer arenaF32(uint64_t offsetPerToken, int64_t width, fb::Rows rows) {
  TBuffer b;
  b.offsetPerToken = offsetPerToken;
  b.rowBytes = static_cast<uint64_t>(width) * 4;
  b.rows = rows;
  return b;
}

TParam intParam(std::string name, int64_t v) {
  TParam p{std::move(name), fb::ParamKind::Int};
  p.i = v;
  return p;
}
TParam floatParam(std::string name, double v) {
  TParam p{std::move(name), fb::ParamKind::Float};
  p.f = v;
  return p;
}
TParam stringParam(std::string name, std::string v) {
  TParam p{std::move(name), fb::ParamKind::String};
  p.s = std::move(v);
  return p;
}
TParam arrayParam(std::string name, std::vector<float> v) {
  TParam p{std::move(name), fb::ParamKind::FloatArray};
  p.array = std::move(v);
  return p;
}

TBuffer ArenaLayout::take(int64_t width, fb::Rows rows) {
  uint64_t &next = rows == fb::Rows::LogitRows ? nextRow_ : next_;
  TBuffer b = arenaF32(next, width, rows);
  // 64-byte steps keep every buffer cache-line aligned for any token count.
  next += (b.rowBytes + 63) / 64 * 64;
  return b;
}

std::vector<float> randomFloats(size_t n, uint64_t seed, float scale) {
  std::mt19937_64 rng(seed);
  std::vector<float> v(n);
  for (float &x : v)
    x = static_cast<float>((static_cast<double>(rng() >> 11) * 0x1.0p-53 * 2 - 1) * scale);
  return v;
}

namespace {

flatbuffers::Offset<fb::Buffer> buildBuffer(flatbuffers::FlatBufferBuilder &b, const TBuffer &t) {
  return fb::CreateBuffer(b, t.space, t.inputIndex, t.offsetPerToken, t.rowBytes, t.rows, t.dtype);
}

flatbuffers::Offset<fb::KernelCall> buildCall(flatbuffers::FlatBufferBuilder &b, const TCall &c) {
  std::vector<flatbuffers::Offset<fb::Param>> params;
  for (const TParam &p : c.params)
    params.push_back(
        fb::CreateParamDirect(b, p.name.c_str(), p.kind, p.i, p.f,
                              p.kind == fb::ParamKind::String ? p.s.c_str() : nullptr,
                              p.kind == fb::ParamKind::FloatArray ? &p.array : nullptr));
  std::vector<flatbuffers::Offset<fb::Buffer>> inputs, outputs;
  for (const TBuffer &t : c.inputs)
    inputs.push_back(buildBuffer(b, t));
  for (const TBuffer &t : c.outputs)
    outputs.push_back(buildBuffer(b, t));
  return fb::CreateKernelCallDirect(b, c.kernel.c_str(), &params, &inputs, &outputs, &c.weights,
                                    c.label.empty() ? nullptr : c.label.c_str());
}

// Lays out one weight file: header page, then each of its tensors at the next 4 KiB boundary.
struct FileImage {
  std::vector<uint8_t> bytes = std::vector<uint8_t>(kWeightAlignment, 0);
  uint64_t append(const void *data, size_t size) {
    uint64_t offset = bytes.size();
    bytes.resize(offset + size);
    std::memcpy(bytes.data() + offset, data, size);
    bytes.resize((bytes.size() + kWeightAlignment - 1) / kWeightAlignment * kWeightAlignment);
    return offset;
  }
};

const void *bytesOf(const TWeight &w) {
  return w.dtype == fb::DType::F32 ? static_cast<const void *>(w.data.data()) : w.blocks.data();
}
size_t sizeOf(const TWeight &w) {
  return w.dtype == fb::DType::F32 ? w.data.size() * 4 : w.blocks.size();
}

void writeFile(const fs::path &path, const void *data, size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(static_cast<const char *>(data), static_cast<std::streamsize>(size));
  if (!out)
    throw std::runtime_error("cannot write " + path.string());
}

} // namespace

WrittenPlan writePlan(const TPlan &plan, const fs::path &dir) {
  WrittenPlan written;
  std::vector<FileImage> images(plan.numWeightFiles);
  for (const TWeight &w : plan.weights)
    written.weightOffsets.push_back(images.at(w.file).append(bytesOf(w), sizeOf(w)));
  for (FileImage &img : images) {
    WeightFileHeader h{};
    std::memcpy(h.magic, kWeightFileMagic, sizeof h.magic);
    h.version = kWeightFileVersion;
    h.plan_id = plan.weightFilePlanId.value_or(plan.planId);
    h.file_size = img.bytes.size();
    std::memcpy(img.bytes.data(), &h, sizeof h);
  }

  flatbuffers::FlatBufferBuilder b;
  std::vector<flatbuffers::Offset<fb::WeightFile>> files;
  for (uint32_t i = 0; i < plan.numWeightFiles; ++i) {
    std::string name = "weights-" + std::to_string(i) + ".bin";
    written.weightFiles.push_back(dir / name);
    writeFile(dir / name, images[i].bytes.data(), images[i].bytes.size());
    files.push_back(fb::CreateWeightFileDirect(b, name.c_str(), images[i].bytes.size()));
  }
  std::vector<flatbuffers::Offset<fb::WeightEntry>> weights;
  for (size_t i = 0; i < plan.weights.size(); ++i) {
    const TWeight &w = plan.weights[i];
    uint64_t size = sizeOf(w);
    uint64_t checksum = XXH3_64bits(bytesOf(w), size);
    weights.push_back(fb::CreateWeightEntryDirect(
        b, w.name.c_str(), w.dtype, &w.shape, w.layout.c_str(), w.file,
        w.offsetOverride.value_or(written.weightOffsets[i]), w.sizeOverride.value_or(size),
        w.checksumOverride.value_or(checksum)));
  }
  std::vector<flatbuffers::Offset<fb::KernelCall>> calls;
  for (const TCall &c : plan.calls)
    calls.push_back(buildCall(b, c));
  std::vector<flatbuffers::Offset<flatbuffers::String>> inputs;
  for (const std::string &s : plan.inputs)
    inputs.push_back(b.CreateString(s));
  std::vector<flatbuffers::Offset<fb::Program>> programs{fb::CreateProgramDirect(
      b, 0, &inputs, &calls, buildBuffer(b, plan.output), plan.arenaBytesPerToken,
      plan.arenaBytesPerLogitRow)};
  auto model = fb::CreateModelInfoDirect(b, "tiny-test", "TestForCausalLM", plan.vocab, plan.hidden,
                                         plan.kvLayers, 128, "float32");
  auto generation = fb::CreateGenerationDefaultsDirect(b, 0.0f, 0, 1.0f, 8, -1, &plan.eos);
  auto kv = fb::CreateKVCacheSpec(b, plan.kvLayers, plan.kvHeads, plan.headDim, plan.kvDtype, 16,
                                  plan.kvMaxSeqLen);
  auto root = fb::CreatePlanDirect(b, plan.schemaMajor, plan.schemaMinor, plan.planId,
                                   "TestPlanWriter", model, nullptr, nullptr, generation,
                                   "cpu-avx2", 1, &programs, kv, &weights, &files);
  b.Finish(root, fb::PlanIdentifier());
  written.plan = dir / "plan.fb";
  writeFile(written.plan, b.GetBufferPointer(), b.GetSize());
  return written;
}

TPlan tinyPlan(uint32_t vocab, uint32_t hidden, uint64_t seed) {
  TPlan p;
  p.vocab = vocab;
  p.hidden = hidden;
  p.weights = {
      {"embed_tokens.weight", {vocab, hidden}, randomFloats(size_t{vocab} * hidden, seed)},
      {"norm.weight", {hidden}, randomFloats(hidden, seed + 1)},
      {"lm_head.weight", {vocab, hidden}, randomFloats(size_t{vocab} * hidden, seed + 2)},
  };
  ArenaLayout arena;
  TBuffer x = arena.take(hidden), normed = arena.take(hidden);
  TBuffer logits = arena.take(vocab, fb::Rows::LogitRows);
  int64_t h = hidden, v = vocab;
  p.calls = {
      {"embedding",
       {intParam("hidden", h), intParam("vocab", v)},
       {stepInput(0)},
       {x},
       {0},
       "embed"},
      {"rms_norm", {intParam("hidden", h), floatParam("eps", 1e-5)}, {x}, {normed}, {1}, "norm"},
      {"logits",
       {intParam("hidden", h), intParam("vocab", v)},
       {normed, stepInput(2, fb::Rows::LogitRows)},
       {logits},
       {2},
       "lm_head"},
  };
  p.output = logits;
  p.arenaBytesPerToken = arena.bytesPerToken();
  p.arenaBytesPerLogitRow = arena.bytesPerLogitRow();
  return p;
}

} // namespace llmrt::test
