// Every pass of llmc, declared in Passes.td; the pipeline order lives in Pipelines.cpp only.
#pragma once

#include "kplan/KPlanDialect.h"
#include "llm/LLMDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

namespace llm {

#define GEN_PASS_DECL
#include "Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "Passes.h.inc"

// The targets select-kernels knows.
bool isKnownTarget(llvm::StringRef target);

struct CompileOptions {
  bool fusion = true;
  std::string tuningDb; // empty: registry defaults for every tunable
  std::string quant = "none";           // llm-quantize-weights' scheme
  std::vector<std::string> quantExclude; // and its exclude entries
};

// The compile pipeline: legality, fusions, lowering to kernel calls, memory planning.
void buildCompilePipeline(mlir::OpPassManager &pm, const CompileOptions &options);
void buildFusionPipeline(mlir::OpPassManager &pm);
// Up to the llm level only (what `--emit=llm` prints): legality.
void buildImportPipeline(mlir::OpPassManager &pm);
void registerPipelines();

} // namespace llm
