// The kernel-plan dialect: registry kernel calls (see KPlanOps.td and docs/RationaleKPlan.md).
#pragma once

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "kplan/KPlanDialect.h.inc"

#define GET_OP_CLASSES
#include "kplan/KPlanOps.h.inc"

namespace kplan {
// The module attribute naming the compilation target ("cpu", ...).
inline constexpr llvm::StringLiteral kTargetAttr = "llm.target";
// The function attribute holding the arena size per token after plan-buffers.
inline constexpr llvm::StringLiteral kArenaAttr = "kplan.arena_bytes_per_token";
// The function attribute holding the logit-row region's size per logit row.
inline constexpr llvm::StringLiteral kLogitArenaAttr = "kplan.arena_bytes_per_logit_row";
// The sum of all activation buffers per token (what the arena would be without reuse).
inline constexpr llvm::StringLiteral kUnsharedAttr = "kplan.unshared_bytes_per_token";
} // namespace kplan
