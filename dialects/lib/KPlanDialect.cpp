// Verifiers of the kernel-plan dialect: every call must validate against the kernel registry, the
// same schema the runtime checks when it loads a plan.
#include "kplan/KPlanDialect.h"

#include "registry/KernelRegistry.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace kplan;

#include "kplan/KPlanDialect.cpp.inc"

void KPlanDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "kplan/KPlanOps.cpp.inc"
      >();
}

#define GET_OP_CLASSES
#include "kplan/KPlanOps.cpp.inc"

LogicalResult WeightOp::verify() {
  if (getSource().empty())
    return emitOpError("needs the name of its source tensor");
  if (getLayout() != "row_major")
    return emitOpError("unknown layout '") << getLayout() << "' (known: row_major)";
  if (!cast<RankedTensorType>(getResult().getType()).hasStaticShape())
    return emitOpError("weights must have a static shape");
  return success();
}

static bool paramHasType(Attribute a, llm::registry::ParamType t) {
  using llm::registry::ParamType;
  switch (t) {
  case ParamType::Int: return isa<IntegerAttr>(a);
  case ParamType::Float: return isa<FloatAttr>(a);
  case ParamType::String: return isa<StringAttr>(a);
  case ParamType::FloatArray: return isa<DenseF32ArrayAttr>(a);
  }
  return false;
}

LogicalResult CallOp::verify() {
  const auto *spec = llm::registry::findKernel(getKernel());
  if (!spec)
    return emitOpError("kernel '") << getKernel() << "' is not in the kernel registry";
  if ((int)getInputs().size() != spec->numInputs)
    return emitOpError("kernel '") << getKernel() << "' takes " << spec->numInputs
                                   << " inputs, got " << getInputs().size();
  int nw = getWeights().size();
  if (nw < spec->minWeights || nw > spec->maxWeights)
    return emitOpError("kernel '") << getKernel() << "' takes " << spec->minWeights << ".."
                                   << spec->maxWeights << " weights, got " << nw;
  DictionaryAttr params = getParams();
  for (const auto &p : spec->params) {
    Attribute a = params.get(StringRef(p.name.data(), p.name.size()));
    if (!a) {
      if (p.required)
        return emitOpError("kernel '") << getKernel() << "' needs parameter '"
                                       << StringRef(p.name.data(), p.name.size()) << "'";
      continue;
    }
    if (!paramHasType(a, p.type))
      return emitOpError("parameter '") << StringRef(p.name.data(), p.name.size())
                                        << "' must be of type "
                                        << StringRef(llm::registry::paramTypeName(p.type).data());
  }
  for (NamedAttribute na : params) {
    bool known = false;
    for (const auto &p : spec->params)
      known |= na.getName().strref() == StringRef(p.name.data(), p.name.size());
    if (!known)
      return emitOpError("kernel '") << getKernel() << "' has no parameter '"
                                     << na.getName().strref() << "'";
  }
  if (auto off = getArenaOffsetAttr(); off && off.getInt() < 0)
    return emitOpError("arena_offset must be non-negative");
  return success();
}
