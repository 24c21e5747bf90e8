// RUN: llm-opt %s -llm-select-kernels="tuning-db=%S/Inputs/tuning-v2.json" | FileCheck %s
// A version 2 database: entries per token-count bucket become the call's kplan.buckets (emitted
// as the plan's KernelCall.buckets, chosen per step by the rows the call computes); the call's
// own params are the entry without "tokens" when there is one, else the registry defaults; a
// bucket's missing tunable takes the default; calls without entries have no buckets.

// CHECK-LABEL: module attributes {kplan.tuned_buckets = ["1", "2-8", "9+"], kplan.tuned_calls = 2 : i64, llm.target = "cpu"}
module attributes {llm.target = "cpu"} {
  func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>, %rows: tensor<?xi32>) -> tensor<?x8xf32> {
    %t = llm.weight "embed" : tensor<8x16xf32>
    %w = llm.weight "w" : tensor<8x16xf32>
    %w2 = llm.weight "w2" : tensor<16x8xf32>
    %x = llm.embedding %ids, %t : (tensor<?xi32>, tensor<8x16xf32>) -> tensor<?x16xf32>
    // CHECK: kplan.call "linear"{{.*}}{kplan.buckets = [{max = 1 : i64, min = 1 : i64, params = {block_cols = 8 : i64, block_rows = 3 : i64}}, {max = 8 : i64, min = 2 : i64, params = {block_cols = 32 : i64, block_rows = 6 : i64}}, {min = 9 : i64, params = {block_cols = 64 : i64, block_rows = 24 : i64}}], params = {block_cols = 16 : i64, block_rows = 24 : i64, has_bias = 0 : i64, in_features = 16 : i64, out_features = 8 : i64, weight_layout = "rows8"}}
    %y = llm.linear %x, %w : (tensor<?x16xf32>, tensor<8x16xf32>) -> tensor<?x8xf32>
    // Not in the database: defaults, no buckets.
    // CHECK: kplan.call "linear"{{.*}}{params = {block_cols = 16 : i64, block_rows = 24 : i64, has_bias = 0 : i64, in_features = 8 : i64, out_features = 16 : i64, weight_layout = "rows8"}}
    %z = llm.linear %y, %w2 : (tensor<?x8xf32>, tensor<16x8xf32>) -> tensor<?x16xf32>
    // CHECK: kplan.call "logits"{{.*}}{kplan.buckets = [{max = 1 : i64, min = 1 : i64, params = {block_cols = 32 : i64, block_rows = 3 : i64}}], params = {block_cols = 8 : i64, block_rows = 48 : i64, hidden = 16 : i64, vocab = 8 : i64, weight_layout = "rows8"}}
    %l = llm.logits %z, %rows, %t : (tensor<?x16xf32>, tensor<?xi32>, tensor<8x16xf32>) -> tensor<?x8xf32>
    return %l : tensor<?x8xf32>
  }
}
