// Rotary embedding parameters, as `llm.rope` carries them in attributes and a fused
// `llm.attention` carries them in its `rope` dictionary. One validation and one frequency
// computation serve both.
#pragma once

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/Support/LogicalResult.h"

#include "llvm/ADT/SmallVector.h"

#include <string>

namespace llm {

class RopeOp;

struct RopeParams {
  double theta = 10000.0;
  std::string scaling = "none"; // none | linear | llama3
  double factor = 1.0;
  double lowFreqFactor = 1.0;
  double highFreqFactor = 4.0;
  int64_t originalMaxPositions = 0;

  static RopeParams fromOp(RopeOp op);
  // Missing keys take the defaults above; keys of the wrong kind fail (message in `error`).
  static mlir::FailureOr<RopeParams> fromDict(mlir::DictionaryAttr dict, std::string &error);
  mlir::DictionaryAttr toDict(mlir::Builder &b) const;

  // "" when valid, else what is wrong.
  std::string validate() const;
  // theta^(-2i/headDim) for i < headDim/2 (float32 exponent and power, as transformers computes
  // them), then scaled: linear divides by factor; llama3 divides wavelengths longer than
  // original/low_freq_factor by factor, keeps those shorter than original/high_freq_factor, and
  // interpolates between.
  llvm::SmallVector<float> inverseFrequencies(int64_t headDim) const;
};

} // namespace llm
