// RUN: llm-opt %s -canonicalize | FileCheck %s
// Stacking a single weight folds to that weight; unused weights and pure ops disappear.

// CHECK-LABEL: func.func @fold_concat
func.func @fold_concat(%x: tensor<?x64xf32>) -> tensor<?x32xf32> {
  // CHECK: %[[W:.*]] = llm.weight "w" : tensor<32x64xf32>
  // CHECK-NOT: llm.weight_concat
  // CHECK: llm.linear %arg0, %[[W]]
  %w = llm.weight "w" : tensor<32x64xf32>
  %unused = llm.weight "unused" : tensor<8x64xf32>
  %c = llm.weight_concat %w : (tensor<32x64xf32>) -> tensor<32x64xf32>
  %dead = llm.add %x, %x : tensor<?x64xf32>
  %y = llm.linear %x, %c : (tensor<?x64xf32>, tensor<32x64xf32>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}
