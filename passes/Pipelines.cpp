// The only place where pass order lives.
#include "Passes.h"

namespace llm {

void buildImportPipeline(mlir::OpPassManager &pm) { pm.addPass(createVerifyInputLegality()); }

void buildCompilePipeline(mlir::OpPassManager &pm) {
  buildImportPipeline(pm);
  pm.addPass(createSelectKernels());
  pm.addPass(createPlanBuffers());
}

void registerPipelines() {
  registerLLMPasses();
  mlir::PassPipelineRegistration<>("llm-compile",
                                   "legality, kernel selection and memory planning",
                                   buildCompilePipeline);
}

} // namespace llm
