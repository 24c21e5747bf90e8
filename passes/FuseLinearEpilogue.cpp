// llm-fuse-linear-epilogue: a glu activation moves into the epilogue of the linear feeding it.
#include "FusionUtils.h"
#include "Passes.h"

namespace llm {
#define GEN_PASS_DEF_FUSELINEAREPILOGUE
#include "Passes.h.inc"

namespace {

using namespace mlir;

struct FuseLinearEpiloguePass : impl::FuseLinearEpilogueBase<FuseLinearEpiloguePass> {
  void runOnOperation() override {
    SmallVector<GluOp> candidates;
    getOperation().walk([&](GluOp g) { candidates.push_back(g); });
    for (GluOp g : candidates)
      fuse(g);
  }

  // glu(x W^T + b) = linear(x, W, b) {epilogue = glu_<act>}: the [gate | up] row stays in
  // registers.
  void fuse(GluOp g) {
    LinearOp lin = plainLinearUsedOnlyBy(g.getInput(), g);
    if (!lin)
      return;
    OpBuilder b(g);
    auto fused = b.create<LinearOp>(fusedLoc({lin, g}), g.getType(), lin.getInput(),
                                    lin.getWeight(), lin.getBias(),
                                    b.getStringAttr("glu_" + g.getAct().str()));
    g.replaceAllUsesWith(fused.getResult());
    g.erase();
    lin.erase();
    ++numFused;
  }
};

} // namespace
} // namespace llm
