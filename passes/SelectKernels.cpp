// llm-select-kernels: lowers every llm op to a call of a registry kernel for the module's target,
// with tunable parameters from the tuning database or the registry's defaults.
#include "Passes.h"

#include "llm/RopeParams.h"
#include "plan/FloatTiles.h"
#include "plan/QuantFormat.h"
#include "registry/KernelRegistry.h"
#include "support/Error.h"
#include "tuning/TuningDB.h"

#include "mlir/IR/Builders.h"

#include <map>
#include <optional>

namespace llm {
#define GEN_PASS_DEF_SELECTKERNELS
#include "Passes.h.inc"

namespace {

using namespace mlir;
namespace reg = llm::registry;

// A call's tunables per token-count bucket (read by emission).
constexpr StringLiteral kBucketsAttr = "kplan.buckets";

int64_t cols(Value v) { return cast<RankedTensorType>(v.getType()).getDimSize(1); }

// Parameters of one call, in the registry's vocabulary.
struct Params {
  OpBuilder &b;
  SmallVector<NamedAttribute> list;

  Params &i64(StringRef name, int64_t v) {
    list.push_back(b.getNamedAttr(name, b.getI64IntegerAttr(v)));
    return *this;
  }
  Params &f64(StringRef name, double v) {
    list.push_back(b.getNamedAttr(name, b.getF64FloatAttr(v)));
    return *this;
  }
  Params &str(StringRef name, StringRef v) {
    list.push_back(b.getNamedAttr(name, b.getStringAttr(v)));
    return *this;
  }
  Params &floats(StringRef name, ArrayRef<float> v) {
    list.push_back(b.getNamedAttr(name, b.getDenseF32ArrayAttr(v)));
    return *this;
  }
  Params &rope(const RopeParams &r, int64_t headDim) {
    return floats("inv_freq", r.inverseFrequencies(headDim)).f64("attention_factor", 1.0);
  }
};

// A kernel call to build: name, params, operands; the op's results are replaced by its results.
struct Call {
  StringRef kernel;
  SmallVector<NamedAttribute> params;
  SmallVector<Value> inputs, weights;
  SmallVector<Attribute> buckets; // kplan.buckets: tunables per token-count bucket
};

// The quantized format of a (lowered) weight, or "" for f32.
StringRef quantOf(Value w) {
  auto op = w.getDefiningOp<kplan::WeightOp>();
  return op && op.getQuant() ? *op.getQuant() : StringRef();
}

std::optional<Call> lowerCall(Operation *op, OpBuilder &b) {
  Params p{b, {}};
  // Kernels reading a quantized matrix take its format (the registry's weight_format), and a
  // matrix in another layout than its format's default (row_blocks, row_major) that layout.
  auto format = [&](Value w) {
    auto op = w.getDefiningOp<kplan::WeightOp>();
    if (!op)
      return;
    StringRef q = quantOf(w), layout = op.getLayout();
    if (!q.empty())
      p.str("weight_format", q);
    std::string_view plain = q.empty() ? llm::floattiles::kRowMajorLayout
                                       : llm::quant::kRowBlocksLayout;
    if (layout != StringRef(plain.data(), plain.size()))
      p.str("weight_layout", layout);
  };
  auto call = [&](StringRef kernel, ValueRange inputs, ValueRange weights) {
    return Call{kernel, p.list, SmallVector<Value>(inputs), SmallVector<Value>(weights)};
  };
  if (auto e = dyn_cast<EmbeddingOp>(op)) {
    auto t = cast<RankedTensorType>(e.getTable().getType());
    p.i64("hidden", t.getDimSize(1)).i64("vocab", t.getDimSize(0));
    format(e.getTable());
    return call("embedding", e.getIds(), e.getTable());
  }
  if (auto n = dyn_cast<RMSNormOp>(op)) {
    p.i64("hidden", cols(n.getInput())).f64("eps", n.getEps().convertToDouble());
    return call("rms_norm", n.getInput(), n.getWeight());
  }
  if (auto n = dyn_cast<LayerNormOp>(op)) {
    p.i64("hidden", cols(n.getInput())).f64("eps", n.getEps().convertToDouble());
    return call("layer_norm", n.getInput(), ValueRange{n.getWeight(), n.getBias()});
  }
  if (auto n = dyn_cast<AddRMSNormOp>(op)) {
    p.i64("hidden", cols(n.getLhs())).f64("eps", n.getEps().convertToDouble());
    return call("add_rms_norm", ValueRange{n.getLhs(), n.getRhs()}, n.getWeight());
  }
  if (auto lin = dyn_cast<LinearOp>(op)) {
    SmallVector<Value> weights{lin.getWeight()};
    if (lin.getBias())
      weights.push_back(lin.getBias());
    p.i64("in_features", cols(lin.getInput()))
        .i64("out_features", cols(lin.getResult()))
        .i64("has_bias", lin.getBias() ? 1 : 0);
    if (auto e = lin.getEpilogue())
      p.str("epilogue", *e);
    format(lin.getWeight());
    return call("linear", lin.getInput(), weights);
  }
  if (auto r = dyn_cast<RopeOp>(op)) {
    p.i64("num_heads", r.getNumHeads()).i64("head_dim", r.getHeadDim());
    p.rope(RopeParams::fromOp(r), r.getHeadDim());
    return call("rope", ValueRange{r.getInput(), r.getPositions()}, {});
  }
  if (auto a = dyn_cast<AttentionOp>(op)) {
    p.i64("layer", a.getLayer())
        .i64("num_heads", a.getNumHeads())
        .i64("num_kv_heads", a.getNumKvHeads())
        .i64("head_dim", a.getHeadDim())
        .f64("scale", a.getScale().convertToDouble())
        .i64("sliding_window", a.getSlidingWindow());
    if (auto dict = a.getRopeAttr()) {
      // The verifier has checked the dictionary.
      std::string error;
      p.rope(*RopeParams::fromDict(dict, error), a.getHeadDim());
    }
    // Positions are a step input every attention kernel reads to write the KV cache.
    return call(a.isPacked() ? "attention_qkv" : "attention", a.getQkv(), {});
  }
  if (auto g = dyn_cast<GatedActOp>(op)) {
    p.i64("width", cols(g.getResult())).str("act", g.getAct());
    return call("gated_act", ValueRange{g.getGate(), g.getUp()}, {});
  }
  if (auto g = dyn_cast<GluOp>(op)) {
    p.i64("width", cols(g.getResult())).str("act", g.getAct());
    return call("glu", g.getInput(), {});
  }
  if (auto s = dyn_cast<AddOp>(op)) {
    p.i64("width", cols(s.getResult()));
    return call("add", s->getOperands(), {});
  }
  if (auto m = dyn_cast<MulOp>(op)) {
    p.i64("width", cols(m.getResult()));
    return call("mul", m->getOperands(), {});
  }
  if (auto lg = dyn_cast<LogitsOp>(op)) {
    auto w = cast<RankedTensorType>(lg.getWeight().getType());
    p.i64("hidden", w.getDimSize(1)).i64("vocab", w.getDimSize(0));
    format(lg.getWeight());
    return call("logits", ValueRange{lg.getInput(), lg.getRows()}, lg.getWeight());
  }
  return std::nullopt;
}

// The checkpoint tensors a weight value is made of, in stacking order, and their `quant` formats
// ("" for f32).
LogicalResult weightSources(Value w, SmallVectorImpl<Attribute> &names, OpBuilder &b,
                            SmallVectorImpl<StringRef> *quants = nullptr) {
  if (auto op = w.getDefiningOp<WeightOp>()) {
    if (quants)
      quants->push_back(op.getQuant() ? *op.getQuant() : StringRef());
    return names.push_back(op.getNameAttr()), success();
  }
  if (auto concat = w.getDefiningOp<WeightConcatOp>()) {
    for (Value part : concat.getParts())
      if (failed(weightSources(part, names, b, quants)))
        return failure();
    return success();
  }
  if (auto op = w.getDefiningOp<kplan::WeightOp>()) {
    if (quants)
      quants->append(op.getSources().size(), op.getQuant() ? *op.getQuant() : StringRef());
    return names.append(op.getSources().begin(), op.getSources().end()), success();
  }
  return failure();
}

struct SelectKernelsPass : impl::SelectKernelsBase<SelectKernelsPass> {
  using SelectKernelsBase::SelectKernelsBase;

