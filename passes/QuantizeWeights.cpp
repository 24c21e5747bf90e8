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

// A format choice: "f32", "keep" (the checkpoint's, when the kernels read it), or a scheme that
// llmc can quantize to. The k-quants (q4_k, q5_k, q6_k) have no quantizer: only `keep` gives them.
bool validChoice(StringRef c) {
  if (c == "f32" || c == "keep")
    return true;
  std::optional<llm::quant::Scheme> s = llm::quant::parseScheme(c.str());
  return s && llm::quant::hasQuantizer(*s);
}

// The error for a choice validChoice refused.
std::string choiceError(StringRef c) {
  std::optional<llm::quant::Scheme> s = llm::quant::parseScheme(c.str());
  if (s && !llm::quant::hasQuantizer(*s))
    return ("'" + c + "' has no quantizer in llmc: k-quant blocks are only kept as a GGUF file "
            "stores them (--quant keep)").str();
  return ("unknown quantization scheme '" + c + "'").str();
}

// The schemes llmc can quantize to (the scheme option also takes none and keep; exclude formats
// f32 and keep).
constexpr const char *kQuantizable =
    "q8_0, q4_0, q4_1, q5_0, q5_1, w8, w4g32, w4g64, w4g128, w4g32a, w4g64a, w4g128a, fp8";

// The format a weight with rows of `cols` elements gets for `choice`: the choice itself, except
// that an int4 group-wise scheme whose group does not divide the rows falls back to the largest
// smaller group that does, keeping the symmetry (w4g128 -> w4g64 -> w4g32; SmolLM2's hidden size
// 576 is 4.5 groups of 128). Rows that are not whole 32-element runs keep the choice (and stay f32,
// as for every format).
std::string fitGroup(const std::string &choice, int64_t cols) {
  std::optional<llm::quant::Scheme> s = llm::quant::parseScheme(choice);
  if (!s || !llm::quant::w4GroupElems(*s))
    return choice;
  const bool asym = llm::quant::w4Asymmetric(*s);
  for (int64_t g = llm::quant::w4GroupElems(*s); g >= llm::quant::kBlockElems; g /= 2)
    if (cols % g == 0)
      return "w4g" + std::to_string(g) + (asym ? "a" : "");
  return choice;
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
      module.emitError(choiceError(scheme)) << " (known: none, keep, " << kQuantizable << ")";
      return signalPassFailure();
    }
    std::vector<Entry> entries;
    for (const std::string &e : exclude) {
      size_t eq = e.find('=');
      Entry entry{e.substr(0, eq), eq == std::string::npos ? "f32" : e.substr(eq + 1)};
      if (entry.pattern.empty() || !validChoice(entry.choice)) {
        module.emitError("quantization exclude entry '")
            << e << "' is not 'pattern' or 'pattern=format' with format f32, keep, "
            << kQuantizable << (entry.pattern.empty() ? "" : ": " + choiceError(entry.choice));
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
      if (choice == "keep")
        choice = w.getSourceFormat() && llm::quant::parseScheme(w.getSourceFormat()->str())
                     ? w.getSourceFormat()->str()
                     : "f32";
      bool fellBack = false;
      if (auto t = dyn_cast<RankedTensorType>(w.getType()); t && t.getRank() == 2) {
        std::string fitted = fitGroup(choice, t.getDimSize(1));
        fellBack = fitted != choice;
        choice = fitted;
      }
      std::optional<llm::quant::Scheme> format = llm::quant::parseScheme(choice); // none: f32
      if (!eligible(w, format ? llm::quant::blockElems(*format) : llm::quant::kBlockElems))
        continue;
      if (format) {
        chosen[w] = choice;
        numGroupFallback += fellBack;
      } else
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

  // A matrix whose rows are whole blocks of the format (32 elements; 256 for the k-quants, which
  // a GGUF file only stores for such rows) read only by quantized kernels.
  static bool eligible(WeightOp w, int64_t blockElems) {
    auto t = cast<RankedTensorType>(w.getType());
    return t.getRank() == 2 && t.getDimSize(1) % blockElems == 0 &&
           !w->use_empty() && onlyMatrixUses(w.getResult());
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
