#ifndef KPLAN_OPS_TD
#define KPLAN_OPS_TD

include "kplan/KPlanDialect.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def KPlan_WeightOp : KPlan_Op<"weight", [Pure]> {
  let summary = "a weight as the plan stores it";
  let description = [{
    A weight in the layout the kernel that reads it expects. `sources` names the checkpoint
    tensors it is made from, stacked along the first dimension in that order (one source: the
    tensor itself; several: a fused projection); `layout` says how emission writes it
    (`row_major`: as in the checkpoint, converted to the tensor's element type; `rows8`: f32 in
    groups of 8 rows interleaved by chunks of 8 columns, the CPU float kernels' tiles
    (plan/FloatTiles.h); `row_blocks`: each row as consecutive 32-element blocks of the `quant`
    format, copied from the checkpoint when it stores that format, else quantized;
    `rows8_blocks`: those blocks in the CPU kernels' tiles, plan/QuantFormat.h). The tensor type
    stays the logical f32 one.

    Examples:
    ```mlir
    %w = kplan.weight ["model.norm.weight"] : tensor<64xf32>
    %qkv = kplan.weight ["q.weight", "k.weight", "v.weight"] {layout = "row_major"} : tensor<128x64xf32>
    %up = kplan.weight ["up.weight"] {layout = "row_blocks", quant = "q8_0"} : tensor<128x64xf32>
    ```
  }];
  let arguments = (ins StrArrayAttr:$sources, DefaultValuedStrAttr<StrAttr, "row_major">:$layout,
                   OptionalAttr<StrAttr>:$quant);
  let results = (outs TensorOf<[F32]>:$result);
  let assemblyFormat = "$sources attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def KPlan_CallOp : KPlan_Op<"call", [AttrSizedOperandSegments]> {
  let summary = "a call of a registry kernel";
  let description = [{
    Calls the kernel `kernel` of the kernel registry with activation `inputs`, `weights` and
    `params` (a dictionary checked against the kernel's parameter schema and, for tunables, the
    module's target family). The results are the kernel's outputs (activation matrices); after
    `plan-buffers` the call carries `arena_offsets`, one per result, in bytes per row of the
    result's region (the result starts at `offset * T` in the token region of a step with `T`
    tokens, or at `arena_bytes_per_token * T + offset * R` in the logit-row region).

    Example:
    ```mlir
    %y = kplan.call "linear" (%x) weights (%w) {params = {has_bias = 0 : i64, in_features = 64 : i64,
        out_features = 128 : i64}} : (tensor<?x64xf32>, tensor<128x64xf32>) -> tensor<?x128xf32>
    ```
  }];
  let arguments = (ins StrAttr:$kernel, Variadic<AnyTensor>:$inputs, Variadic<AnyTensor>:$weights,
                   DictionaryAttr:$params, OptionalAttr<DenseI64ArrayAttr>:$arena_offsets);
  let results = (outs Variadic<2DTensorOf<[F32]>>:$results);
  let assemblyFormat = [{
    $kernel `(` $inputs `)` (`weights` `(` $weights^ `)`)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

#endif // KPLAN_OPS_TD
