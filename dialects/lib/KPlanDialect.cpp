// Verifiers of the kernel-plan dialect: every call must validate against the kernel registry, the
// same schema the runtime checks when it loads a plan.
#include "kplan/KPlanDialect.h"
#include "plan/FloatTiles.h"
#include "plan/QuantFormat.h"

#include "registry/KernelRegistry.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
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
  if (getSources().empty())
    return emitOpError("needs the names of its source tensors");
  std::optional<llm::quant::Layout> blocks = llm::quant::parseLayout(getLayout().str());
  const bool floatTiles = getLayout() == llm::floattiles::kRows8Layout.data();
  if (getLayout() != llm::floattiles::kRowMajorLayout.data() && !floatTiles && !blocks)
    return emitOpError("unknown layout '")
           << getLayout() << "' (known: row_major, rows8, row_blocks, rows8_blocks)";
  if (blocks.has_value() != getQuant().has_value())
    return emitOpError("layouts row_blocks and rows8_blocks go with a quant format, and only they");
  if (floatTiles) {
    auto t = cast<RankedTensorType>(getResult().getType());
    if (t.getRank() != 2 || !llm::floattiles::fitsRows8(t.getDimSize(0), t.getDimSize(1)))
      return emitOpError("layout rows8 needs a matrix whose rows and columns are multiples of ")
             << llm::floattiles::kTileRows << ", got " << t;
  }
  if (auto q = getQuant()) {
    auto t = cast<RankedTensorType>(getResult().getType());
    std::optional<llm::quant::Scheme> s = llm::quant::parseScheme(q->str());
    if (!s)
      return emitOpError("unknown quant '")
             << *q << "' (known: q8_0, q4_0, q4_1, q5_0, q5_1, w8, q4_k, q5_k, q6_k, w4g32, "
             << "w4g64, w4g128, w4g32a, w4g64a, w4g128a, fp8)";
    if (t.getRank() != 2 || t.getDimSize(1) % llm::quant::blockElems(*s) != 0)
      return emitOpError("quant '") << *q << "' needs rows of whole blocks of "
                                    << llm::quant::blockElems(*s) << " elements, got " << t;
    if (blocks == llm::quant::Layout::Rows8 &&
        (!llm::quant::hasRows8Layout(*s) || t.getDimSize(0) % llm::quant::kTileRows != 0))
      return emitOpError("layout rows8_blocks needs a quant that has tiles (")
             << llm::quant::kRows8Schemes << ") and a row count that is a multiple of "
             << llm::quant::kTileRows << ", got '" << *q << "' and " << t;
  }
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

static StringRef str(std::string_view s) { return StringRef(s.data(), s.size()); }

LogicalResult CallOp::verify() {
  namespace reg = llm::registry;
  const auto *spec = reg::findKernel(getKernel());
  if (!spec)
    return emitOpError("kernel '") << getKernel() << "' is not in the kernel registry";
  if ((int)getInputs().size() != spec->numInputs)
    return emitOpError("kernel '") << getKernel() << "' takes " << spec->numInputs
                                   << " inputs, got " << getInputs().size();
  int nw = getWeights().size();
  if (nw < spec->minWeights || nw > spec->maxWeights)
    return emitOpError("kernel '") << getKernel() << "' takes " << spec->minWeights << ".."
                                   << spec->maxWeights << " weights, got " << nw;
  if ((int)getResults().size() != spec->numOutputs)
    return emitOpError("kernel '") << getKernel() << "' has " << spec->numOutputs
                                   << " outputs, got " << getResults().size();
  DictionaryAttr params = getParams();
  for (const auto &p : spec->params) {
    Attribute a = params.get(str(p.name));
    if (!a) {
      if (p.required)
        return emitOpError("kernel '") << getKernel() << "' needs parameter '" << str(p.name)
                                       << "'";
      continue;
    }
    if (!paramHasType(a, p.type))
      return emitOpError("parameter '")
             << str(p.name) << "' must be of type " << str(reg::paramTypeName(p.type));
  }
  // Tunables belong to the module's target family (a call outside a module is checked against
  // the CPU family).
  auto module = (*this)->getParentOfType<ModuleOp>();
  auto targetAttr = module ? module->getAttrOfType<StringAttr>(kTargetAttr) : StringAttr();
  const reg::TargetInfo *target = targetAttr ? reg::findTarget(targetAttr.getValue()) : nullptr;
  reg::TargetFamily family = target ? target->family : reg::TargetFamily::Cpu;
  for (NamedAttribute na : params) {
    StringRef name = na.getName().strref();
    bool known = false;
    for (const auto &p : spec->params)
      known |= name == str(p.name);
    if (known)
      continue;
    const reg::TunableSpec *t = reg::findTunable(*spec, family, name);
    if (!t)
      return emitOpError("kernel '") << getKernel() << "' has no parameter '" << name << "'"
                                     << (target ? " for target " + std::string(target->name)
                                                : std::string());
    auto v = dyn_cast<IntegerAttr>(na.getValue());
    if (!v || !llvm::is_contained(t->choices, v.getInt()))
      return emitOpError("tunable '") << name << "' must be one of its registered choices";
  }
  if (auto offsets = getArenaOffsetsAttr()) {
    if (offsets.size() != (int64_t)getResults().size())
      return emitOpError("needs one arena offset per result");
    if (llvm::any_of(offsets.asArrayRef(), [](int64_t o) { return o < 0; }))
      return emitOpError("arena offsets must be non-negative");
  }
  return success();
}
