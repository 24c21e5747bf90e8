// llm-select-kernels: lowers every llm op to a call of a registry kernel for the module's target.
// The CPU target has one variant per kernel for now; variants and tuned parameters come with the
// tuning database.
#include "Passes.h"

#include "mlir/IR/Builders.h"

#include <cmath>

namespace llm {
#define GEN_PASS_DEF_SELECTKERNELS
#include "Passes.h.inc"

namespace {

using namespace mlir;

// Rope's inverse frequencies, as transformers computes them (float32 exponent and power), then
// scaled. linear: every frequency / factor. llama3: wavelengths longer than
// original/low_freq_factor are divided by factor, shorter than original/high_freq_factor kept, and
// the band between interpolated smoothly.
SmallVector<float> ropeInverseFrequencies(RopeOp op) {
  int64_t dim = op.getHeadDim();
  float base = static_cast<float>(op.getTheta().convertToDouble());
  double factor = op.getFactor().convertToDouble();
  SmallVector<float> inv;
  for (int64_t i = 0; i < dim; i += 2) {
    float exponent = static_cast<float>(i) / static_cast<float>(dim);
    inv.push_back(1.0f / std::pow(base, exponent));
  }
  StringRef scaling = op.getScaling();
  if (scaling == "linear") {
    for (float &f : inv)
      f = static_cast<float>(f / factor);
  } else if (scaling == "llama3") {
    double low = op.getLowFreqFactor().convertToDouble();
    double high = op.getHighFreqFactor().convertToDouble();
    double original = static_cast<double>(op.getOriginalMaxPositions());
    double lowWavelen = original / low, highWavelen = original / high;
    for (float &f : inv) {
      double wavelen = 2 * M_PI / f;
      if (wavelen > lowWavelen) {
        f = static_cast<float>(f / factor);
      } else if (wavelen >= highWavelen) {
        double smooth = (original / wavelen - low) / (high - low);
        f = static_cast<float>((1 - smooth) * f / factor + smooth * f);
      }
    }
  }
  return inv;
}

struct Lowering {
  OpBuilder &b;
  SmallVector<NamedAttribute> params;

  Lowering &i64(StringRef name, int64_t v) {
    params.push_back(b.getNamedAttr(name, b.getI64IntegerAttr(v)));
    return *this;
  }
  Lowering &f64(StringRef name, double v) {
    params.push_back(b.getNamedAttr(name, b.getF64FloatAttr(v)));
    return *this;
  }
  Lowering &str(StringRef name, StringRef v) {
    params.push_back(b.getNamedAttr(name, b.getStringAttr(v)));
    return *this;
  }
  Lowering &floats(StringRef name, ArrayRef<float> v) {
    params.push_back(b.getNamedAttr(name, b.getDenseF32ArrayAttr(v)));
    return *this;
  }

