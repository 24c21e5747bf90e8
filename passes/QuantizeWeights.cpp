// llm-quantize-weights: decides which weight matrices the plan stores quantized, and in which
// block format (the `quant` attribute of llm.weight). Data is not touched here: emission copies
// or quantizes the blocks, select-kernels picks the kernels that read them.
#include "Passes.h"

#include "plan/QuantFormat.h"

#include "mlir/IR/Builders.h"

#include <map>
#include <optional>

namespace llm {
#define GEN_PASS_DEF_QUANTIZEWEIGHTS
#include "Passes.h.inc"

namespace {

using namespace mlir;

// A format choice: "" (f32), "keep" (the checkpoint's, when the kernels read it), or a scheme.
bool validChoice(StringRef c) {
  return c == "f32" || c == "keep" || llm::quant::parseScheme(c.str()).has_value();
}

// True when every use of `v` reads it as a matrix that a quantized kernel can take: a linear's
// weight, a logits projection, an embedding table, or a part of a stacked weight used so.
bool onlyMatrixUses(Value v) {
  for (OpOperand &use : v.getUses()) {
    Operation *user = use.getOwner();
    if (auto lin = dyn_cast<LinearOp>(user);
        lin && lin.getWeight() == use.get() && lin.getBias() != use.get())
      continue;
    if (auto lg = dyn_cast<LogitsOp>(user); lg && lg.getWeight() == use.get())
      continue;
    if (auto e = dyn_cast<EmbeddingOp>(user); e && e.getTable() == use.get())
      continue;
    if (auto c = dyn_cast<WeightConcatOp>(user); c && onlyMatrixUses(c.getResult()))
      continue;
    return false;
  }
  return true;
}

struct QuantizeWeightsPass : impl::QuantizeWeightsBase<QuantizeWeightsPass> {
  using QuantizeWeightsBase::QuantizeWeightsBase;

  struct Entry {
    std::string pattern, choice;
    bool used = false;
  };

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (scheme != "none" && !validChoice(scheme)) {
      module.emitError("unknown quantization scheme '")
          << scheme << "' (known: none, keep, q8_0, q4_0, q4_1, w8)";
      return signalPassFailure();
    }
    std::vector<Entry> entries;
    for (const std::string &e : exclude) {
      size_t eq = e.find('=');
      Entry entry{e.substr(0, eq), eq == std::string::npos ? "f32" : e.substr(eq + 1)};
      if (entry.pattern.empty() || !validChoice(entry.choice)) {
        module.emitError("quantization exclude entry '")
            << e << "' is not 'pattern' or 'pattern=format' with format f32, keep, q8_0, q4_0, "
            << "q4_1 or w8";
        return signalPassFailure();
      }
      entries.push_back(std::move(entry));
    }
    SmallVector<WeightOp> weights;
    module.walk([&](WeightOp w) { weights.push_back(w); });
    std::map<Operation *, std::string> chosen; // weight -> scheme name
    for (WeightOp w : weights) {
      std::string choice = scheme == "none" ? "f32" : scheme.getValue();
      for (Entry &e : entries)
        if (w.getName().contains(e.pattern)) {
          e.used = true;
          choice = e.choice;
          break;
        }
      if (!eligible(w))
        continue;
      if (choice == "keep")
        choice = w.getSourceFormat() && llm::quant::parseScheme(w.getSourceFormat()->str())
                     ? w.getSourceFormat()->str()
                     : "f32";
      if (choice != "f32")
        chosen[w] = choice;
      else
        ++numFloat;
    }
    for (const Entry &e : entries)
      if (!e.used) {
        module.emitError("quantization exclude pattern '")
            << e.pattern
            << "' matches no weight (with tied embeddings, the logits projection is the "
               "embedding table, model.embed_tokens.weight)";
        return signalPassFailure();
      }
    unifyStacks(module, chosen);
    OpBuilder b(module.getContext());
    for (WeightOp w : weights)
      if (auto it = chosen.find(w); it != chosen.end()) {
        w.setQuantAttr(b.getStringAttr(it->second));
        ++numQuantized;
      }
  }

  static bool eligible(WeightOp w) {
    auto t = cast<RankedTensorType>(w.getType());
    return t.getRank() == 2 && t.getDimSize(1) % llm::quant::kBlockElems == 0 && !w->use_empty() &&
           onlyMatrixUses(w.getResult());
  }

  // Parts of one stacked weight share a format; where they disagree, all of them stay f32.
  void unifyStacks(ModuleOp module, std::map<Operation *, std::string> &chosen) {
    SmallVector<WeightConcatOp> concats;
    module.walk([&](WeightConcatOp c) { concats.push_back(c); });
    for (bool changed = true; changed;) {
      changed = false;
      for (WeightConcatOp c : concats) {
        std::optional<std::string> first;
        bool same = true;
        for (Value part : c.getParts()) {
          Operation *def = part.getDefiningOp<WeightOp>();
          auto it = def ? chosen.find(def) : chosen.end();
          std::string f = it == chosen.end() ? "f32" : it->second;
          if (first && *first != f)
            same = false;
          first = f;
        }
        if (same)
          continue;
        for (Value part : c.getParts())
          if (Operation *def = part.getDefiningOp<WeightOp>(); def && chosen.erase(def)) {
            ++numFloat;
            changed = true;
          }
      }
    }
  }
};

} // namespace
} // namespace llm
