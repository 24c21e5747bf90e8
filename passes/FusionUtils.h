// Small helpers the fusion passes share.
#pragma once

#include "llm/LLMDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Location.h"

#include <optional>

namespace llm {

// The value is produced by an llm.linear without an epilogue whose only user is `user`.
inline LinearOp plainLinearUsedOnlyBy(mlir::Value v, mlir::Operation *user) {
  auto lin = v.getDefiningOp<LinearOp>();
  if (!lin || lin.getEpilogue() || !lin->hasOneUse() || *lin->user_begin() != user)
    return nullptr;
  return lin;
}

// The storage format a linear's weight has been given (llm.weight's `quant`; none: f32).
inline std::optional<llvm::StringRef> weightFormat(LinearOp lin) {
  auto w = lin.getWeight().getDefiningOp<WeightOp>();
  if (!w || !w.getQuant())
    return std::nullopt;
  return *w.getQuant();
}

inline bool sameWeightFormat(mlir::ArrayRef<LinearOp> parts) {
  std::optional<llvm::StringRef> first = weightFormat(parts.front());
  return llvm::all_of(parts, [&](LinearOp p) { return weightFormat(p) == first; });
}

// Stacks the weights (and biases, when every projection has one) of projections of one input
// into one linear; null when they do not share an input, disagree on biases or have weights of
// different storage formats.
// NOTE: a stacked weight is one matrix in one format (one `weight_format` per kernel call), so
// parts of different formats (a GGUF Q4_K_M file stores some layers' v as Q6_K and q, k as Q4_K)
// stay separate linears, each read natively, rather than becoming one float32 stack.
// llm-quantize-weights runs before the fusions for this reason (Pipelines.cpp).
inline LinearOp stackProjections(mlir::OpBuilder &b, mlir::ArrayRef<LinearOp> parts,
                                 mlir::Location loc) {
  LinearOp first = parts.front();
  mlir::Value input = first.getInput();
  bool bias = bool(first.getBias());
  std::optional<llvm::StringRef> format = weightFormat(first);
  llvm::SmallVector<mlir::Value> weights, biases;
  int64_t rows = 0;
  for (LinearOp p : llvm::to_vector(parts)) {
    if (p.getInput() != input || bool(p.getBias()) != bias || weightFormat(p) != format)
      return nullptr;
    weights.push_back(p.getWeight());
    if (bias)
      biases.push_back(p.getBias());
    rows += mlir::cast<mlir::RankedTensorType>(p.getWeight().getType()).getDimSize(0);
  }
  auto wType = mlir::cast<mlir::RankedTensorType>(first.getWeight().getType());
  auto stacked = [&](mlir::ArrayRef<mlir::Value> vals, llvm::ArrayRef<int64_t> shape) {
    return b.create<WeightConcatOp>(loc, mlir::RankedTensorType::get(shape, wType.getElementType()),
                                    vals).getResult();
  };
  mlir::Value w = stacked(weights, {rows, wType.getDimSize(1)});
  mlir::Value bv = bias ? stacked(biases, {rows}) : mlir::Value();
  auto out = mlir::RankedTensorType::get({mlir::ShapedType::kDynamic, rows},
                                         wType.getElementType());
  return b.create<LinearOp>(loc, out, input, w, bv, mlir::StringAttr());
}

inline mlir::Location fusedLoc(mlir::ArrayRef<mlir::Operation *> ops) {
  llvm::SmallVector<mlir::Location> locs;
  for (mlir::Operation *op : ops)
    locs.push_back(op->getLoc());
  return mlir::FusedLoc::get(ops.front()->getContext(), locs);
}

} // namespace llm
