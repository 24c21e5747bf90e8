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
  if (options.fusion)
    buildFusionPipeline(pm);
  // After fusion: stacked weights ([q; k; v], [gate; up]) are decided as one.
  pm.addPass(createQuantizeWeights(QuantizeWeightsOptions{options.quant, options.quantExclude}));
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
