// llm-opt: runs any llmc pass or pipeline on a .mlir file (MlirOptMain), for lit tests and
// debugging.
#include "Passes.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  llm::registerPipelines();
  mlir::DialectRegistry registry;
  registry.insert<llm::LLMDialect, kplan::KPlanDialect, mlir::func::FuncDialect>();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "llmc optimizer driver\n", registry));
}
