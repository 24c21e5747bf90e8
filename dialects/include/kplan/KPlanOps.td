#ifndef KPLAN_OPS_TD
#define KPLAN_OPS_TD

include "kplan/KPlanDialect.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def KPlan_WeightOp : KPlan_Op<"weight", [Pure]> {
  let summary = "a weight as the plan stores it";
  let description = [{
    A weight in the layout the kernel that reads it expects. `source` names the checkpoint tensor
    it is made from; `layout` says how emission writes it (`row_major`: as in the checkpoint,
    converted to the tensor's element type).

    Example:
    ```mlir
    %w = kplan.weight "model.norm.weight" {layout = "row_major"} : tensor<64xf32>
    ```
  }];
  let arguments = (ins StrAttr:$source, DefaultValuedStrAttr<StrAttr, "row_major">:$layout);
  let results = (outs TensorOf<[F32]>:$result);
  let assemblyFormat = "$source attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def KPlan_CallOp : KPlan_Op<"call", [AttrSizedOperandSegments]> {
  let summary = "a call of a registry kernel";
  let description = [{
    Calls the kernel `kernel` of the kernel registry with activation `inputs`, `weights` and
    `params` (a dictionary checked against the kernel's parameter schema). The result is one
    activation matrix; after `plan-buffers` it carries `arena_offset` (bytes per token: the result
    starts at `arena_offset * T` in the arena of a step with `T` tokens).

    Example:
    ```mlir
    %y = kplan.call "linear" (%x) weights (%w) {params = {has_bias = 0 : i64, in_features = 64 : i64,
        out_features = 128 : i64}} : (tensor<?x64xf32>, tensor<128x64xf32>) -> tensor<?x128xf32>
    ```
  }];
  let arguments = (ins StrAttr:$kernel, Variadic<AnyTensor>:$inputs, Variadic<AnyTensor>:$weights,
                   DictionaryAttr:$params, OptionalAttr<I64Attr>:$arena_offset);
  let results = (outs 2DTensorOf<[F32]>:$result);
  let assemblyFormat = [{
    $kernel `(` $inputs `)` (`weights` `(` $weights^ `)`)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

#endif // KPLAN_OPS_TD
