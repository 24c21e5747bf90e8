#ifndef LLM_PASSES_TD
#define LLM_PASSES_TD

include "mlir/Pass/PassBase.td"

//===----------------------------------------------------------------------===//
// Input legality
//===----------------------------------------------------------------------===//

def VerifyInputLegality : Pass<"llm-verify-input-legality", "mlir::ModuleOp"> {
  let summary = "Rejects modules that later passes cannot compile";
  let description = [{
    Runs first. Checks that the module names a known target (`llm.target`), that it holds one
    `func.func @forward(%token_ids: tensor<?xi32>, %positions: tensor<?xi32>,
    %logit_rows: tensor<?xi32>) -> tensor<?xVxf32>`, that the body holds only `llm` ops (and the
    return), and that attention layers are numbered 0..L-1 without repeats. Every failure is a
    diagnostic on the offending op. The module is unchanged.

    Before and after (unchanged):
    ```mlir
    module attributes {llm.target = "cpu"} {
      func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>, %rows: tensor<?xi32>)
          -> tensor<?x256xf32> { ... }
    }
    ```
  }];
  let dependentDialects = ["::llm::LLMDialect"];
}

//===----------------------------------------------------------------------===//
// Fusions (each a rewrite of llm ops into fewer, larger llm ops)
//===----------------------------------------------------------------------===//

def FuseRopeAttention : Pass<"llm-fuse-rope-attention", "mlir::ModuleOp"> {
  let summary = "Moves rope of q and k into the attention prologue";
  let description = [{
    `attention(rope(q, p), rope(k, p), v) = attention(q, k, v) with rope(p) applied first`: when
    both rotations use the same positions and parameters and feed only the attention, the
    attention rotates q and k itself before writing the KV cache, saving two passes over q and k.

    Before:
    ```mlir
    %qr = llm.rope %q, %pos {head_dim = 16 : i64, num_heads = 4 : i64, scaling = "none", theta = 1.0e+04 : f64} : ...
    %kr = llm.rope %k, %pos {head_dim = 16 : i64, num_heads = 2 : i64, scaling = "none", theta = 1.0e+04 : f64} : ...
    %o = llm.attention %qr, %kr, %v {...} : ...
    ```
    After:
    ```mlir
    %o = llm.attention %q, %k, %v rope(%pos) {..., rope = {scaling = "none", theta = 1.0e+04 : f64}} : ...
    ```
  }];
  let statistics = [Statistic<"numFused", "fused", "Attention ops that absorbed their ropes">];
}

