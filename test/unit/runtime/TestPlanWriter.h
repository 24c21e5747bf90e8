// Writes small plans and their weight files for runtime tests, in the format llmc emits: plan.fb
// (FlatBuffers, identifier "LLMP") and weight files with a 4 KiB header page and 4 KiB-aligned
// tensors checksummed with XXH3. A test describes the plan with the plain structs below, changes
// what it wants broken, and writes it into a temporary folder.
#pragma once

#include "plan/PlanVersion.h"
#include "plan_generated.h"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace llmrt::test {

// A fresh folder under the system temp folder, removed with everything in it at destruction.
class TempDir {
public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;
  const std::filesystem::path &path() const { return path_; }

private:
  std::filesystem::path path_;
};

struct TBuffer {
  fb::Space space = fb::Space::Arena;
  uint32_t inputIndex = 0;
  uint64_t offsetPerToken = 0;
  uint64_t rowBytes = 0;
  fb::Rows rows = fb::Rows::Tokens;
  fb::DType dtype = fb::DType::F32;
};
TBuffer stepInput(uint32_t index, fb::Rows rows = fb::Rows::Tokens);
TBuffer arenaF32(uint64_t offsetPerToken, int64_t width, fb::Rows rows = fb::Rows::Tokens);

struct TParam {
  std::string name;
  fb::ParamKind kind = fb::ParamKind::Int;
  int64_t i = 0;
  double f = 0;
  std::string s{};
  std::vector<float> array{};
};
TParam intParam(std::string name, int64_t v);
TParam floatParam(std::string name, double v);
TParam stringParam(std::string name, std::string v);
TParam arrayParam(std::string name, std::vector<float> v);

struct TCall {
  std::string kernel;
  std::vector<TParam> params{};
  std::vector<TBuffer> inputs{};
  std::vector<TBuffer> outputs{};
  std::vector<uint32_t> weights{};
  std::string label{};
};

struct TWeight {
  std::string name;
  std::vector<int64_t> shape{};
  std::vector<float> data{};
  uint32_t file = 0;
  // A quantized weight: `blocks` are written instead of `data`, with this dtype and layout.
  fb::DType dtype = fb::DType::F32;
  std::vector<uint8_t> blocks{};
  std::string layout = "row_major";
  // What the plan's entry says when a test wants it to lie; the data is written where it belongs.
  std::optional<uint64_t> offsetOverride{}, sizeOverride{}, checksumOverride{};
};

struct TPlan {
  uint16_t schemaMajor = kPlanSchemaMajor;
  uint16_t schemaMinor = kPlanSchemaMinor;
  uint64_t planId = 0x5eed0001;
  std::vector<std::string> inputs = {"token_ids", "positions", "logit_rows"};
  std::vector<TCall> calls;
  TBuffer output;
  uint64_t arenaBytesPerToken = 0;
  uint64_t arenaBytesPerLogitRow = 0;
  uint32_t kvLayers = 0, kvHeads = 0, headDim = 0, kvMaxSeqLen = 64;
  fb::DType kvDtype = fb::DType::F32;
  std::vector<TWeight> weights;
  uint32_t numWeightFiles = 1;
  uint32_t vocab = 0, hidden = 0;
  std::vector<int32_t> eos;
  // The plan id written into the weight files' headers (a file "from another plan").
  std::optional<uint64_t> weightFilePlanId;
};

struct WrittenPlan {
  std::filesystem::path plan;
  std::vector<std::filesystem::path> weightFiles;
  std::vector<uint64_t> weightOffsets; // where each weight's data really is
};

WrittenPlan writePlan(const TPlan &plan, const std::filesystem::path &dir);

// Hands out arena offsets to buffers, one after the other: bytes per token for Tokens buffers,
// bytes per logit row (in the region after the tokens' one) for LogitRows buffers.
class ArenaLayout {
public:
  TBuffer take(int64_t width, fb::Rows rows = fb::Rows::Tokens);
  uint64_t bytesPerToken() const { return next_; }
  uint64_t bytesPerLogitRow() const { return nextRow_; }

private:
  uint64_t next_ = 0;
  uint64_t nextRow_ = 0;
};

// Deterministic pseudo-random floats in [-scale, scale).
std::vector<float> randomFloats(size_t n, uint64_t seed, float scale = 1.0f);

// embedding -> rms_norm -> logits, random weights: the smallest plan that produces logits.
TPlan tinyPlan(uint32_t vocab = 11, uint32_t hidden = 8, uint64_t seed = 1);

} // namespace llmrt::test
