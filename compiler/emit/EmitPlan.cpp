#include "emit/EmitPlan.h"

#include "kplan/KPlanDialect.h"
#include "plan/PlanVersion.h"
#include "plan/FloatTiles.h"
#include "plan/QuantFormat.h"
#include "plan_generated.h"
#include "registry/KernelRegistry.h"
#include "support/Error.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <xxhash.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace llmc {
namespace {

using namespace mlir;
namespace fb = llmrt::fb;
namespace fs = std::filesystem;

uint64_t alignUp(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

std::string label(Location loc) {
  if (auto n = dyn_cast<NameLoc>(loc))
    return n.getName().str();
  if (auto f = dyn_cast<FusedLoc>(loc))
    return f.getLocations().empty() ? std::string() : label(f.getLocations().front());
  return {};
}

// A plan weight's name: its source, or the sources joined with '+' when it stacks several.
std::string weightName(kplan::WeightOp w) {
  std::string name;
  for (Attribute a : w.getSources()) {
    if (!name.empty())
      name += '+';
    name += cast<StringAttr>(a).getValue();
  }
  return name;
}

// The ops of @forward, collected first so that nothing below runs inside an MLIR callback.
struct PlannedProgram {
  func::FuncOp forward;
  std::vector<kplan::WeightOp> weights;
  std::vector<kplan::CallOp> calls;
  Value output;
  uint64_t arenaBytesPerToken = 0;
  uint64_t arenaBytesPerLogitRow = 0;
};

PlannedProgram collect(ModuleOp module) {
  PlannedProgram p;
  p.forward = module.lookupSymbol<func::FuncOp>("forward");
  if (!p.forward)
    llm::fail("emission: the module has no @forward function");
  auto arena = p.forward->getAttrOfType<IntegerAttr>(kplan::kArenaAttr);
  if (!arena)
    llm::fail("emission: @forward has no '{}' (run llm-plan-buffers first)",
              kplan::kArenaAttr.str());
  p.arenaBytesPerToken = arena.getInt();
  if (auto rows = p.forward->getAttrOfType<IntegerAttr>(kplan::kLogitArenaAttr))
    p.arenaBytesPerLogitRow = rows.getInt();
  for (Operation &op : p.forward.getBody().front()) {
    if (auto w = dyn_cast<kplan::WeightOp>(op))
      p.weights.push_back(w);
    else if (auto c = dyn_cast<kplan::CallOp>(op))
      p.calls.push_back(c);
    else if (auto r = dyn_cast<func::ReturnOp>(op))
      p.output = r.getOperand(0);
    else
      llm::fail("emission: unexpected op '{}' in @forward (lower to kplan first)",
                op.getName().getStringRef().str());
  }
  return p;
}

class WeightWriter {
public:
  WeightWriter(const std::string &path) : path_(path), out_(path, std::ios::binary | std::ios::trunc) {
    if (!out_)
      llm::fail("cannot write '{}': {}", path, std::strerror(errno));
    std::vector<char> header(llmrt::kWeightAlignment, 0);
    out_.write(header.data(), header.size());
    offset_ = header.size();
  }

  // Appends one tensor (4 KiB aligned); returns its offset.
  uint64_t append(std::span<const uint8_t> data, uint64_t &checksum) {
    uint64_t start = alignUp(offset_, llmrt::kWeightAlignment);
    pad(start - offset_);
    out_.write(reinterpret_cast<const char *>(data.data()), data.size());
    checksum = XXH3_64bits(data.data(), data.size());
    offset_ = start + data.size();
    return start;
  }

  uint64_t finish(uint64_t planId) {
    uint64_t end = alignUp(offset_, llmrt::kWeightAlignment);
    pad(end - offset_);
    offset_ = end;
    llmrt::WeightFileHeader h{};
    std::memcpy(h.magic, llmrt::kWeightFileMagic, sizeof h.magic);
    h.version = llmrt::kWeightFileVersion;
    h.plan_id = planId;
    h.file_size = end;
    out_.seekp(0);
    out_.write(reinterpret_cast<const char *>(&h), sizeof h);
    out_.close();
    if (!out_)
      llm::fail("error while writing '{}'", path_);
    return end;
  }

private:
  void pad(uint64_t n) {
    static const char zeros[4096] = {};
    while (n > 0) {
      uint64_t k = std::min<uint64_t>(n, sizeof zeros);
      out_.write(zeros, k);
      n -= k;
    }
  }
  std::string path_;
  std::ofstream out_;
  uint64_t offset_ = 0;
};

// The checkpoint tensors a plan weight stacks, checked against the weight's type: their element
// counts add up, and every part has the weight's trailing dimensions.
std::vector<const SourceTensor *> sources(const WeightSource &weights, kplan::WeightOp w) {
  auto shape = cast<RankedTensorType>(w.getType()).getShape();
  int64_t rowElems = ShapedType::getNumElements(shape.drop_front());
  std::vector<const SourceTensor *> parts;
  int64_t total = 0;
  for (Attribute a : w.getSources()) {
    std::string name = cast<StringAttr>(a).str();
    const SourceTensor *t = weights.find(name);
    if (!t)
      llm::fail("emission: weight '{}' is not in {}", name, weights.location());
    if (rowElems == 0 || t->numel() % rowElems != 0)
      llm::fail("emission: weight '{}' ({} elements) does not stack into rows of {}", name,
                t->numel(), rowElems);
    total += t->numel();
    parts.push_back(t);
  }
  if (total != ShapedType::getNumElements(shape))
    llm::fail("emission: weight {} has {} elements in {}, the plan expects {}", weightName(w),
              total, weights.location(), ShapedType::getNumElements(shape));
  return parts;
}

// A plan weight's bytes: f32 row-major, or blocks of its quant format (row_blocks), each stacked
// source copied from the checkpoint when it stores that format, else quantized from float32; then
// repacked into tiles when its layout is rows8_blocks (quantized) or rows8 (f32).
std::vector<uint8_t> weightData(const WeightSource &weights, kplan::WeightOp w, fb::DType &dtype) {
  auto shape = cast<RankedTensorType>(w.getType()).getShape();
  int64_t numel = ShapedType::getNumElements(shape);
  std::vector<const SourceTensor *> parts = sources(weights, w);
  if (!w.getQuant()) {
    dtype = fb::DType::F32;
    std::vector<uint8_t> data(numel * sizeof(float));
    size_t at = 0;
    for (const SourceTensor *t : parts) {
      weights.readFloat32(t->name, std::span<float>(reinterpret_cast<float *>(data.data()) + at,
                                                    t->numel()));
      at += t->numel();
    }
    if (w.getLayout() == llm::floattiles::kRows8Layout.data()) { // the CPU float kernels' tiles
      std::vector<uint8_t> tiles(data.size());
      llm::floattiles::toRows8(reinterpret_cast<const float *>(data.data()), shape[0], shape[1],
                               reinterpret_cast<float *>(tiles.data()));
      data.swap(tiles);
    }
    return data;
  }
  llm::quant::Scheme scheme = *llm::quant::parseScheme(w.getQuant()->str());
  switch (scheme) {
  case llm::quant::Scheme::Q8_0: dtype = fb::DType::Q8_0; break;
  case llm::quant::Scheme::Q4_0: dtype = fb::DType::Q4_0; break;
  case llm::quant::Scheme::Q4_1: dtype = fb::DType::Q4_1; break;
  case llm::quant::Scheme::W8: dtype = fb::DType::W8; break;
  case llm::quant::Scheme::Q4_K: dtype = fb::DType::Q4_K; break;
  case llm::quant::Scheme::Q5_K: dtype = fb::DType::Q5_K; break;
  case llm::quant::Scheme::Q6_K: dtype = fb::DType::Q6_K; break;
  case llm::quant::Scheme::W4G32: dtype = fb::DType::W4G32; break;
  case llm::quant::Scheme::W4G64: dtype = fb::DType::W4G64; break;
  case llm::quant::Scheme::W4G128: dtype = fb::DType::W4G128; break;
  case llm::quant::Scheme::W4G32A: dtype = fb::DType::W4G32A; break;
  case llm::quant::Scheme::W4G64A: dtype = fb::DType::W4G64A; break;
  case llm::quant::Scheme::W4G128A: dtype = fb::DType::W4G128A; break;
  case llm::quant::Scheme::FP8: dtype = fb::DType::WFP8; break;
  case llm::quant::Scheme::Q5_0: dtype = fb::DType::Q5_0; break;
  case llm::quant::Scheme::Q5_1: dtype = fb::DType::Q5_1; break;
  }
  std::string stored = fb::EnumNameDType(dtype); // ggml's name of the same blocks
  int64_t cols = shape.back();
  std::vector<uint8_t> data(llm::quant::tensorBytes(scheme, numel / cols, cols));
  size_t at = 0;
  std::vector<float> floats;
  for (const SourceTensor *t : parts) {
    std::span<uint8_t> out(data.data() + at, llm::quant::tensorBytes(scheme, t->numel() / cols, cols));
    if (!weights.readBlocks(t->name, stored, out)) {
      floats.resize(t->numel());
      weights.readFloat32(t->name, floats);
      llm::quant::quantizeRows(scheme, floats.data(), t->numel() / cols, cols, out.data());
    }
    at += out.size();
  }
  if (w.getLayout() == llm::quant::kRows8Layout.data()) { // repacked into the kernels' tiles
    std::vector<uint8_t> tiles(data.size());
    llm::quant::toRows8(scheme, data.data(), numel / cols, cols, tiles.data());
    data.swap(tiles);
  }
  return data;
}

flatbuffers::Offset<fb::Param> param(flatbuffers::FlatBufferBuilder &b, NamedAttribute na) {
  auto name = b.CreateString(na.getName().str());
  Attribute a = na.getValue();
  if (auto i = dyn_cast<IntegerAttr>(a))
    return fb::CreateParam(b, name, fb::ParamKind::Int, i.getInt());
  if (auto f = dyn_cast<FloatAttr>(a))
    return fb::CreateParam(b, name, fb::ParamKind::Float, 0, f.getValueAsDouble());
  if (auto s = dyn_cast<StringAttr>(a))
    return fb::CreateParam(b, name, fb::ParamKind::String, 0, 0, b.CreateString(s.str()));
  if (auto arr = dyn_cast<DenseF32ArrayAttr>(a)) {
    std::vector<float> v(arr.asArrayRef().begin(), arr.asArrayRef().end());
    return fb::CreateParam(b, name, fb::ParamKind::FloatArray, 0, 0, 0, b.CreateVector(v));
  }
  llm::fail("emission: parameter '{}' has an unsupported attribute kind", na.getName().str());
}

// Tunables per token-count bucket (select-kernels' `kplan.buckets`: [{min, max?, params}]).
flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<fb::TunableBucket>>>
buckets(flatbuffers::FlatBufferBuilder &b, kplan::CallOp c) {
  auto list = c->getAttrOfType<ArrayAttr>("kplan.buckets");
  if (!list)
    return 0;
  std::vector<flatbuffers::Offset<fb::TunableBucket>> out;
  for (Attribute a : list) {
    auto d = cast<DictionaryAttr>(a);
    auto max = d.getAs<IntegerAttr>("max");
    std::vector<flatbuffers::Offset<fb::Param>> params;
    for (NamedAttribute na : d.getAs<DictionaryAttr>("params"))
      params.push_back(param(b, na));
    out.push_back(fb::CreateTunableBucket(b, d.getAs<IntegerAttr>("min").getInt(),
                                          max ? max.getInt() : 0, b.CreateVector(params)));
  }
  return b.CreateVector(out);
}

} // namespace

EmitSummary emitPlan(ModuleOp module, const EmitInputs &in, const std::string &planPath,
                     const Progress &progress) {
  PlannedProgram prog = collect(module);
  EmitSummary summary;
  summary.arenaBytesPerToken = prog.arenaBytesPerToken;
  summary.arenaBytesPerLogitRow = prog.arenaBytesPerLogitRow;

  fs::path plan(planPath);
  std::error_code mkdirError;
  if (plan.has_parent_path())
    fs::create_directories(plan.parent_path(), mkdirError);
  if (mkdirError)
    llm::fail("cannot create the folder of '{}': {}", planPath, mkdirError.message());
  fs::path weightsPath = plan;
  weightsPath.replace_extension(".weights");
  summary.weightFile = weightsPath.filename().string();
  std::string tmpWeights = weightsPath.string() + ".tmp";
  std::string tmpPlan = planPath + ".tmp";

  // Weights: float32 row-major or quantized blocks (row_blocks or tiles), 4 KiB aligned.
  flatbuffers::FlatBufferBuilder b(1 << 20);
  llvm::DenseMap<Value, uint32_t> weightIndex;
  std::vector<flatbuffers::Offset<fb::WeightEntry>> entries;
  uint64_t total = 0; // progress in elements
  for (kplan::WeightOp w : prog.weights)
    total += ShapedType::getNumElements(cast<RankedTensorType>(w.getType()).getShape());
  uint64_t idHash = XXH3_64bits(planPath.data(), 0);
  {
    WeightWriter writer(tmpWeights);
    uint64_t done = 0;
    for (kplan::WeightOp w : prog.weights) {
      // Stacked sources are written one after the other: row-wise concatenation.
      fb::DType dtype = fb::DType::F32;
      std::vector<uint8_t> data = weightData(*in.weights, w, dtype);
      uint64_t checksum = 0;
      uint64_t offset = writer.append(data, checksum);
      idHash = XXH3_64bits_withSeed(&checksum, sizeof checksum, idHash);
      auto shape = cast<RankedTensorType>(w.getType()).getShape();
      std::vector<int64_t> dims(shape.begin(), shape.end());
      entries.push_back(fb::CreateWeightEntry(
          b, b.CreateString(weightName(w)), dtype, b.CreateVector(dims),
          b.CreateString(w.getLayout().str()), 0, offset, data.size(), checksum));
      weightIndex[w.getResult()] = entries.size() - 1;
      done += ShapedType::getNumElements(shape);
      summary.weightBytes += data.size();
      summary.bytesByDType[fb::EnumNameDType(dtype)] += data.size();
      if (progress)
        progress(done, total);
    }
    uint64_t planId = idHash;
    uint64_t size = writer.finish(planId);
    auto files = b.CreateVector(std::vector{
        fb::CreateWeightFile(b, b.CreateString(summary.weightFile), size)});
    summary.numWeights = entries.size();

    // The program.
    auto bufferOf = [&](Value v) -> flatbuffers::Offset<fb::Buffer> {
      if (auto arg = dyn_cast<BlockArgument>(v)) {
        // Step inputs hold one id per token, except logit_rows: one per requested row.
        auto name = prog.forward.getArgAttrOfType<StringAttr>(arg.getArgNumber(), "llm.input");
        bool perLogitRow = name && name.getValue() == StringRef(llm::registry::kInputLogitRows);
        return fb::CreateBuffer(b, fb::Space::StepInput, arg.getArgNumber(), 0, 4,
                                perLogitRow ? fb::Rows::LogitRows : fb::Rows::Tokens,
                                fb::DType::I32);
      }
      auto call = v.getDefiningOp<kplan::CallOp>();
      if (!call || !call.getArenaOffsetsAttr())
        llm::fail("emission: a kernel input is neither a step input nor a planned call result");
      int64_t offset = call.getArenaOffsetsAttr()[cast<OpResult>(v).getResultNumber()];
      const auto *spec = llm::registry::findKernel(call.getKernel());
      auto t = cast<RankedTensorType>(v.getType());
      uint64_t rowBytes = t.getDimSize(1) * sizeof(float);
      return fb::CreateBuffer(b, fb::Space::Arena, 0, offset, rowBytes,
                              spec->outputRows == llm::registry::Rows::LogitRows
                                  ? fb::Rows::LogitRows
                                  : fb::Rows::Tokens,
                              fb::DType::F32);
    };
    std::vector<flatbuffers::Offset<fb::KernelCall>> calls;
    uint32_t numLayers = 0, kvHeads = 0, headDim = 0;
    for (kplan::CallOp c : prog.calls) {
      std::vector<flatbuffers::Offset<fb::Param>> params;
      for (NamedAttribute na : c.getParams())
        params.push_back(param(b, na));
      std::vector<flatbuffers::Offset<fb::Buffer>> ins;
      for (Value v : c.getInputs())
        ins.push_back(bufferOf(v));
      std::vector<uint32_t> ws;
      for (Value v : c.getWeights())
        ws.push_back(weightIndex.at(v));
      std::vector<flatbuffers::Offset<fb::Buffer>> outs;
      for (Value r : c.getResults())
        outs.push_back(bufferOf(r));
      std::string kernel = c.getKernel().str();
      calls.push_back(fb::CreateKernelCall(b, b.CreateString(kernel), b.CreateVector(params),
                                           b.CreateVector(ins), b.CreateVector(outs),
                                           b.CreateVector(ws), b.CreateString(label(c.getLoc())),
                                           buckets(b, c)));
      summary.callsByKernel[kernel]++;
      if (kernel == "attention" || kernel == "attention_qkv") {
        ++numLayers;
        auto p = c.getParams();
        kvHeads = cast<IntegerAttr>(p.get("num_kv_heads")).getInt();
        headDim = cast<IntegerAttr>(p.get("head_dim")).getInt();
      }
    }
    summary.numCalls = calls.size();
    std::vector<flatbuffers::Offset<flatbuffers::String>> inputNames;
    for (unsigned i = 0; i < prog.forward.getNumArguments(); ++i) {
      auto name = prog.forward.getArgAttrOfType<StringAttr>(i, "llm.input");
      inputNames.push_back(b.CreateString(name ? name.str() : fmt::format("input{}", i)));
    }
    auto program = fb::CreateProgram(b, 0, b.CreateVector(inputNames), b.CreateVector(calls),
                                     bufferOf(prog.output), prog.arenaBytesPerToken,
                                     prog.arenaBytesPerLogitRow);

    const ModelConfig &cfg = *in.config;
    auto model = fb::CreateModelInfo(
        b, b.CreateString(in.modelName), b.CreateString(cfg.architecture), cfg.vocabSize,
        cfg.hiddenSize, cfg.numLayers, cfg.maxPositions,
        b.CreateString(in.weights->dominantDType()));
    std::vector<flatbuffers::Offset<fb::TokenizerFile>> tok;
    for (const auto &[name, data] : in.tokenizerFiles)
      tok.push_back(fb::CreateTokenizerFile(
          b, b.CreateString(name),
          b.CreateVector(reinterpret_cast<const uint8_t *>(data.data()), data.size())));
    std::vector<int> eos(in.generation.eosTokenIds.begin(), in.generation.eosTokenIds.end());
    auto gen = fb::CreateGenerationDefaults(b, in.generation.temperature, in.generation.topK,
                                            in.generation.topP, in.generation.maxNewTokens,
                                            in.generation.bosTokenId, b.CreateVector(eos));
    auto kv = fb::CreateKVCacheSpec(b, numLayers, kvHeads, headDim,
                                    llmrt::planDType(in.kvCacheDtype), 16,
                                    cfg.maxPositions);
    auto target = module->getAttrOfType<StringAttr>(kplan::kTargetAttr);
    auto root = fb::CreatePlan(
        b, llmrt::kPlanSchemaMajor, llmrt::kPlanSchemaMinor, planId, b.CreateString("llmc"), model,
        b.CreateVector(tok), b.CreateString(in.chatTemplate), gen,
        b.CreateString(target ? target.str() : "cpu"), 1, b.CreateVector(std::vector{program}), kv,
        b.CreateVector(entries), files);
    fb::FinishPlanBuffer(b, root);
  }
  {
    std::ofstream out(tmpPlan, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char *>(b.GetBufferPointer()), b.GetSize());
    out.close();
    if (!out)
      llm::fail("error while writing '{}'", tmpPlan);
  }
  std::error_code ec;
  fs::rename(tmpWeights, weightsPath, ec);
  if (!ec)
    fs::rename(tmpPlan, plan, ec);
  if (ec)
    llm::fail("cannot move the plan into place at '{}': {}", planPath, ec.message());
  return summary;
}

} // namespace llmc
