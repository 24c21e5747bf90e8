// The `llm` dialect: transformer-level ops (see LLMOps.td and docs/RationaleLLM.md).
#pragma once

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"

#include "llm/LLMDialect.h.inc"

#define GET_OP_CLASSES
#include "llm/LLMOps.h.inc"