  LogicalResult initialize(MLIRContext *) override {
    if (tuningDb.empty())
      return success();
    // NOTE: the reader throws llm::Error; it is caught here, so it never crosses MLIR frames.
    try {
      db_ = std::make_shared<llmc::TuningDB>(llmc::TuningDB::load(tuningDb));
    } catch (const llm::Error &e) {
      dbError_ = e.what();
    }
    return success();
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto targetAttr = module->getAttrOfType<StringAttr>(kplan::kTargetAttr);
    const reg::TargetInfo *target = targetAttr ? reg::findTarget(targetAttr.getValue()) : nullptr;
    if (!target) {
      module.emitError("select-kernels needs a known '")
          << kplan::kTargetAttr << "' (known: " << reg::targetNames() << ")";
      return signalPassFailure();
    }
    if (!dbError_.empty()) {
      module.emitError(dbError_);
      return signalPassFailure();
    }
    OpBuilder b(module.getContext());
    SmallVector<Operation *> ops;
    module.walk([&](Operation *op) {
      if (isa<LLMDialect>(op->getDialect()))
        ops.push_back(op);
    });
    int64_t tuned = 0;
    for (Operation *op : ops) {
      b.setInsertionPoint(op);
      if (isa<WeightOp, WeightConcatOp>(op)) {
        if (failed(lowerWeight(op, *target, b)))
          return signalPassFailure();
        continue;
      }
      std::optional<Call> call = lowerCall(op, b);
      if (!call) {
        op->emitError("no kernel for '") << op->getName() << "' on target " << target->name.data();
        return signalPassFailure();
      }
      tuned += addTunables(*call, *target, b);
      auto k = b.create<kplan::CallOp>(op->getLoc(), op->getResultTypes(),
                                       b.getStringAttr(call->kernel), call->inputs, call->weights,
                                       b.getDictionaryAttr(call->params), DenseI64ArrayAttr());
      if (!call->buckets.empty())
        k->setAttr(kBucketsAttr, b.getArrayAttr(call->buckets));
      ++numCalls;
      op->replaceAllUsesWith(k->getResults());
      op->erase();
    }
    // Weights only stacked into others (fused projections) are not written on their own.
    SmallVector<kplan::WeightOp> dead;
    module.walk([&](kplan::WeightOp w) {
      if (w->use_empty())
        dead.push_back(w);
    });
    for (kplan::WeightOp w : dead)
      w.erase();
    numTuned += tuned;
    module->setAttr("kplan.tuned_calls", b.getI64IntegerAttr(tuned));
    if (!bucketRanges_.empty()) {
      SmallVector<Attribute> ranges;
      for (const auto &[min, name] : bucketRanges_)
        ranges.push_back(b.getStringAttr(name));
      module->setAttr("kplan.tuned_buckets", b.getArrayAttr(ranges));
    }
  }

