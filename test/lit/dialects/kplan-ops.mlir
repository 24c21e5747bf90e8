// RUN: llm-opt %s | llm-opt | FileCheck %s
// Round trip of kernel calls with weights, parameters of every kind and arena offsets.

// CHECK-LABEL: func.func @calls
func.func @calls(%x: tensor<?x64xf32>, %pos: tensor<?xi32>) -> tensor<?x64xf32> {
  // CHECK: kplan.weight ["w"] : tensor<64x64xf32>
  %w = kplan.weight ["w"] {layout = "row_major"} : tensor<64x64xf32>
  // CHECK: kplan.weight ["a", "b"] : tensor<128x64xf32>
  %ab = kplan.weight ["a", "b"] : tensor<128x64xf32>
  // CHECK: kplan.call "linear"(%{{.*}}) weights(%{{.*}}) {arena_offsets = array<i64: 0>, params = {has_bias = 0 : i64, in_features = 64 : i64, out_features = 64 : i64}}
  %y = kplan.call "linear"(%x) weights(%w) {arena_offsets = array<i64: 0>, params = {has_bias = 0 : i64, in_features = 64 : i64, out_features = 64 : i64}} : (tensor<?x64xf32>, tensor<64x64xf32>) -> tensor<?x64xf32>
  // CHECK: kplan.call "linear"{{.*}}epilogue = "glu_silu"
  %e = kplan.call "linear"(%x) weights(%ab) {params = {has_bias = 0 : i64, in_features = 64 : i64, out_features = 64 : i64, epilogue = "glu_silu"}} : (tensor<?x64xf32>, tensor<128x64xf32>) -> tensor<?x64xf32>
  // CHECK: kplan.call "rope"(%{{.*}}, %{{.*}}) {params = {{{.*}}inv_freq = array<f32: 1.000000e+00, 5.000000e-01>
  %r = kplan.call "rope"(%y, %pos) {params = {num_heads = 16 : i64, head_dim = 4 : i64, inv_freq = array<f32: 1.0, 0.5>}} : (tensor<?x64xf32>, tensor<?xi32>) -> tensor<?x64xf32>
  // CHECK: kplan.call "gated_act"{{.*}}act = "silu"
  %g = kplan.call "gated_act"(%r, %y) {params = {width = 64 : i64, act = "silu"}} : (tensor<?x64xf32>, tensor<?x64xf32>) -> tensor<?x64xf32>
  // Two results: the sum and the normalized sum.
  // CHECK: %{{.*}}:2 = kplan.call "add_rms_norm"
  %g2 = kplan.weight ["g"] : tensor<64xf32>
  %s:2 = kplan.call "add_rms_norm"(%g, %e) weights(%g2) {params = {hidden = 64 : i64, eps = 1.0e-5 : f64}} : (tensor<?x64xf32>, tensor<?x64xf32>, tensor<64xf32>) -> (tensor<?x64xf32>, tensor<?x64xf32>)
  return %s#1 : tensor<?x64xf32>
}
