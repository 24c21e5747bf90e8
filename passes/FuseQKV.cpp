// llm-fuse-qkv: the q, k and v projections of one input become one linear.
#include "FusionUtils.h"
#include "Passes.h"

namespace llm {
#define GEN_PASS_DEF_FUSEQKV
#include "Passes.h.inc"

namespace {

using namespace mlir;

struct FuseQKVPass : impl::FuseQKVBase<FuseQKVPass> {
  void runOnOperation() override {
    SmallVector<AttentionOp> candidates;
    getOperation().walk([&](AttentionOp a) { candidates.push_back(a); });
    for (AttentionOp a : candidates)
      fuse(a);
  }

  // [x Wq^T + bq | x Wk^T + bk | x Wv^T + bv] = x [Wq; Wk; Wv]^T + [bq; bk; bv]
  void fuse(AttentionOp a) {
    if (a.isPacked())
      return;
    SmallVector<LinearOp> parts;
    for (Value v : a.getQkv())
      if (LinearOp lin = plainLinearUsedOnlyBy(v, a))
        parts.push_back(lin);
    if (parts.size() != 3)
      return;
    if (!sameWeightFormat(parts)) {
      ++numMixedFormats;
      return;
    }
    OpBuilder b(a);
    LinearOp qkv = stackProjections(b, parts, fusedLoc({parts[0], parts[1], parts[2]}));
    if (!qkv)
      return;
    auto fused = b.create<AttentionOp>(
        a.getLoc(), a.getType(), ValueRange{qkv.getResult()}, a.getPositions(), a.getLayerAttr(),
        a.getNumHeadsAttr(), a.getNumKvHeadsAttr(), a.getHeadDimAttr(), a.getScaleAttr(),
        a.getSlidingWindowAttr(), a.getRopeAttr());
    a.replaceAllUsesWith(fused.getResult());
    a.erase();
    for (LinearOp p : parts)
      p.erase();
    ++numFused;
  }
};

} // namespace
} // namespace llm