  kplan::CallOp call(Operation *op, StringRef kernel, ValueRange inputs, ValueRange weights) {
    return b.create<kplan::CallOp>(op->getLoc(), op->getResult(0).getType(),
                                   b.getStringAttr(kernel), inputs, weights,
                                   b.getDictionaryAttr(params), IntegerAttr());
  }
};

int64_t cols(Value v) { return cast<RankedTensorType>(v.getType()).getDimSize(1); }

// Builds the kernel call for one llm op, or returns nullptr for ops that are not kernel calls.
Operation *lower(Operation *op, OpBuilder &b) {
  Lowering l{b, {}};
  if (auto w = dyn_cast<WeightOp>(op))
    return b.create<kplan::WeightOp>(w.getLoc(), w.getType(), w.getNameAttr(),
                                     b.getStringAttr("row_major"));
  if (auto e = dyn_cast<EmbeddingOp>(op)) {
    auto t = cast<RankedTensorType>(e.getTable().getType());
    return l.i64("hidden", t.getDimSize(1))
        .i64("vocab", t.getDimSize(0))
        .call(op, "embedding", e.getIds(), e.getTable());
  }
  if (auto n = dyn_cast<RMSNormOp>(op))
    return l.i64("hidden", cols(n.getInput()))
        .f64("eps", n.getEps().convertToDouble())
        .call(op, "rms_norm", n.getInput(), n.getWeight());
  if (auto n = dyn_cast<LayerNormOp>(op))
    return l.i64("hidden", cols(n.getInput()))
        .f64("eps", n.getEps().convertToDouble())
        .call(op, "layer_norm", n.getInput(), ValueRange{n.getWeight(), n.getBias()});
  if (auto lin = dyn_cast<LinearOp>(op)) {
    SmallVector<Value> weights{lin.getWeight()};
    if (lin.getBias())
      weights.push_back(lin.getBias());
    return l.i64("in_features", cols(lin.getInput()))
        .i64("out_features", cols(lin.getResult()))
        .i64("has_bias", lin.getBias() ? 1 : 0)
        .call(op, "linear", lin.getInput(), weights);
  }
  if (auto r = dyn_cast<RopeOp>(op))
    return l.i64("num_heads", r.getNumHeads())
        .i64("head_dim", r.getHeadDim())
        .floats("inv_freq", ropeInverseFrequencies(r))
        .f64("attention_factor", 1.0)
        .call(op, "rope", ValueRange{r.getInput(), r.getPositions()}, {});
  if (auto a = dyn_cast<AttentionOp>(op))
    return l.i64("layer", a.getLayer())
        .i64("num_heads", a.getNumHeads())
        .i64("num_kv_heads", a.getNumKvHeads())
        .i64("head_dim", a.getHeadDim())
        .f64("scale", a.getScale().convertToDouble())
        .i64("sliding_window", a.getSlidingWindow())
        .call(op, "attention", ValueRange{a.getQuery(), a.getKey(), a.getValue()}, {});
  if (auto g = dyn_cast<GatedActOp>(op))
    return l.i64("width", cols(g.getResult()))
        .str("act", g.getAct())
        .call(op, "gated_act", ValueRange{g.getGate(), g.getUp()}, {});
  if (auto s = dyn_cast<AddOp>(op))
    return l.i64("width", cols(s.getResult())).call(op, "add", s->getOperands(), {});
  if (auto m = dyn_cast<MulOp>(op))
    return l.i64("width", cols(m.getResult())).call(op, "mul", m->getOperands(), {});
  if (auto lg = dyn_cast<LogitsOp>(op)) {
    auto w = cast<RankedTensorType>(lg.getWeight().getType());
    return l.i64("hidden", w.getDimSize(1))
        .i64("vocab", w.getDimSize(0))
        .call(op, "logits", ValueRange{lg.getInput(), lg.getRows()}, lg.getWeight());
  }
  return nullptr;
}

struct SelectKernelsPass : impl::SelectKernelsBase<SelectKernelsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto target = module->getAttrOfType<StringAttr>(kplan::kTargetAttr);
    if (!target || !isKnownTarget(target.getValue())) {
      module.emitError("select-kernels needs a known '") << kplan::kTargetAttr << "' (known: cpu)";
      return signalPassFailure();
    }
    OpBuilder b(module.getContext());
    SmallVector<Operation *> ops;
    module.walk([&](Operation *op) {
      if (isa<LLMDialect>(op->getDialect()))
        ops.push_back(op);
    });
    for (Operation *op : ops) {
      b.setInsertionPoint(op);
      Operation *replacement = lower(op, b);
      if (!replacement) {
        op->emitError("no kernel for '") << op->getName() << "' on target " << target;
        return signalPassFailure();
      }
      if (isa<kplan::CallOp>(replacement))
        ++numCalls;
      op->replaceAllUsesWith(replacement);
      op->erase();
    }
  }
};

} // namespace
} // namespace llm
