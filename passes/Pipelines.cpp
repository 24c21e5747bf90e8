// The only place where pass order lives.
#include "Passes.h"

#include "mlir/Transforms/Passes.h"

namespace llm {

void buildImportPipeline(mlir::OpPassManager &pm) { pm.addPass(createVerifyInputLegality()); }

void buildFusionPipeline(mlir::OpPassManager &pm) {
  // Rope joins the attention before q/k/v fuse, so the packed attention keeps its prologue.
  pm.addPass(createFuseRopeAttention());
  pm.addPass(createFuseQKV());
  pm.addPass(createFuseGateUp());
  pm.addPass(createFuseLinearEpilogue());
  pm.addPass(createFuseAddNorm());
  pm.addPass(mlir::createCanonicalizerPass());
}

void buildCompilePipeline(mlir::OpPassManager &pm, const CompileOptions &options) {
  buildImportPipeline(pm);
  // Before fusion: every weight gets its own format, and the fusions stack only projections whose
  // weights share one (parts of different formats stay separate linears, each native).
  pm.addPass(createQuantizeWeights(QuantizeWeightsOptions{options.quant, options.quantExclude}));
  if (options.fusion)
    buildFusionPipeline(pm);
  pm.addPass(createSelectKernels(SelectKernelsOptions{options.tuningDb}));
  pm.addPass(createPlanBuffers());
}

void registerPipelines() {
  registerLLMPasses();
  mlir::registerCanonicalizerPass();
  mlir::PassPipelineRegistration<>("llm-compile",
                                   "legality, fusions, kernel selection and memory planning",
                                   [](mlir::OpPassManager &pm) { buildCompilePipeline(pm, {}); });
  mlir::PassPipelineRegistration<>("llm-fuse", "every fusion pass, in pipeline order",
                                   buildFusionPipeline);
}

} // namespace llm
