// RUN: llm-opt %s -split-input-file -llm-quantize-weights="scheme=q8_0 exclude=lm_head" | FileCheck %s
// RUN: llm-opt %s -split-input-file -llm-quantize-weights="scheme=q4_0 exclude=lm_head=q8_0,embed=f32" | FileCheck %s --check-prefix=OVERRIDE
// RUN: llm-opt %s -split-input-file -llm-quantize-weights="scheme=keep" | FileCheck %s --check-prefix=KEEP
// RUN: llm-opt %s -split-input-file -llm-quantize-weights="scheme=q4_1 exclude=lm_head" -llm-select-kernels | FileCheck %s --check-prefix=KPLAN
// RUN: llm-opt %s -split-input-file -llm-quantize-weights="scheme=q5_1 exclude=lm_head=q5_0" -llm-select-kernels | FileCheck %s --check-prefix=Q5
// Matrices read by linear, logits and embedding get the scheme; norms, biases, excluded weights
// and rows that are not whole 32-element blocks stay f32.

// CHECK-LABEL: func.func @forward
// CHECK-DAG: llm.weight "embed" {quant = "q8_0", source_format = "q8_0"} : tensor<64x32xf32>
// CHECK-DAG: llm.weight "norm" : tensor<32xf32>
// CHECK-DAG: llm.weight "w" {quant = "q8_0", source_format = "q4_k"} : tensor<64x32xf32>
// CHECK-DAG: llm.weight "b" : tensor<64xf32>
// CHECK-DAG: llm.weight "odd" : tensor<8x48xf32>
// CHECK-DAG: llm.weight "lm_head" : tensor<64x32xf32>
// OVERRIDE-DAG: llm.weight "embed" {source_format = "q8_0"} : tensor<64x32xf32>
// OVERRIDE-DAG: llm.weight "w" {quant = "q4_0", source_format = "q4_k"} : tensor<64x32xf32>
// OVERRIDE-DAG: llm.weight "lm_head" {quant = "q8_0"} : tensor<64x32xf32>
// KEEP-DAG: llm.weight "embed" {quant = "q8_0", source_format = "q8_0"} : tensor<64x32xf32>
// KEEP-DAG: llm.weight "w" {source_format = "q4_k"} : tensor<64x32xf32>
// KEEP-DAG: llm.weight "lm_head" : tensor<64x32xf32>
// KPLAN-DAG: %[[E:.*]] = kplan.weight ["embed"] {layout = "rows8_blocks", quant = "q4_1"} : tensor<64x32xf32>
// KPLAN-DAG: %[[W:.*]] = kplan.weight ["w"] {layout = "rows8_blocks", quant = "q4_1"} : tensor<64x32xf32>
// KPLAN-DAG: %[[H:.*]] = kplan.weight ["lm_head"] {layout = "rows8"} : tensor<64x32xf32>
// KPLAN: kplan.call "embedding"(%arg0) weights(%[[E]]) {params = {hidden = 32 : i64, vocab = 64 : i64, weight_format = "q4_1", weight_layout = "rows8_blocks"}}
// KPLAN: kplan.call "linear"({{.*}}) weights(%[[W]], %{{.*}}) {params = {{{.*}}weight_format = "q4_1", weight_layout = "rows8_blocks"}}
// KPLAN: kplan.call "logits"({{.*}}) weights(%[[H]]) {params = {block_cols = 16 : i64, block_rows = 24 : i64, hidden = 32 : i64, vocab = 64 : i64, weight_layout = "rows8"}}
// Q5-DAG: %[[E:.*]] = kplan.weight ["embed"] {layout = "rows8_blocks", quant = "q5_1"} : tensor<64x32xf32>
// Q5-DAG: %[[W:.*]] = kplan.weight ["w"] {layout = "rows8_blocks", quant = "q5_1"} : tensor<64x32xf32>
// Q5-DAG: %[[H:.*]] = kplan.weight ["lm_head"] {layout = "rows8_blocks", quant = "q5_0"} : tensor<64x32xf32>
// Q5: kplan.call "embedding"(%arg0) weights(%[[E]]) {params = {hidden = 32 : i64, vocab = 64 : i64, weight_format = "q5_1", weight_layout = "rows8_blocks"}}
// Q5: kplan.call "linear"({{.*}}) weights(%[[W]], %{{.*}}) {params = {{{.*}}weight_format = "q5_1", weight_layout = "rows8_blocks"}}
// Q5: kplan.call "logits"({{.*}}) weights(%[[H]]) {params = {{{.*}}weight_format = "q5_0", weight_layout = "rows8_blocks"}}
module attributes {llm.target = "cpu"} {
  func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>, %rows: tensor<?xi32>, %x48: tensor<?x48xf32>) -> tensor<?x64xf32> {
    %t = llm.weight "embed" {source_format = "q8_0"} : tensor<64x32xf32>
    %g = llm.weight "norm" : tensor<32xf32>
    %w = llm.weight "w" {source_format = "q4_k"} : tensor<64x32xf32>
    %b = llm.weight "b" : tensor<64xf32>
    %o = llm.weight "odd" : tensor<8x48xf32>
    %h = llm.weight "lm_head" : tensor<64x32xf32>
    %x = llm.embedding %ids, %t : (tensor<?xi32>, tensor<64x32xf32>) -> tensor<?x32xf32>
    %n = llm.rms_norm %x, %g {eps = 1.0e-05 : f64} : (tensor<?x32xf32>, tensor<32xf32>) -> tensor<?x32xf32>
    %y = llm.linear %n, %w, %b : (tensor<?x32xf32>, tensor<64x32xf32>, tensor<64xf32>) -> tensor<?x64xf32>
    %z = llm.linear %x48, %o : (tensor<?x48xf32>, tensor<8x48xf32>) -> tensor<?x8xf32>
    %l = llm.logits %n, %rows, %h : (tensor<?x32xf32>, tensor<?xi32>, tensor<64x32xf32>) -> tensor<?x64xf32>
    return %l : tensor<?x64xf32>
  }
}

// -----

// Stacked weights share one format: under keep, parts stored differently all stay f32.
// KEEP-LABEL: func.func @stacked
// KEEP-DAG: llm.weight "q" {source_format = "q4_1"} : tensor<32x32xf32>
// KEEP-DAG: llm.weight "k" {source_format = "q8_0"} : tensor<32x32xf32>
// KEEP-DAG: llm.weight "u" {quant = "q4_1", source_format = "q4_1"} : tensor<32x32xf32>
module attributes {llm.target = "cpu"} {
func.func @stacked(%x: tensor<?x32xf32>) -> (tensor<?x64xf32>, tensor<?x32xf32>) {
  %q = llm.weight "q" {source_format = "q4_1"} : tensor<32x32xf32>
  %k = llm.weight "k" {source_format = "q8_0"} : tensor<32x32xf32>
  %u = llm.weight "u" {source_format = "q4_1"} : tensor<32x32xf32>
  %h = llm.weight "lm_head" : tensor<8x32xf32>
  %e = llm.weight "embed" : tensor<8x32xf32>
  %qk = llm.weight_concat %q, %k : (tensor<32x32xf32>, tensor<32x32xf32>) -> tensor<64x32xf32>
  %y = llm.linear %x, %qk : (tensor<?x32xf32>, tensor<64x32xf32>) -> tensor<?x64xf32>
  %v = llm.linear %x, %u : (tensor<?x32xf32>, tensor<32x32xf32>) -> tensor<?x32xf32>
  return %y, %v : tensor<?x64xf32>, tensor<?x32xf32>
}
}
