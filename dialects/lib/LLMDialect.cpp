// Verifiers of the llm dialect: shapes must agree with the attributes, so that every later pass
// and the plan can trust them.
#include "llm/LLMDialect.h"
#include "plan/QuantFormat.h"
#include "llm/RopeParams.h"

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
  if (auto q = getQuant()) {
    std::optional<llm::quant::Scheme> s = llm::quant::parseScheme(q->str());
    if (!s)
      return emitOpError("unknown quant '")
             << *q << "' (known: q8_0, q4_0, q4_1, q5_0, q5_1, w8, q4_k, q5_k, q6_k, w4g32, "
             << "w4g64, w4g128, w4g32a, w4g64a, w4g128a, fp8)";
    auto t = cast<RankedTensorType>(getResult().getType());
    if (t.getRank() != 2 || t.getDimSize(1) % llm::quant::blockElems(*s) != 0)
      return emitOpError("quant '")
             << *q << "' needs a matrix whose rows are whole blocks of "
             << llm::quant::blockElems(*s) << " elements, got " << t;
  }
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

static bool isGluEpilogue(StringRef e) {
  return e == "glu_silu" || e == "glu_gelu" || e == "glu_gelu_tanh";
}

static bool isActivation(StringRef a) { return a == "silu" || a == "gelu" || a == "gelu_tanh"; }

LogicalResult LinearOp::verify() {
  auto w = cast<RankedTensorType>(getWeight().getType());
  if (w.getRank() != 2)
    return emitOpError("weight must be out_features x in_features");
  if (failed(expectWidth(*this, getInput(), w.getDimSize(1), "input")))
    return failure();
  if (getBias() && failed(expectShape(*this, getBias(), {w.getDimSize(0)}, "bias")))
    return failure();
  int64_t out = w.getDimSize(0);
  if (auto e = getEpilogue()) {
    if (!isGluEpilogue(*e))
      return emitOpError("epilogue must be glu_silu, glu_gelu or glu_gelu_tanh, got '") << *e << "'";
    if (out % 2 != 0)
      return emitOpError("a glu epilogue needs an even number of weight rows (gate then up)");
    out /= 2;
  }
  return expectWidth(*this, getResult(), out, "result");
}

LogicalResult GluOp::verify() {
  if (!isActivation(getAct()))
    return emitOpError("act must be silu, gelu or gelu_tanh, got '") << getAct() << "'";
  return expectWidth(*this, getInput(), 2 * width(getResult()), "input");
}

LogicalResult AddRMSNormOp::verify() {
  if (!(getEps().convertToDouble() > 0))
    return emitOpError("eps must be positive");
  int64_t h = width(getLhs());
  if (getRhs().getType() != getLhs().getType() || getSum().getType() != getLhs().getType() ||
      getNormed().getType() != getLhs().getType())
    return emitOpError("operands and results must all have the same type");
  return expectShape(*this, getWeight(), {h}, "weight");
}

LogicalResult WeightConcatOp::verify() {
  auto parts = getParts();
  if (parts.empty())
    return emitOpError("needs at least one part");
  auto first = cast<RankedTensorType>(parts[0].getType());
  int64_t rows = 0;
  for (Value p : parts) {
    auto t = cast<RankedTensorType>(p.getType());
    if (t.getRank() != first.getRank() || t.getShape().drop_front() != first.getShape().drop_front())
      return emitOpError("parts must agree in every dimension but the first");
    rows += t.getDimSize(0);
  }
  SmallVector<int64_t> shape(first.getShape());
  shape[0] = rows;
  return expectShape(*this, getResult(), shape, "result");
}

OpFoldResult WeightConcatOp::fold(FoldAdaptor) {
  // Stacking one weight is that weight.
  if (getParts().size() == 1 && getParts()[0].getType() == getResult().getType())
    return getParts()[0];
  return {};
}

LogicalResult RopeOp::verify() {
  int64_t heads = getNumHeadsAttr().getInt(), headDim = getHeadDimAttr().getInt();
  if (heads <= 0 || headDim <= 0 || headDim % 2 != 0)
    return emitOpError("needs num_heads > 0 and an even head_dim > 0");
  if (failed(expectWidth(*this, getInput(), heads * headDim, "input")))
    return failure();
  if (getResult().getType() != getInput().getType())
    return emitOpError("result type must equal the input type");
  std::string error = RopeParams::fromOp(*this).validate();
  return error.empty() ? success() : emitOpError(error);
}

LogicalResult AttentionOp::verify() {
  // Signed reads: I64Attr getters return unsigned values, and negative ones must be refused.
  int64_t h = getNumHeadsAttr().getInt(), kv = getNumKvHeadsAttr().getInt(),
          d = getHeadDimAttr().getInt();
  if (h <= 0 || kv <= 0 || d <= 0 || h % kv != 0)
    return emitOpError("num_heads must be a positive multiple of num_kv_heads, head_dim > 0");
  if (getLayerAttr().getInt() < 0 || getSlidingWindowAttr().getInt() < 0)
    return emitOpError("layer and sliding_window must be non-negative");
  auto qkv = getQkv();
  if (qkv.size() == 1) {
    if (failed(expectWidth(*this, qkv[0], (h + 2 * kv) * d, "packed qkv")))
      return failure();
  } else if (qkv.size() == 3) {
    if (failed(expectWidth(*this, qkv[0], h * d, "query")) ||
        failed(expectWidth(*this, qkv[1], kv * d, "key")) ||
        failed(expectWidth(*this, qkv[2], kv * d, "value")))
      return failure();
  } else {
    return emitOpError("takes q, k, v or one packed qkv operand, got ") << qkv.size();
  }
  if (bool(getPositions()) != bool(getRopeAttr()))
    return emitOpError("a rope prologue needs both rope(%positions) and the rope dictionary");
  if (auto dict = getRopeAttr()) {
    if (d % 2 != 0)
      return emitOpError("rope needs an even head_dim");
    std::string error;
    auto rope = RopeParams::fromDict(dict, error);
    if (succeeded(rope))
      error = rope->validate();
    if (!error.empty())
      return emitOpError(error);
  }
  return expectWidth(*this, getResult(), h * d, "result");
}

LogicalResult GatedActOp::verify() {
  if (!isActivation(getAct()))
    return emitOpError("act must be silu, gelu or gelu_tanh, got '") << getAct() << "'";
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
