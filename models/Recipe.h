// Architecture recipes: how a Hugging Face config and its weight names become `llm` ops.
// A new architecture family adds a recipe here; nothing downstream of the llm dialect changes.
#pragma once

#include "import/HFConfig.h"
#include "import/WeightSource.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace llmc {

// Builds `module attributes {llm.target = target} { func.func @forward(...) }` for the config's
// architecture. Every weight the recipe references is checked against `weights` (present, expected
// shape, floating dtype); a mismatch throws llm::Error naming the tensor. Throws before any MLIR
// callback runs, so no exception crosses MLIR frames.
mlir::OwningOpRef<mlir::ModuleOp> buildForward(mlir::MLIRContext &ctx, const ModelConfig &config,
                                               const WeightSource &weights, llvm::StringRef target);

} // namespace llmc