  // Whether a weight's rows, and each half of it that a glu linear reads ([gate; up]), are whole
  // tiles of `tile` rows.
  static bool wholeTiles(Operation *op, int64_t tile) {
    const int64_t rows = cast<RankedTensorType>(op->getResult(0).getType()).getDimSize(0);
    bool whole = rows % tile == 0;
    for (Operation *user : op->getResult(0).getUsers())
      if (auto lin = dyn_cast<LinearOp>(user); lin && lin.getEpilogue())
        whole = whole && (rows / 2) % tile == 0;
    return whole;
  }

  // The layout of a quantized weight on the target: the CPU kernels' tiles (rows8_blocks) for the
  // formats that have them when the rows, and a glu linear's halves, are whole tiles; else
  // row_blocks.
  static StringRef quantLayout(Operation *op, StringRef quant, const reg::TargetInfo &target) {
    std::optional<llm::quant::Scheme> s = llm::quant::parseScheme(quant);
    if (target.family != reg::TargetFamily::Cpu || !s || !llm::quant::hasRows8Layout(*s))
      return llm::quant::kRowBlocksLayout.data();
    return wholeTiles(op, llm::quant::kTileRows) ? llm::quant::kRows8Layout.data()
                                                 : llm::quant::kRowBlocksLayout.data();
  }

  // The layout of a float32 weight on the target: the CPU float kernels' tiles (rows8) for a
  // matrix of whole tiles (and a glu linear's halves) that only embedding, linear and logits
  // read; else row_major.
  static StringRef floatLayout(Operation *op, const reg::TargetInfo &target) {
    auto t = cast<RankedTensorType>(op->getResult(0).getType());
    if (target.family != reg::TargetFamily::Cpu || t.getRank() != 2 ||
        !llm::floattiles::fitsRows8(t.getDimSize(0), t.getDimSize(1)) ||
        !wholeTiles(op, llm::floattiles::kTileRows))
      return llm::floattiles::kRowMajorLayout;
    for (Operation *user : op->getResult(0).getUsers()) {
      if (auto lin = dyn_cast<LinearOp>(user)) {
        if (lin.getWeight() != op->getResult(0))
          return llm::floattiles::kRowMajorLayout;
      } else if (auto e = dyn_cast<EmbeddingOp>(user)) {
        if (e.getTable() != op->getResult(0))
          return llm::floattiles::kRowMajorLayout;
      } else if (auto lg = dyn_cast<LogitsOp>(user)) {
        if (lg.getWeight() != op->getResult(0))
          return llm::floattiles::kRowMajorLayout;
      } else {
        return llm::floattiles::kRowMajorLayout;
      }
    }
    return llm::floattiles::kRows8Layout;
  }

