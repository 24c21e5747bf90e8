#ifndef LLM_OPS_TD
#define LLM_OPS_TD

include "llm/LLMDialect.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/OpBase.td"
include "mlir/Interfaces/InferTypeOpInterface.td"

def LLM_WeightOp : LLM_Op<"weight", [Pure]> {
  let summary = "a named weight tensor of the checkpoint";
  let description = [{
    Names a tensor of the model's checkpoint. The IR holds its name and type only; the importer
    keeps the mapping to the file, and plan emission writes the data. The type is the logical
    (computed) one; two optional attributes say how the weight is stored:
    `source_format` (set by the importer) names the checkpoint's block format when it stores the
    tensor quantized (GGUF `q8_0`, `q4_0`, `q4_1`, `q4_k`, ...), and `quant` (set by
    `llm-quantize-weights`) the format the plan stores it in: `q8_0`, `q4_0`, `q4_1` or `w8`
    (blocks of 32 along the last dimension, which must be a multiple of 32; matrices only).

    Examples:
    ```mlir
    %w = llm.weight "model.layers.0.self_attn.q_proj.weight" : tensor<64x64xf32>
    %q = llm.weight "model.layers.0.mlp.up_proj.weight" {quant = "q4_1", source_format = "q4_1"} : tensor<128x64xf32>
    ```
  }];
  let arguments = (ins StrAttr:$name, OptionalAttr<StrAttr>:$quant,
                   OptionalAttr<StrAttr>:$source_format);
  let results = (outs LLM_Weight:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def LLM_EmbeddingOp : LLM_Op<"embedding", [Pure]> {
  let summary = "gathers embedding rows by token id";
  let description = [{
    `result[t] = table[ids[t]]`. The table is `vocab x hidden`.

    Example:
    ```mlir
    %x = llm.embedding %ids, %table : (tensor<?xi32>, tensor<256x64xf32>) -> tensor<?x64xf32>
    ```
  }];
  let arguments = (ins LLM_Ids:$ids, LLM_Weight:$table);
  let results = (outs LLM_Rows:$result);
  let assemblyFormat = "$ids `,` $table attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def LLM_RMSNormOp : LLM_Op<"rms_norm", [Pure]> {
  let summary = "root-mean-square normalization with a learned scale";
  let description = [{
    `result[t] = input[t] / sqrt(mean(input[t]^2) + eps) * weight`.

    Example:
    ```mlir
    %y = llm.rms_norm %x, %w {eps = 1.0e-05 : f64} : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
    ```
  }];
  let arguments = (ins LLM_Rows:$input, LLM_Weight:$weight, F64Attr:$eps);
  let results = (outs LLM_Rows:$result);
  let assemblyFormat = "$input `,` $weight attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def LLM_LayerNormOp : LLM_Op<"layer_norm", [Pure]> {
  let summary = "layer normalization with a learned scale and bias";
  let description = [{
    `result[t] = (input[t] - mean) / sqrt(var + eps) * weight + bias`.

    Example:
    ```mlir
    %y = llm.layer_norm %x, %w, %b {eps = 1.0e-05 : f64} : (tensor<?x64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
    ```
  }];
  let arguments = (ins LLM_Rows:$input, LLM_Weight:$weight, LLM_Weight:$bias, F64Attr:$eps);
  let results = (outs LLM_Rows:$result);
  let assemblyFormat = "$input `,` $weight `,` $bias attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def LLM_LinearOp : LLM_Op<"linear", [Pure]> {
  let summary = "dense projection x W^T (+ b)";
  let description = [{
    The weight is `out_features x in_features` (the checkpoint's layout); the bias, when present,
    has `out_features` elements. With `epilogue = "glu_silu"` (or `glu_gelu`, `glu_gelu_tanh`,
    after `llm-fuse-linear-epilogue`) the weight is `[Wg; Wu]` of `2N` rows and the result is
    `act(x Wg^T + bg) * (x Wu^T + bu)`, `N` wide.

    Example:
    ```mlir
    %y = llm.linear %x, %w, %b : (tensor<?x64xf32>, tensor<128x64xf32>, tensor<128xf32>) -> tensor<?x128xf32>
    ```
  }];
  let arguments = (ins LLM_Rows:$input, LLM_Weight:$weight, Optional<LLM_Weight>:$bias,
                   OptionalAttr<StrAttr>:$epilogue);
  let results = (outs LLM_Rows:$result);
  let assemblyFormat = "$input `,` $weight (`,` $bias^)? attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def LLM_RopeOp : LLM_Op<"rope", [Pure]> {
  let summary = "rotary position embedding (rotate-half form)";
  let description = [{
    Rotates each head of each row by its token's position. The inverse frequencies are
    `theta^(-2i/head_dim)`, then scaled: `linear` divides them by `factor`; `llama3` divides the
    low-frequency band by `factor` and interpolates the band between `low_freq_factor` and
    `high_freq_factor` (wavelengths relative to `original_max_positions`).

    Example:
    ```mlir
    %q2 = llm.rope %q, %pos {num_heads = 4 : i64, head_dim = 16 : i64, theta = 1.0e+04 : f64,
                             scaling = "none"} : (tensor<?x64xf32>, tensor<?xi32>) -> tensor<?x64xf32>
    ```
  }];
  let arguments = (ins LLM_Rows:$input, LLM_Ids:$positions, I64Attr:$num_heads, I64Attr:$head_dim,
                   F64Attr:$theta, StrAttr:$scaling,
                   DefaultValuedAttr<F64Attr, "1.0">:$factor,
                   DefaultValuedAttr<F64Attr, "1.0">:$low_freq_factor,
                   DefaultValuedAttr<F64Attr, "4.0">:$high_freq_factor,
                   DefaultValuedAttr<I64Attr, "0">:$original_max_positions);
  let results = (outs LLM_Rows:$result);
  let assemblyFormat = "$input `,` $positions attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def LLM_AttentionOp : LLM_Op<"attention", [AttrSizedOperandSegments]> {
  let summary = "causal grouped-query attention over the layer's KV cache";
  let description = [{
    Appends this step's keys and values to the KV cache of `layer`, then lets each query attend to
    every cached position at or before its own (and, with `sliding_window = w > 0`, less than `w`
    positions back). Query head `h` reads KV head `h / (num_heads / num_kv_heads)`. Not `Pure`:
    it writes the cache.

    The queries, keys and values come as three operands, or packed in one row `[q | k | v]`
    (after `llm-fuse-qkv`). With `rope(%positions)` and a `rope` dictionary (after
    `llm-fuse-rope-attention`) the op first rotates q and k as `llm.rope` would, with the same
    attributes (theta, scaling, factor, low_freq_factor, high_freq_factor,
    original_max_positions).

    Examples:
    ```mlir
    %o = llm.attention %q, %k, %v {layer = 0 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64,
                                   head_dim = 16 : i64, scale = 2.5e-01 : f64, sliding_window = 0 : i64}
        : (tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>) -> tensor<?x64xf32>
    %o2 = llm.attention %qkv rope(%pos) {layer = 1 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64,
                                   head_dim = 16 : i64, scale = 2.5e-01 : f64,
                                   rope = {scaling = "none", theta = 1.0e+04 : f64}}
        : (tensor<?x128xf32>, tensor<?xi32>) -> tensor<?x64xf32>
    ```
  }];
  let arguments = (ins Variadic<LLM_Rows>:$qkv, Optional<LLM_Ids>:$positions, I64Attr:$layer,
                   I64Attr:$num_heads, I64Attr:$num_kv_heads, I64Attr:$head_dim, F64Attr:$scale,
                   DefaultValuedAttr<I64Attr, "0">:$sliding_window,
                   OptionalAttr<DictionaryAttr>:$rope);
  let results = (outs LLM_Rows:$result);
  let assemblyFormat = [{
    $qkv (`rope` `(` $positions^ `)`)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    bool isPacked() { return getQkv().size() == 1; }
  }];
}

def LLM_GatedActOp : LLM_Op<"gated_act", [Pure, SameOperandsAndResultType]> {
  let summary = "gated MLP activation act(gate) * up";
  let description = [{
    Example:
    ```mlir
    %h = llm.gated_act %gate, %up {act = "silu"} : tensor<?x128xf32>
    ```
  }];
  let arguments = (ins LLM_Rows:$gate, LLM_Rows:$up, StrAttr:$act);
  let results = (outs LLM_Rows:$result);
  let assemblyFormat = "$gate `,` $up attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def LLM_GluOp : LLM_Op<"glu", [Pure]> {
  let summary = "gated linear unit over a packed [gate | up] row";
  let description = [{
    `result[t] = act(input[t, :N]) * input[t, N:]` for an input `2N` wide (after
    `llm-fuse-gate-up`).

    Example:
    ```mlir
    %h = llm.glu %gu {act = "silu"} : (tensor<?x256xf32>) -> tensor<?x128xf32>
    ```
  }];
  let arguments = (ins LLM_Rows:$input, StrAttr:$act);
  let results = (outs LLM_Rows:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def LLM_AddRMSNormOp : LLM_Op<"add_rms_norm", [Pure]> {
  let summary = "residual add followed by rms_norm, in one pass";
  let description = [{
    `sum = lhs + rhs; normed = sum / sqrt(mean(sum^2) + eps) * weight` (after
    `llm-fuse-add-norm`): the residual stream is read and written once instead of three times.

    Example:
    ```mlir
    %s, %n = llm.add_rms_norm %x, %o, %w {eps = 1.0e-05 : f64}
        : (tensor<?x64xf32>, tensor<?x64xf32>, tensor<64xf32>) -> (tensor<?x64xf32>, tensor<?x64xf32>)
    ```
  }];
  let arguments = (ins LLM_Rows:$lhs, LLM_Rows:$rhs, LLM_Weight:$weight, F64Attr:$eps);
  let results = (outs LLM_Rows:$sum, LLM_Rows:$normed);
  let assemblyFormat = "$lhs `,` $rhs `,` $weight attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def LLM_WeightConcatOp : LLM_Op<"weight_concat", [Pure]> {
  let summary = "weights stacked along their first dimension, at compile time";
  let description = [{
    Stacks weights (or biases) row-wise: the fusion passes use it to turn several projections of
    one input into one. Emission writes the stacked tensor; nothing happens at run time.

    Example:
    ```mlir
    %wqkv = llm.weight_concat %wq, %wk, %wv : (tensor<64x64xf32>, tensor<32x64xf32>, tensor<32x64xf32>) -> tensor<128x64xf32>
    ```
  }];
  let arguments = (ins Variadic<LLM_Weight>:$parts);
  let results = (outs LLM_Weight:$result);
  let assemblyFormat = "$parts attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def LLM_AddOp : LLM_Op<"add", [Pure, Commutative, SameOperandsAndResultType]> {
  let summary = "elementwise sum";
  let description = [{
    Example: `%s = llm.add %a, %b : tensor<?x64xf32>`
  }];
  let arguments = (ins LLM_Rows:$lhs, LLM_Rows:$rhs);
  let results = (outs LLM_Rows:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
}

def LLM_MulOp : LLM_Op<"mul", [Pure, Commutative, SameOperandsAndResultType]> {
  let summary = "elementwise product";
  let description = [{
    Example: `%p = llm.mul %a, %b : tensor<?x64xf32>`
  }];
  let arguments = (ins LLM_Rows:$lhs, LLM_Rows:$rhs);
  let results = (outs LLM_Rows:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
}

def LLM_LogitsOp : LLM_Op<"logits", [Pure]> {
  let summary = "vocabulary logits of the requested rows";
  let description = [{
    `result[r] = input[rows[r]] W^T`, where `W` is `vocab x hidden`. Only the rows whose next
    token is wanted (the last of each sequence when decoding) pay for the vocabulary projection.

    Example:
    ```mlir
    %l = llm.logits %x, %rows, %w : (tensor<?x64xf32>, tensor<?xi32>, tensor<256x64xf32>) -> tensor<?x256xf32>
    ```
  }];
  let arguments = (ins LLM_Rows:$input, LLM_Ids:$rows, LLM_Weight:$weight);
  let results = (outs LLM_Rows:$result);
  let assemblyFormat = "$input `,` $rows `,` $weight attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

#endif // LLM_OPS_TD
