// RUN: llm-opt %s -split-input-file -llm-select-kernels="tuning-db=%S/Inputs/tuning.json" | FileCheck %s
// Tunables come from the tuning database entry of (target, kernel, shape); calls without an
// entry keep the registry's defaults; a partial entry fills the rest with defaults.

// CHECK-LABEL: module attributes {kplan.tuned_calls = 1 : i64, llm.target = "cpu-avx512"}
module attributes {llm.target = "cpu-avx512"} {
  func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>, %rows: tensor<?xi32>) -> tensor<?x8xf32> {
    %t = llm.weight "embed" : tensor<8x16xf32>
    %w = llm.weight "w" : tensor<8x16xf32>
    %w2 = llm.weight "w2" : tensor<16x8xf32>
    %x = llm.embedding %ids, %t : (tensor<?xi32>, tensor<8x16xf32>) -> tensor<?x16xf32>
    // In the database: 16 -> 8 on cpu-avx512.
    // CHECK: kplan.call "linear"{{.*}}{params = {block_cols = 32 : i64, block_rows = 6 : i64, has_bias = 0 : i64, in_features = 16 : i64, out_features = 8 : i64, weight_layout = "rows8"}}
    %y = llm.linear %x, %w : (tensor<?x16xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
    // Not in the database: 8 -> 16 keeps the defaults.
    // CHECK: kplan.call "linear"{{.*}}{params = {block_cols = 16 : i64, block_rows = 24 : i64, has_bias = 0 : i64, in_features = 8 : i64, out_features = 16 : i64, weight_layout = "rows8"}}
    %z = llm.linear %y, %w2 : (tensor<?x8xf32>, tensor<16x8xf32>) -> tensor<?x16xf32>
    %l = llm.logits %z, %rows, %t : (tensor<?x16xf32>, tensor<?xi32>, tensor<8x16xf32>) -> tensor<?x8xf32>
    return %l : tensor<?x8xf32>
  }
}

// -----

// CHECK-LABEL: module attributes {kplan.tuned_calls = 1 : i64, llm.target = "cuda-sm80"}
module attributes {llm.target = "cuda-sm80"} {
  func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>, %rows: tensor<?xi32>) -> tensor<?x8xf32> {
    %t = llm.weight "embed" : tensor<8x16xf32>
    %x = llm.embedding %ids, %t : (tensor<?xi32>, tensor<8x16xf32>) -> tensor<?x16xf32>
    // CHECK: kplan.call "logits"{{.*}}{params = {block_k = 32 : i64, block_m = 16 : i64, block_n = 128 : i64, hidden = 16 : i64, num_stages = 3 : i64, num_warps = 8 : i64, vocab = 8 : i64}}
    %l = llm.logits %x, %rows, %t : (tensor<?x16xf32>, tensor<?xi32>, tensor<8x16xf32>) -> tensor<?x8xf32>
    return %l : tensor<?x8xf32>
  }
}
