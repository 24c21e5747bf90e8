// RUN: llm-opt %s -split-input-file -llm-fuse-linear-epilogue | FileCheck %s
// A glu whose input comes only from a linear moves into that linear's epilogue.

// CHECK-LABEL: func.func @fuses
func.func @fuses(%h: tensor<?x64xf32>) -> tensor<?x128xf32> {
  %w = llm.weight "gate_up" : tensor<256x64xf32>
  %b = llm.weight "gate_up.bias" : tensor<256xf32>
  // CHECK: llm.linear %arg0, %{{.*}}, %{{.*}} {epilogue = "glu_silu"} : (tensor<?x64xf32>, tensor<256x64xf32>, tensor<256xf32>) -> tensor<?x128xf32>
  // CHECK-NOT: llm.glu
  %gu = llm.linear %h, %w, %b : (tensor<?x64xf32>, tensor<256x64xf32>, tensor<256xf32>) -> tensor<?x256xf32>
  %m = llm.glu %gu {act = "silu"} : (tensor<?x256xf32>) -> tensor<?x128xf32>
  return %m : tensor<?x128xf32>
}

// -----

// The [gate | up] row is needed elsewhere: unchanged.
// CHECK-LABEL: func.func @row_reused
func.func @row_reused(%h: tensor<?x64xf32>) -> (tensor<?x128xf32>, tensor<?x256xf32>) {
  %w = llm.weight "gate_up" : tensor<256x64xf32>
  // CHECK: llm.glu
  %gu = llm.linear %h, %w : (tensor<?x64xf32>, tensor<256x64xf32>) -> tensor<?x256xf32>
  %m = llm.glu %gu {act = "silu"} : (tensor<?x256xf32>) -> tensor<?x128xf32>
  return %m, %gu : tensor<?x128xf32>, tensor<?x256xf32>
}
