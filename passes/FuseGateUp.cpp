// llm-fuse-gate-up: the gate and up projections of the MLP become one linear + glu.
#include "FusionUtils.h"
#include "Passes.h"

namespace llm {
#define GEN_PASS_DEF_FUSEGATEUP
#include "Passes.h.inc"

namespace {

using namespace mlir;

struct FuseGateUpPass : impl::FuseGateUpBase<FuseGateUpPass> {
  void runOnOperation() override {
    SmallVector<GatedActOp> candidates;
    getOperation().walk([&](GatedActOp g) { candidates.push_back(g); });
    for (GatedActOp g : candidates)
      fuse(g);
  }

  // act(x Wg^T + bg) * (x Wu^T + bu) = glu(x [Wg; Wu]^T + [bg; bu])
  void fuse(GatedActOp g) {
    LinearOp gate = plainLinearUsedOnlyBy(g.getGate(), g);
    LinearOp up = plainLinearUsedOnlyBy(g.getUp(), g);
    if (!gate || !up || gate == up)
      return;
    if (!sameWeightFormat({gate, up})) {
      ++numMixedFormats;
      return;
    }
    OpBuilder b(g);
    LinearOp gu = stackProjections(b, {gate, up}, fusedLoc({gate, up}));
    if (!gu)
      return;
    auto glu = b.create<GluOp>(g.getLoc(), g.getType(), gu.getResult(), g.getActAttr());
    g.replaceAllUsesWith(glu.getResult());
    g.erase();
    gate.erase();
    up.erase();
    ++numFused;
  }
};

} // namespace
} // namespace llm
