// llm-plan-buffers: liveness-based placement of activations in one arena.
//
// NOTE: every activation has at most T rows (T = the step's token count), so a placement in
// "bytes per token" units scales to any T: a buffer of r bytes per row at offset o (bytes per
// token) occupies [o*T, (o+r)*T), and two buffers disjoint in per-token units are disjoint for
// every T. Row sizes are rounded up to 64 bytes so every buffer starts cache-line aligned.
#include "Passes.h"

#include "llvm/ADT/DenseMap.h"

#include <map>

namespace llm {
#define GEN_PASS_DEF_PLANBUFFERS
#include "Passes.h.inc"

namespace {

using namespace mlir;

constexpr int64_t kAlign = 64;

int64_t rowBytes(Value v) {
  auto t = cast<RankedTensorType>(v.getType());
  int64_t bytes = t.getDimSize(1) * (t.getElementTypeBitWidth() / 8);
  return (bytes + kAlign - 1) / kAlign * kAlign;
}

// First-fit allocator over per-token byte offsets; `live` maps offset -> size.
struct Arena {
  std::map<int64_t, int64_t> live;
  int64_t high = 0;

  int64_t allocate(int64_t size) {
    int64_t offset = 0;
    for (auto [o, s] : live) {
      if (offset + size <= o)
        break;
      offset = std::max(offset, o + s);
    }
    live.emplace(offset, size);
    high = std::max(high, offset + size);
    return offset;
  }
  void release(int64_t offset) { live.erase(offset); }
};

struct PlanBuffersPass : impl::PlanBuffersBase<PlanBuffersPass> {
  void runOnOperation() override {
    getOperation().walk([&](func::FuncOp f) { plan(f); });
  }

  void plan(func::FuncOp f) {
    SmallVector<kplan::CallOp> calls;
    f.walk([&](kplan::CallOp c) { calls.push_back(c); });
    // Index of the last call reading each result; the function's results live to the end.
    llvm::DenseMap<Value, size_t> lastUse;
    for (size_t i = 0; i < calls.size(); ++i)
      for (Value in : calls[i].getInputs())
        lastUse[in] = i;
    f.walk([&](func::ReturnOp r) {
      for (Value v : r.getOperands())
        lastUse[v] = calls.size();
    });
    Arena arena;
    int64_t naive = 0;
    llvm::DenseMap<Value, int64_t> offsets;
    std::multimap<size_t, Value> dying; // last-use index -> buffer
    Builder b(f.getContext());
    for (size_t i = 0; i < calls.size(); ++i) {
      Value result = calls[i].getResult();
      int64_t size = rowBytes(result);
      naive += size;
      // The output never shares memory with an input of its own call: kernels read their inputs
      // while writing. It is placed before this call's dying inputs are released.
      int64_t offset = arena.allocate(size);
      offsets[result] = offset;
      calls[i].setArenaOffsetAttr(b.getI64IntegerAttr(offset));
      auto it = lastUse.find(result);
      dying.emplace(it == lastUse.end() ? i : it->second, result);
      auto [first, last] = dying.equal_range(i);
      for (auto d = first; d != last; ++d)
        arena.release(offsets[d->second]);
      dying.erase(first, last);
    }
    f->setAttr(kplan::kArenaAttr, b.getI64IntegerAttr(arena.high));
    // Kept for the compile summary: statistics are compiled out of release LLVM builds.
    f->setAttr(kplan::kUnsharedAttr, b.getI64IntegerAttr(naive));
    arenaBytesPerToken += arena.high;
    naiveBytesPerToken += naive;
  }
};

} // namespace
} // namespace llm