  LogicalResult lowerWeight(Operation *op, const reg::TargetInfo &target, OpBuilder &b) {
    SmallVector<Attribute> names;
    SmallVector<StringRef> quants;
    if (failed(weightSources(op->getResult(0), names, b, &quants)))
      return op->emitError("weights can only be stacked from llm.weight values");
    // llm-quantize-weights gives stacked parts one format.
    if (llvm::any_of(quants, [&](StringRef q) { return q != quants.front(); }))
      return op->emitError("stacked weights have different quant formats");
    bool quantized = !quants.empty() && !quants.front().empty();
    auto w = b.create<kplan::WeightOp>(
        op->getLoc(), op->getResult(0).getType(), b.getArrayAttr(names),
        b.getStringAttr(quantized ? quantLayout(op, quants.front(), target)
                                  : floatLayout(op, target)),
        quantized ? b.getStringAttr(quants.front()) : StringAttr());
    op->replaceAllUsesWith(w);
    op->erase();
    return success();
  }

  // Adds the kernel's tunables for the target family: the database's entry for every token count,
  // else the defaults; entries for token-count buckets become the call's `kplan.buckets`
  // ([{min, max (absent: no bound), params}], the plan's KernelCall.buckets). Returns 1 when
  // anything came from the database.
  int addTunables(Call &call, const reg::TargetInfo &target, OpBuilder &b) {
    const reg::KernelSpec *spec = reg::findKernel(call.kernel);
    auto tunables = reg::tunables(*spec, target.family);
    if (tunables.empty())
      return 0;
    const llmc::TuningDB::Params *found = nullptr;
    std::vector<const llmc::TuningDB::Entry *> bucketed;
    if (db_) {
      llmc::TuningDB::Params shape;
      for (const NamedAttribute &na : call.params)
        if (auto i = dyn_cast<IntegerAttr>(na.getValue()))
          shape[na.getName().str()] = i.getInt();
      std::string key = llmc::TuningDB::shapeKey(call.kernel, shape);
      found = db_->lookup(target.name, call.kernel, key);
      bucketed = db_->buckets(target.name, call.kernel, key);
    }
    for (const reg::TunableSpec &t : tunables)
      call.params.push_back(b.getNamedAttr(StringRef(t.name.data(), t.name.size()),
                                           b.getI64IntegerAttr(pick(t, found))));
    for (const llmc::TuningDB::Entry *e : bucketed) {
      SmallVector<NamedAttribute> params;
      for (const reg::TunableSpec &t : tunables)
        params.push_back(b.getNamedAttr(StringRef(t.name.data(), t.name.size()),
                                        b.getI64IntegerAttr(pick(t, &e->params))));
      SmallVector<NamedAttribute> bucket{
          b.getNamedAttr("min", b.getI64IntegerAttr(e->tokens->min)),
          b.getNamedAttr("params", b.getDictionaryAttr(params))};
      if (e->tokens->max)
        bucket.push_back(b.getNamedAttr("max", b.getI64IntegerAttr(e->tokens->max)));
      call.buckets.push_back(b.getDictionaryAttr(bucket));
      bucketRanges_.emplace(e->tokens->min, e->tokens->str());
    }
    return found || !bucketed.empty() ? 1 : 0;
  }

  // A tunable's value: the entry's when it gives one, else the registry default.
  static int64_t pick(const reg::TunableSpec &t, const llmc::TuningDB::Params *entry) {
    if (entry)
      if (auto it = entry->find(std::string(t.name)); it != entry->end())
        return it->second;
    return t.defaultValue;
  }

  std::shared_ptr<llmc::TuningDB> db_;
  std::string dbError_;
  std::map<int64_t, std::string> bucketRanges_; // the buckets used, by first row count
};

} // namespace
} // namespace llm
