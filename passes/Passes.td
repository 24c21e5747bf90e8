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
// Lowering to kernel calls
//===----------------------------------------------------------------------===//

def SelectKernels : Pass<"llm-select-kernels", "mlir::ModuleOp"> {
  let summary = "Lowers llm ops to kernel-plan calls for the module's target";
  let description = [{
    Replaces each `llm` op by a `kplan.call` of a kernel of the kernel registry, with the
    parameters that kernel's schema declares, and each `llm.weight` by a `kplan.weight` in the
    kernel's layout. Decisions that need no runtime information are made here: rope's inverse
    frequencies (with linear or llama3 scaling applied) become a parameter of the `rope` kernel.

    Before:
    ```mlir
    %w = llm.weight "model.norm.weight" : tensor<64xf32>
    %y = llm.rms_norm %x, %w {eps = 1.0e-05 : f64} : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
    ```
    After:
    ```mlir
    %w = kplan.weight "model.norm.weight" {layout = "row_major"} : tensor<64xf32>
    %y = kplan.call "rms_norm"(%x) weights(%w) {params = {eps = 1.0e-05 : f64, hidden = 64 : i64}}
        : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
    ```
  }];
  let dependentDialects = ["::kplan::KPlanDialect"];
  let statistics = [
    Statistic<"numCalls", "kernel-calls", "Number of kernel calls created">,
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
