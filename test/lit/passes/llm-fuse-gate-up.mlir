// RUN: llm-opt %s -split-input-file -llm-fuse-gate-up | FileCheck %s
// Gate and up projections of one input feeding only a gated activation become one linear + glu.

// CHECK-LABEL: func.func @fuses
func.func @fuses(%h: tensor<?x64xf32>) -> tensor<?x128xf32> {
  %wg = llm.weight "gate" : tensor<128x64xf32>
  %wu = llm.weight "up" : tensor<128x64xf32>
  // CHECK: %[[W:.*]] = llm.weight_concat %0, %1 : (tensor<128x64xf32>, tensor<128x64xf32>) -> tensor<256x64xf32>
  // CHECK: %[[GU:.*]] = llm.linear %arg0, %[[W]] : (tensor<?x64xf32>, tensor<256x64xf32>) -> tensor<?x256xf32>
  // CHECK: llm.glu %[[GU]] {act = "gelu_tanh"} : (tensor<?x256xf32>) -> tensor<?x128xf32>
  // CHECK-NOT: llm.gated_act
  %g = llm.linear %h, %wg : (tensor<?x64xf32>, tensor<128x64xf32>) -> tensor<?x128xf32>
  %u = llm.linear %h, %wu : (tensor<?x64xf32>, tensor<128x64xf32>) -> tensor<?x128xf32>
  %m = llm.gated_act %g, %u {act = "gelu_tanh"} : tensor<?x128xf32>
  return %m : tensor<?x128xf32>
}

// -----

// The gate feeds something else too: unchanged.
// CHECK-LABEL: func.func @gate_reused
func.func @gate_reused(%h: tensor<?x64xf32>) -> (tensor<?x128xf32>, tensor<?x128xf32>) {
  %wg = llm.weight "gate" : tensor<128x64xf32>
  %wu = llm.weight "up" : tensor<128x64xf32>
  // CHECK: llm.gated_act
  %g = llm.linear %h, %wg : (tensor<?x64xf32>, tensor<128x64xf32>) -> tensor<?x128xf32>
  %u = llm.linear %h, %wu : (tensor<?x64xf32>, tensor<128x64xf32>) -> tensor<?x128xf32>
  %m = llm.gated_act %g, %u {act = "silu"} : tensor<?x128xf32>
  return %m, %g : tensor<?x128xf32>, tensor<?x128xf32>
}

// -----

// Gate and up of one storage format stack into one weight of that format.
// CHECK-LABEL: func.func @same_format
func.func @same_format(%h: tensor<?x64xf32>) -> tensor<?x128xf32> {
  %wg = llm.weight "gate" {quant = "q5_1"} : tensor<128x64xf32>
  %wu = llm.weight "up" {quant = "q5_1"} : tensor<128x64xf32>
  // CHECK: %[[W:.*]] = llm.weight_concat %0, %1 : (tensor<128x64xf32>, tensor<128x64xf32>) -> tensor<256x64xf32>
  // CHECK: llm.glu
  %g = llm.linear %h, %wg : (tensor<?x64xf32>, tensor<128x64xf32>) -> tensor<?x128xf32>
  %u = llm.linear %h, %wu : (tensor<?x64xf32>, tensor<128x64xf32>) -> tensor<?x128xf32>
  %m = llm.gated_act %g, %u {act = "silu"} : tensor<?x128xf32>
  return %m : tensor<?x128xf32>
}

// -----

// Gate and up of different formats: both linears and the gated activation stay (each linear
// reads its own format; a stack would have to be float32).
// CHECK-LABEL: func.func @mixed_formats
func.func @mixed_formats(%h: tensor<?x64xf32>) -> tensor<?x128xf32> {
  %wg = llm.weight "gate" {quant = "q5_0"} : tensor<128x64xf32>
  %wu = llm.weight "up" {quant = "q4_0"} : tensor<128x64xf32>
  // CHECK-NOT: llm.weight_concat
  // CHECK-COUNT-2: llm.linear
  // CHECK: llm.gated_act
  %g = llm.linear %h, %wg : (tensor<?x64xf32>, tensor<128x64xf32>) -> tensor<?x128xf32>
  %u = llm.linear %h, %wu : (tensor<?x64xf32>, tensor<128x64xf32>) -> tensor<?x128xf32>
  %m = llm.gated_act %g, %u {act = "silu"} : tensor<?x128xf32>
  return %m : tensor<?x128xf32>
}
