// Verifiers of the llm dialect: shapes must agree with the attributes, so that every later pass
// and the plan can trust them.
#include "llm/LLMDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace llm;

#include "llm/LLMDialect.cpp.inc"

void LLMDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "llm/LLMOps.cpp.inc"
      >();
}

#define GET_OP_CLASSES
#include "llm/LLMOps.cpp.inc"

namespace {

// Row width of an activation matrix (its static second dimension), or -1 when dynamic.
int64_t width(Value v) {
  auto t = cast<RankedTensorType>(v.getType());
  return t.getDimSize(1);
}

LogicalResult expectShape(Operation *op, Value v, ArrayRef<int64_t> shape, StringRef what) {
  auto t = cast<RankedTensorType>(v.getType());
  if (t.getShape() != shape) {
    std::string expected;
    llvm::raw_string_ostream os(expected);
    llvm::interleave(shape, os, "x");
    return op->emitOpError() << what << " must have shape " << expected << ", got " << t;
  }
  return success();
}

LogicalResult expectWidth(Operation *op, Value v, int64_t expected, StringRef what) {
  int64_t w = width(v);
  if (w != expected)
    return op->emitOpError() << what << " must have " << expected << " columns, got " << w;
  return success();
}

} // namespace

LogicalResult WeightOp::verify() {
  if (getName().empty())
    return emitOpError("needs a non-empty weight name");
  if (!getResult().getType().hasStaticShape())
    return emitOpError("weights must have a static shape");
  return success();
}

LogicalResult EmbeddingOp::verify() {
  auto table = cast<RankedTensorType>(getTable().getType());
  if (table.getRank() != 2)
    return emitOpError("table must be vocab x hidden");
  return expectWidth(*this, getResult(), table.getDimSize(1), "result");
}

LogicalResult RMSNormOp::verify() {
  if (!(getEps().convertToDouble() > 0))
    return emitOpError("eps must be positive");
  if (failed(expectShape(*this, getWeight(), {width(getInput())}, "weight")))
    return failure();
  return expectWidth(*this, getResult(), width(getInput()), "result");
}

LogicalResult LayerNormOp::verify() {
  if (!(getEps().convertToDouble() > 0))
    return emitOpError("eps must be positive");
  int64_t h = width(getInput());
  if (failed(expectShape(*this, getWeight(), {h}, "weight")) ||
      failed(expectShape(*this, getBias(), {h}, "bias")))
    return failure();
  return expectWidth(*this, getResult(), h, "result");
}

LogicalResult LinearOp::verify() {
  auto w = cast<RankedTensorType>(getWeight().getType());
  if (w.getRank() != 2)
    return emitOpError("weight must be out_features x in_features");
  if (failed(expectWidth(*this, getInput(), w.getDimSize(1), "input")))
    return failure();
  if (getBias() && failed(expectShape(*this, getBias(), {w.getDimSize(0)}, "bias")))
    return failure();
  return expectWidth(*this, getResult(), w.getDimSize(0), "result");
}

LogicalResult RopeOp::verify() {
  int64_t heads = getNumHeadsAttr().getInt(), headDim = getHeadDimAttr().getInt();
  if (heads <= 0 || headDim <= 0 || headDim % 2 != 0)
    return emitOpError("needs num_heads > 0 and an even head_dim > 0");
  if (failed(expectWidth(*this, getInput(), heads * headDim, "input")))
    return failure();
  if (getResult().getType() != getInput().getType())
    return emitOpError("result type must equal the input type");
  if (!(getTheta().convertToDouble() > 0))
    return emitOpError("theta must be positive");
  StringRef s = getScaling();
  double factor = getFactor().convertToDouble();
  if (s == "none")
    return success();
  if (s == "linear")
    return factor > 0 ? success() : emitOpError("linear scaling needs factor > 0");
  if (s == "llama3") {
    if (!(factor > 0) || !(getLowFreqFactor().convertToDouble() > 0) ||
        !(getHighFreqFactor().convertToDouble() > getLowFreqFactor().convertToDouble()) ||
        getOriginalMaxPositionsAttr().getInt() <= 0)
      return emitOpError("llama3 scaling needs factor > 0, high_freq_factor > low_freq_factor "
                         "> 0 and original_max_positions > 0");
    return success();
  }
  return emitOpError("scaling must be none, linear or llama3, got '") << s << "'";
}

LogicalResult AttentionOp::verify() {
  // Signed reads: I64Attr getters return unsigned values, and negative ones must be refused.
  int64_t h = getNumHeadsAttr().getInt(), kv = getNumKvHeadsAttr().getInt(),
          d = getHeadDimAttr().getInt();
  if (h <= 0 || kv <= 0 || d <= 0 || h % kv != 0)
    return emitOpError("num_heads must be a positive multiple of num_kv_heads, head_dim > 0");
  if (getLayerAttr().getInt() < 0 || getSlidingWindowAttr().getInt() < 0)
    return emitOpError("layer and sliding_window must be non-negative");
  if (failed(expectWidth(*this, getQuery(), h * d, "query")) ||
      failed(expectWidth(*this, getKey(), kv * d, "key")) ||
      failed(expectWidth(*this, getValue(), kv * d, "value")))
    return failure();
  return expectWidth(*this, getResult(), h * d, "result");
}

LogicalResult GatedActOp::verify() {
  StringRef a = getAct();
  if (a != "silu" && a != "gelu" && a != "gelu_tanh")
    return emitOpError("act must be silu, gelu or gelu_tanh, got '") << a << "'";
  return success();
}

LogicalResult LogitsOp::verify() {
  auto w = cast<RankedTensorType>(getWeight().getType());
  if (w.getRank() != 2)
    return emitOpError("weight must be vocab x hidden");
  if (failed(expectWidth(*this, getInput(), w.getDimSize(1), "input")))
    return failure();
  return expectWidth(*this, getResult(), w.getDimSize(0), "result");
}
