#ifndef KPLAN_DIALECT_TD
#define KPLAN_DIALECT_TD

include "mlir/IR/OpBase.td"

def KPlan_Dialect : Dialect {
  let name = "kplan";
  let cppNamespace = "::kplan";
  let summary = "Kernel plans: registry kernel calls with parameters, buffers and weights";
  let description = [{
    The last level before the plan file. Each `kplan.call` names a kernel of the kernel registry,
    carries the parameters that kernel's schema declares, its activation inputs and its weights.
    `plan-buffers` then gives every call's result a place in the activation arena. Emission
    translates this dialect one-to-one into plan.fb. See docs/RationaleKPlan.md.
  }];
}

class KPlan_Op<string mnemonic, list<Trait> traits = []> : Op<KPlan_Dialect, mnemonic, traits>;

#endif // KPLAN_DIALECT_TD