def FuseQKV : Pass<"llm-fuse-qkv", "mlir::ModuleOp"> {
  let summary = "Fuses the q, k and v projections into one linear";
  let description = [{
    `[x Wq^T | x Wk^T | x Wv^T] = x [Wq; Wk; Wv]^T` (biases likewise): three projections of one
    input that feed only an attention become one linear over stacked weights, and the attention
    reads the packed row. Only weights of one storage format stack (`quant` equal, or all f32):
    the pipeline decides formats first (llm-quantize-weights), and parts that differ (a GGUF
    Q4_K_M file stores some layers' v as Q6_K) stay three linears, each reading its own format
    (statistic `mixed-formats`).

    Before:
    ```mlir
    %q = llm.linear %h, %wq : ...
    %k = llm.linear %h, %wk : ...
    %v = llm.linear %h, %wv : ...
    %o = llm.attention %q, %k, %v {...} : ...
    ```
    After:
    ```mlir
    %w = llm.weight_concat %wq, %wk, %wv : ...
    %qkv = llm.linear %h, %w : ...
    %o = llm.attention %qkv {...} : ...
    ```
  }];
  let dependentDialects = ["::llm::LLMDialect"];
  let statistics = [Statistic<"numFused", "fused", "q/k/v triples fused">,
                    Statistic<"numMixedFormats", "mixed-formats",
                              "q/k/v triples left unfused: their weights' formats differ">];
}

def FuseGateUp : Pass<"llm-fuse-gate-up", "mlir::ModuleOp"> {
  let summary = "Fuses the MLP's gate and up projections into one linear";
  let description = [{
    `act(x Wg^T) * (x Wu^T) = glu(x [Wg; Wu]^T)`: the two projections of one input that feed only
    a gated activation become one linear over stacked weights followed by `llm.glu`, when both
    weights have one storage format (`quant` equal, or both f32); else both stay (statistic
    `mixed-formats`).

    Before:
    ```mlir
    %g = llm.linear %h, %wg : ...
    %u = llm.linear %h, %wu : ...
    %m = llm.gated_act %g, %u {act = "silu"} : tensor<?x128xf32>
    ```
    After:
    ```mlir
    %w = llm.weight_concat %wg, %wu : ...
    %gu = llm.linear %h, %w : (tensor<?x64xf32>, tensor<256x64xf32>) -> tensor<?x256xf32>
    %m = llm.glu %gu {act = "silu"} : (tensor<?x256xf32>) -> tensor<?x128xf32>
    ```
  }];
  let dependentDialects = ["::llm::LLMDialect"];
  let statistics = [Statistic<"numFused", "fused", "gate/up pairs fused">,
                    Statistic<"numMixedFormats", "mixed-formats",
                              "gate/up pairs left unfused: their weights' formats differ">];
}

def FuseLinearEpilogue : Pass<"llm-fuse-linear-epilogue", "mlir::ModuleOp"> {
  let summary = "Applies a glu activation in the epilogue of the linear producing its input";
  let description = [{
    `glu(x W^T) = linear with epilogue glu`: the [gate | up] row never goes to memory; the GEMM
    computes each output feature's gate and up dot products and stores act(gate) * up.

    Before:
    ```mlir
    %gu = llm.linear %h, %w : (tensor<?x64xf32>, tensor<256x64xf32>) -> tensor<?x256xf32>
    %m = llm.glu %gu {act = "silu"} : (tensor<?x256xf32>) -> tensor<?x128xf32>
    ```
    After:
    ```mlir
    %m = llm.linear %h, %w {epilogue = "glu_silu"} : (tensor<?x64xf32>, tensor<256x64xf32>) -> tensor<?x128xf32>
    ```
  }];
  let statistics = [Statistic<"numFused", "fused", "activations moved into linear epilogues">];
}

def FuseAddNorm : Pass<"llm-fuse-add-norm", "mlir::ModuleOp"> {
  let summary = "Fuses a residual add with the rms_norm that reads it";
  let description = [{
    `s = a + b; n = rms_norm(s) = add_rms_norm(a, b) -> (s, n)`: the residual stream is read and
    written once per layer half instead of three times. The sum keeps every other use.

    Before:
    ```mlir
    %s = llm.add %x, %o : tensor<?x64xf32>
    %n = llm.rms_norm %s, %w {eps = 1.0e-05 : f64} : ...
    ```
    After:
    ```mlir
    %s, %n = llm.add_rms_norm %x, %o, %w {eps = 1.0e-05 : f64} : ...
    ```
  }];
  let statistics = [Statistic<"numFused", "fused", "add + rms_norm pairs fused">];
}

//===----------------------------------------------------------------------===//
// Lowering to kernel calls
//===----------------------------------------------------------------------===//

//===----------------------------------------------------------------------===//
// Quantization
//===----------------------------------------------------------------------===//

def QuantizeWeights : Pass<"llm-quantize-weights", "mlir::ModuleOp"> {
  let summary = "Decides the storage format of every weight matrix (weight-only quantization)";
  let description = [{
    Sets `quant` on the `llm.weight`s that the plan stores quantized; plan emission then copies
    the checkpoint's blocks (when it stores that format) or quantizes the float tensor, and
    `llm-select-kernels` picks the kernels that read that format. Eligible weights are matrices
    whose rows are whole 32-element blocks and that are read only as a linear's weight (also
    stacked, through `llm.weight_concat`), a logits projection or an embedding table; norms and
    biases stay f32. `scheme`:
      - `none`: nothing is quantized (the checkpoint is dequantized to f32 as before);
      - `keep`: weights the checkpoint stores in a format the kernels read (`source_format` q8_0,
        q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k) keep it; others stay f32;
      - `q8_0`, `q4_0`, `q4_1`, `q5_0`, `q5_1` (ggml blocks of 32), `w8` (int8 per output
        channel), `w4g32`,
        `w4g64`, `w4g128` (int4 groups, symmetric), `w4g32a`, `w4g64a`, `w4g128a` (int4 groups
        with a zero point each), `fp8` (e4m3fn per output channel): every eligible weight gets
        that format. An int4 group that does not divide a weight's rows falls back to the
        largest smaller group that does (w4g128 -> w4g64 -> w4g32, same symmetry; counted in
        `group-fallbacks`). The k-quants (256-element super-blocks) have no
        quantizer here and are refused as a scheme or exclude format: only `keep` gives them.
    `exclude` entries are `pattern` (matching weights stay f32) or `pattern=format` (matching
    weights get `format`: f32, keep or one of the schemes above instead), where a pattern matches weight
    names containing it; the first matching entry wins, and an entry matching no weight is an
    error (a typo would otherwise silently quantize what it meant to protect). In the compile
    pipeline this pass runs before the fusions, which stack only weights of one format; weights
    already stacked (`llm.weight_concat`) must end up in one format: when their choices differ
    they all stay f32.

    Before (scheme=q8_0, exclude=lm_head):
    ```mlir
    %w = llm.weight "model.layers.0.mlp.down_proj.weight" : tensor<64x128xf32>
    %h = llm.weight "lm_head.weight" : tensor<256x64xf32>
    %n = llm.weight "model.norm.weight" : tensor<64xf32>
    ```
    After:
    ```mlir
    %w = llm.weight "model.layers.0.mlp.down_proj.weight" {quant = "q8_0"} : tensor<64x128xf32>
    %h = llm.weight "lm_head.weight" : tensor<256x64xf32>
    %n = llm.weight "model.norm.weight" : tensor<64xf32>
    ```
  }];
  let dependentDialects = ["::llm::LLMDialect"];
  let options = [
    Option<"scheme", "scheme", "std::string", /*default=*/"\"none\"",
           "none | keep | q8_0 | q4_0 | q4_1 | q5_0 | q5_1 | w8 | w4g32 | w4g64 | w4g128 | "
           "w4g32a | w4g64a | w4g128a | fp8">,
    ListOption<"exclude", "exclude", "std::string",
               "pattern (stays f32) or pattern=format, matched as a substring of weight names">,
  ];
  let statistics = [
    Statistic<"numQuantized", "quantized-weights", "Weights given a quantized format">,
    Statistic<"numFloat", "float-weights", "Eligible weight matrices left in f32">,
    Statistic<"numGroupFallback", "group-fallbacks",
              "Weights given a smaller int4 group than asked (the group did not divide the rows)">,
  ];
}

