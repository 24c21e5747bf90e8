// RUN: llm-opt %s -split-input-file -llm-fuse-add-norm | FileCheck %s
// A residual add and the rms_norm of its sum become one op; the sum keeps its other uses.

// CHECK-LABEL: func.func @fuses
func.func @fuses(%x: tensor<?x64xf32>, %o: tensor<?x64xf32>) -> (tensor<?x64xf32>, tensor<?x64xf32>) {
  %w = llm.weight "norm" : tensor<64xf32>
  // CHECK: %[[S:.*]], %[[N:.*]] = llm.add_rms_norm %arg0, %arg1, %{{.*}} {eps = 1.000000e-05 : f64}
  // CHECK-NOT: llm.add
  // CHECK: return %[[S]], %[[N]]
  %s = llm.add %x, %o : tensor<?x64xf32>
  %n = llm.rms_norm %s, %w {eps = 1.0e-05 : f64} : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
  return %s, %n : tensor<?x64xf32>, tensor<?x64xf32>
}

// -----

// A norm of something that is not an add: unchanged.
// CHECK-LABEL: func.func @no_add
func.func @no_add(%x: tensor<?x64xf32>, %o: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %w = llm.weight "norm" : tensor<64xf32>
  // CHECK: llm.mul
  // CHECK: llm.rms_norm
  %s = llm.mul %x, %o : tensor<?x64xf32>
  %n = llm.rms_norm %s, %w {eps = 1.0e-05 : f64} : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
  return %n : tensor<?x64xf32>
}
