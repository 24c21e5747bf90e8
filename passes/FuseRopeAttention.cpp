// llm-fuse-rope-attention: rope of q and k moves into the attention prologue.
#include "FusionUtils.h"
#include "Passes.h"

#include "llm/RopeParams.h"

namespace llm {
#define GEN_PASS_DEF_FUSEROPEATTENTION
#include "Passes.h.inc"

namespace {

using namespace mlir;

bool sameRope(RopeOp a, RopeOp b) {
  RopeParams x = RopeParams::fromOp(a), y = RopeParams::fromOp(b);
  return a.getPositions() == b.getPositions() && a.getHeadDim() == b.getHeadDim() &&
         x.theta == y.theta && x.scaling == y.scaling && x.factor == y.factor &&
         x.lowFreqFactor == y.lowFreqFactor && x.highFreqFactor == y.highFreqFactor &&
         x.originalMaxPositions == y.originalMaxPositions;
}

struct FuseRopeAttentionPass : impl::FuseRopeAttentionBase<FuseRopeAttentionPass> {
  void runOnOperation() override {
    SmallVector<AttentionOp> candidates;
    getOperation().walk([&](AttentionOp a) { candidates.push_back(a); });
    for (AttentionOp a : candidates)
      fuse(a);
  }

  // attention(rope(q, p), rope(k, p), v) = attention(q, k, v) rope(p)
  void fuse(AttentionOp a) {
    if (a.isPacked() || a.getRopeAttr())
      return;
    auto q = a.getQkv()[0].getDefiningOp<RopeOp>(), k = a.getQkv()[1].getDefiningOp<RopeOp>();
    if (!q || !k || !q->hasOneUse() || !k->hasOneUse() || !sameRope(q, k) ||
        q.getHeadDim() != a.getHeadDim() || q.getNumHeads() != a.getNumHeads() ||
        k.getNumHeads() != a.getNumKvHeads())
      return;
    OpBuilder b(a);
    auto fused = b.create<AttentionOp>(
        fusedLoc({q, k, a}), a.getType(), ValueRange{q.getInput(), k.getInput(), a.getQkv()[2]},
        q.getPositions(), a.getLayerAttr(), a.getNumHeadsAttr(), a.getNumKvHeadsAttr(),
        a.getHeadDimAttr(), a.getScaleAttr(), a.getSlidingWindowAttr(),
        RopeParams::fromOp(q).toDict(b));
    a.replaceAllUsesWith(fused.getResult());
    a.erase();
    q.erase();
    k.erase();
    ++numFused;
  }
};

} // namespace
} // namespace llm
