// llm-verify-input-legality: the door of the pipeline. What passes here, every later pass can
// compile; what does not gets a diagnostic on the op that is wrong.
#include "Passes.h"

#include "registry/KernelRegistry.h"

#include "llvm/ADT/DenseSet.h"

namespace llm {
#define GEN_PASS_DEF_VERIFYINPUTLEGALITY
#include "Passes.h.inc"

bool isKnownTarget(llvm::StringRef target) {
  return registry::findTarget(std::string_view(target.data(), target.size())) != nullptr;
}

namespace {

using namespace mlir;

bool isStepInput(Type t) {
  auto r = dyn_cast<RankedTensorType>(t);
  return r && r.getRank() == 1 && r.isDynamicDim(0) && r.getElementType().isInteger(32);
}

struct VerifyInputLegalityPass : impl::VerifyInputLegalityBase<VerifyInputLegalityPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (failed(checkTarget(module)) || failed(checkForward(module)))
      signalPassFailure();
  }

  LogicalResult checkTarget(ModuleOp module) {
    auto target = module->getAttrOfType<StringAttr>(kplan::kTargetAttr);
    if (!target)
      return module.emitError("module needs a string attribute '")
             << kplan::kTargetAttr << "' naming the target (known: " << registry::targetNames()
             << ")";
    if (!isKnownTarget(target.getValue()))
      return module.emitError("unknown target '")
             << target.getValue() << "' (known: " << registry::targetNames() << ")";
    return success();
  }

  LogicalResult checkForward(ModuleOp module) {
    auto forward = module.lookupSymbol<func::FuncOp>("forward");
    if (!forward)
      return module.emitError("module needs a func.func @forward");
    FunctionType type = forward.getFunctionType();
    if (type.getNumInputs() != 3 || !llvm::all_of(type.getInputs(), isStepInput))
      return forward.emitError("@forward must take (token_ids, positions, logit_rows), each "
                               "tensor<?xi32>");
    auto out = type.getNumResults() == 1 ? dyn_cast<RankedTensorType>(type.getResult(0)) : nullptr;
    if (!out || out.getRank() != 2 || !out.isDynamicDim(0) || out.isDynamicDim(1) ||
        !out.getElementType().isF32())
      return forward.emitError("@forward must return the logits as tensor<?xVOCABxf32>");
    llvm::DenseSet<int64_t> layers;
    int64_t maxLayer = -1;
    WalkResult walk = forward.walk([&](Operation *op) -> WalkResult {
      if (isa<func::FuncOp, func::ReturnOp>(op))
        return WalkResult::advance();
      if (!isa<LLMDialect>(op->getDialect())) {
        op->emitError("only llm ops may appear in @forward, got '") << op->getName() << "'";
        return WalkResult::interrupt();
      }
      if (auto attn = dyn_cast<AttentionOp>(op)) {
        if (!layers.insert(attn.getLayer()).second) {
          attn.emitError("KV cache layer ") << attn.getLayer() << " is used twice";
          return WalkResult::interrupt();
        }
        maxLayer = std::max<int64_t>(maxLayer, attn.getLayer());
      }
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return failure();
    if (maxLayer + 1 != (int64_t)layers.size())
      return forward.emitError("attention layers must be numbered 0..") << layers.size() - 1;
    return success();
  }
};

} // namespace
} // namespace llm
