// Small helpers the fusion passes share.
#pragma once

#include "llm/LLMDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Location.h"

namespace llm {

// The value is produced by an llm.linear without an epilogue whose only user is `user`.
inline LinearOp plainLinearUsedOnlyBy(mlir::Value v, mlir::Operation *user) {
  auto lin = v.getDefiningOp<LinearOp>();
  if (!lin || lin.getEpilogue() || !lin->hasOneUse() || *lin->user_begin() != user)
    return nullptr;
  return lin;
}

// Stacks the weights (and biases, when every projection has one) of projections of one input
// into one linear; null when they do not share an input or disagree on biases.
inline LinearOp stackProjections(mlir::OpBuilder &b, mlir::ArrayRef<LinearOp> parts,
                                 mlir::Location loc) {
  LinearOp first = parts.front();
  mlir::Value input = first.getInput();
  bool bias = bool(first.getBias());
  llvm::SmallVector<mlir::Value> weights, biases;
  int64_t rows = 0;
  for (LinearOp p : llvm::to_vector(parts)) {
    if (p.getInput() != input || bool(p.getBias()) != bias)
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
