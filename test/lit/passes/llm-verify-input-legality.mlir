// RUN: llm-opt %s -llm-verify-input-legality | FileCheck %s
// A legal module passes unchanged.

// CHECK-LABEL: module attributes {llm.target = "cpu"}
module attributes {llm.target = "cpu"} {
  // CHECK: func.func @forward
  func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>, %rows: tensor<?xi32>) -> tensor<?x32xf32> {
    %t = llm.weight "embed" : tensor<32x16xf32>
    // CHECK-NEXT: llm.weight
    // CHECK-NEXT: llm.embedding
    %x = llm.embedding %ids, %t : (tensor<?xi32>, tensor<32x16xf32>) -> tensor<?x16xf32>
    %a = llm.attention %x, %x, %x {layer = 0 : i64, num_heads = 1 : i64, num_kv_heads = 1 : i64, head_dim = 16 : i64, scale = 0.25 : f64} : (tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
    %l = llm.logits %a, %rows, %t : (tensor<?x16xf32>, tensor<?xi32>, tensor<32x16xf32>) -> tensor<?x32xf32>
    return %l : tensor<?x32xf32>
  }
}
