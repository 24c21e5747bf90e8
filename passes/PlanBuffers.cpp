// llm-plan-buffers: liveness-based placement of activations in one arena.
//
// NOTE: an activation has either T rows (T = the step's token count) or R rows (the logit rows
// requested, R <= T), so a placement in "bytes per row" units scales to any step: a buffer of r
// bytes per row at offset o occupies [o*T, (o+r)*T) of the token region, and two buffers disjoint
// in per-row units are disjoint for every T. Logit-row buffers (the vocabulary-wide logits) get a
// region of their own after the token region, sized per logit row, so a long prefill that wants
// one row of logits does not reserve T rows of vocabulary width. Row sizes are rounded up to 64
// bytes so every buffer starts cache-line aligned.
#include "Passes.h"

#include "registry/KernelRegistry.h"

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

  // Where each result lives: its region and offset (bytes per row of that region).
  struct Place {
    Arena *region;
    int64_t offset;
  };

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
    Arena arena, logitArena;
    int64_t naive = 0;
    llvm::DenseMap<Value, Place> places;
    std::multimap<size_t, Value> dying; // last-use index -> buffer still holding its place
    Builder b(f.getContext());
    for (size_t i = 0; i < calls.size(); ++i) {
      kplan::CallOp call = calls[i];
      const auto *spec = llm::registry::findKernel(call.getKernel());
      bool perLogitRow = spec && spec->outputRows == llm::registry::Rows::LogitRows;
      Arena &region = perLogitRow ? logitArena : arena;
      // Inputs whose last reader is this call, free to be taken over in place.
      SmallVector<Value> donors;
      if (spec && spec->rowLocal)
        for (Value in : call.getInputs())
          if (places.count(in) && lastUse.lookup(in) == i && !llvm::is_contained(donors, in))
            donors.push_back(in);
      SmallVector<int64_t> offsets;
      for (Value result : call.getResults()) {
        int64_t size = rowBytes(result);
        naive += size;
        // NOTE: in place only for row-local kernels and equal row sizes; otherwise the output
        // never shares memory with an input of its own call (kernels read inputs while writing).
        auto donor = llvm::find_if(donors, [&](Value d) {
          return rowBytes(d) == size && places[d].region == &region;
        });
        Place place;
        if (donor != donors.end()) {
          place = places[*donor];
          places.erase(*donor); // the result owns the memory now
          donors.erase(donor);
        } else {
          place = Place{&region, region.allocate(size)};
        }
        places[result] = place;
        offsets.push_back(place.offset);
        auto it = lastUse.find(result);
        dying.emplace(it == lastUse.end() ? i : it->second, result);
      }
      call.setArenaOffsetsAttr(b.getDenseI64ArrayAttr(offsets));
      auto [first, last] = dying.equal_range(i);
      for (auto d = first; d != last; ++d)
        if (auto p = places.find(d->second); p != places.end()) {
          p->second.region->release(p->second.offset);
          places.erase(p);
        }
      dying.erase(first, last);
    }
    f->setAttr(kplan::kArenaAttr, b.getI64IntegerAttr(arena.high));
    f->setAttr(kplan::kLogitArenaAttr, b.getI64IntegerAttr(logitArena.high));
    // Kept for the compile summary: statistics are compiled out of release LLVM builds.
    f->setAttr(kplan::kUnsharedAttr, b.getI64IntegerAttr(naive));
    arenaBytesPerToken += arena.high;
    naiveBytesPerToken += naive;
  }
};

} // namespace
} // namespace llm
