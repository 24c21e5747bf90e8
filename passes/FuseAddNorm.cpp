// llm-fuse-add-norm: a residual add and the rms_norm reading it become one op with two results.
#include "FusionUtils.h"
#include "Passes.h"

namespace llm {
#define GEN_PASS_DEF_FUSEADDNORM
#include "Passes.h.inc"

namespace {

using namespace mlir;

struct FuseAddNormPass : impl::FuseAddNormBase<FuseAddNormPass> {
  void runOnOperation() override {
    SmallVector<RMSNormOp> candidates;
    getOperation().walk([&](RMSNormOp n) { candidates.push_back(n); });
    for (RMSNormOp n : candidates)
      fuse(n);
  }

  // s = a + b; n = rms_norm(s, w)  =  (s, n) = add_rms_norm(a, b, w)
  void fuse(RMSNormOp norm) {
    auto add = norm.getInput().getDefiningOp<AddOp>();
    if (!add)
      return;
    // The fused op takes the add's place, so the norm's weight must already be defined there.
    Value w = norm.getWeight();
    if (Operation *def = w.getDefiningOp();
        def && (def->getBlock() != add->getBlock() || !def->isBeforeInBlock(add)))
      return;
    OpBuilder b(add);
    auto fused = b.create<AddRMSNormOp>(fusedLoc({add, norm}), add.getType(), norm.getType(),
                                        add.getLhs(), add.getRhs(), w, norm.getEpsAttr());
    norm.replaceAllUsesWith(fused.getNormed());
    norm.erase();
    add.replaceAllUsesWith(fused.getSum());
    add.erase();
    ++numFused;
  }
};

} // namespace
} // namespace llm