def SelectKernels : Pass<"llm-select-kernels", "mlir::ModuleOp"> {
  let summary = "Lowers llm ops to kernel-plan calls for the module's target";
  let description = [{
    Replaces each `llm` op by a `kplan.call` of a kernel of the kernel registry, with the
    parameters that kernel's schema declares, and each `llm.weight` (or `llm.weight_concat` of
    weights) by a `kplan.weight` naming its source tensors. Decisions that need no runtime
    information are made here: rope's inverse frequencies (with linear or llama3 scaling applied)
    become a parameter of the `rope` or fused `attention` kernel. Kernels with tunables for the
    target's family (`llm.target`: cpu, cpu-avx2, cpu-avx512, cuda-sm80, cuda-sm90) get them from
    the tuning database (`tuning-db`, entries keyed by target, kernel and shape) or, without an
    entry, the registry's defaults; the module records how many calls were tuned in
    `kplan.tuned_calls`. A weight with `quant` becomes a `kplan.weight` with layout `row_blocks`
    and that `quant`, and the linear, logits or embedding call reading it gets
    `weight_format = "<quant>"` (the runtime's quantized kernels; no parameter: f32).

    Before:
    ```mlir
    %w = llm.weight "model.norm.weight" : tensor<64xf32>
    %y = llm.rms_norm %x, %w {eps = 1.0e-05 : f64} : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
    %o = llm.linear %y, %w2 : (tensor<?x64xf32>, tensor<128x64xf32>) -> tensor<?x128xf32>
    ```
    After (target cpu):
    ```mlir
    %w = kplan.weight ["model.norm.weight"] : tensor<64xf32>
    %y = kplan.call "rms_norm"(%x) weights(%w) {params = {eps = 1.0e-05 : f64, hidden = 64 : i64}}
        : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
    %o = kplan.call "linear"(%y) weights(%w2) {params = {block_cols = 16 : i64, block_rows = 24 : i64,
        has_bias = 0 : i64, in_features = 64 : i64, out_features = 128 : i64}} : ...
    ```
  }];
  let dependentDialects = ["::kplan::KPlanDialect"];
  let options = [
    Option<"tuningDb", "tuning-db", "std::string", /*default=*/"\"\"",
           "tuning database (JSON) to read tunable parameters from">,
  ];
  let statistics = [
    Statistic<"numCalls", "kernel-calls", "Number of kernel calls created">,
    Statistic<"numTuned", "tuned-calls", "Kernel calls whose tunables came from the database">,
  ];
}

//===----------------------------------------------------------------------===//
// Memory planning
//===----------------------------------------------------------------------===//

def PlanBuffers : Pass<"llm-plan-buffers", "mlir::ModuleOp"> {
  let summary = "Places every activation in one arena by liveness";
  let description = [{
    Every activation is a matrix with one row per token of the step (T rows) or one row per
    requested logit row (R rows, the output of `logits`), so its place can be written as
    `arena_offset * T` in the token region or `arena_bytes_per_token * T + arena_offset * R` in
    the logit-row region. Walking the calls in order, a buffer is live from its defining call to
    its last use; each result takes the lowest offset (64-byte aligned per row) in its region that
    no live buffer overlaps (first fit). The function gets `kplan.arena_bytes_per_token`,
    `kplan.arena_bytes_per_logit_row` and, for comparison, the sum of all buffers as
    `kplan.unshared_bytes_per_token`.

    Before:
    ```mlir
    %y = kplan.call "rms_norm"(%x) weights(%w) {params = {...}} : ...
    ```
    After:
    ```mlir
    %y = kplan.call "rms_norm"(%x) weights(%w) {arena_offset = 256 : i64, params = {...}} : ...
    ```
  }];
  let statistics = [
    Statistic<"arenaBytesPerToken", "arena-bytes-per-token", "Arena size per token of the step">,
    Statistic<"naiveBytesPerToken", "naive-bytes-per-token",
              "Sum of all activation buffers per token (no reuse)">,
  ];
}

#endif // LLM_PASSES_TD
