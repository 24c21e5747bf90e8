#include "llm/RopeParams.h"

#include "llm/LLMDialect.h"

#include <cmath>

namespace llm {

using namespace mlir;

RopeParams RopeParams::fromOp(RopeOp op) {
  RopeParams r;
  r.theta = op.getTheta().convertToDouble();
  r.scaling = op.getScaling().str();
  r.factor = op.getFactor().convertToDouble();
  r.lowFreqFactor = op.getLowFreqFactor().convertToDouble();
  r.highFreqFactor = op.getHighFreqFactor().convertToDouble();
  r.originalMaxPositions = op.getOriginalMaxPositionsAttr().getInt();
  return r;
}

FailureOr<RopeParams> RopeParams::fromDict(DictionaryAttr dict, std::string &error) {
  RopeParams r;
  for (NamedAttribute na : dict) {
    StringRef key = na.getName().strref();
    Attribute v = na.getValue();
    auto number = [&](double &out) {
      if (auto f = dyn_cast<FloatAttr>(v))
        return out = f.getValueAsDouble(), true;
      return false;
    };
    bool ok = true;
    if (key == "theta")
      ok = number(r.theta);
    else if (key == "factor")
      ok = number(r.factor);
    else if (key == "low_freq_factor")
      ok = number(r.lowFreqFactor);
    else if (key == "high_freq_factor")
      ok = number(r.highFreqFactor);
    else if (key == "original_max_positions") {
      auto i = dyn_cast<IntegerAttr>(v);
      ok = i != nullptr;
      if (i)
        r.originalMaxPositions = i.getInt();
    } else if (key == "scaling") {
      auto s = dyn_cast<StringAttr>(v);
      ok = s != nullptr;
      if (s)
        r.scaling = s.str();
    } else {
      error = "rope has no parameter '" + key.str() + "'";
      return failure();
    }
    if (!ok) {
      error = "rope parameter '" + key.str() + "' has the wrong kind";
      return failure();
    }
  }
  return r;
}

DictionaryAttr RopeParams::toDict(Builder &b) const {
  SmallVector<NamedAttribute> attrs{b.getNamedAttr("theta", b.getF64FloatAttr(theta)),
                                    b.getNamedAttr("scaling", b.getStringAttr(scaling))};
  if (scaling != "none")
    attrs.push_back(b.getNamedAttr("factor", b.getF64FloatAttr(factor)));
  if (scaling == "llama3") {
    attrs.push_back(b.getNamedAttr("low_freq_factor", b.getF64FloatAttr(lowFreqFactor)));
    attrs.push_back(b.getNamedAttr("high_freq_factor", b.getF64FloatAttr(highFreqFactor)));
    attrs.push_back(
        b.getNamedAttr("original_max_positions", b.getI64IntegerAttr(originalMaxPositions)));
  }
  return b.getDictionaryAttr(attrs);
}

std::string RopeParams::validate() const {
  if (!(theta > 0))
    return "theta must be positive";
  if (scaling == "none")
    return "";
  if (scaling == "linear")
    return factor > 0 ? "" : "linear scaling needs factor > 0";
  if (scaling == "llama3")
    return factor > 0 && lowFreqFactor > 0 && highFreqFactor > lowFreqFactor &&
                   originalMaxPositions > 0
               ? ""
               : "llama3 scaling needs factor > 0, high_freq_factor > low_freq_factor > 0 and "
                 "original_max_positions > 0";
  return "scaling must be none, linear or llama3, got '" + scaling + "'";
}

SmallVector<float> RopeParams::inverseFrequencies(int64_t headDim) const {
  float base = static_cast<float>(theta);
  SmallVector<float> inv;
  for (int64_t i = 0; i < headDim; i += 2) {
    float exponent = static_cast<float>(i) / static_cast<float>(headDim);
    inv.push_back(1.0f / std::pow(base, exponent));
  }
  if (scaling == "linear") {
    for (float &f : inv)
      f = static_cast<float>(f / factor);
  } else if (scaling == "llama3") {
    double original = static_cast<double>(originalMaxPositions);
    double lowWavelen = original / lowFreqFactor, highWavelen = original / highFreqFactor;
    for (float &f : inv) {
      double wavelen = 2 * M_PI / f;
      if (wavelen > lowWavelen) {
        f = static_cast<float>(f / factor);
      } else if (wavelen >= highWavelen) {
        double smooth = (original / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
        f = static_cast<float>((1 - smooth) * f / factor + smooth * f);
      }
    }
  }
  return inv;
}

} // namespace llm
