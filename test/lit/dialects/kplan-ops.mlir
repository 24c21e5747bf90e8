// RUN: llm-opt %s | llm-opt | FileCheck %s
// Round trip of kernel calls with weights, parameters of every kind and arena offsets.

// CHECK-LABEL: func.func @calls
func.func @calls(%x: tensor<?x64xf32>, %pos: tensor<?xi32>) -> tensor<?x64xf32> {
  // CHECK: kplan.weight "w" : tensor<64x64xf32>
  %w = kplan.weight "w" {layout = "row_major"} : tensor<64x64xf32>
  // CHECK: kplan.call "linear"(%{{.*}}) weights(%{{.*}}) {arena_offset = 0 : i64, params = {has_bias = 0 : i64, in_features = 64 : i64, out_features = 64 : i64}}
  %y = kplan.call "linear"(%x) weights(%w) {arena_offset = 0 : i64, params = {has_bias = 0 : i64, in_features = 64 : i64, out_features = 64 : i64}} : (tensor<?x64xf32>, tensor<64x64xf32>) -> tensor<?x64xf32>
  // CHECK: kplan.call "rope"(%{{.*}}, %{{.*}}) {params = {{{.*}}inv_freq = array<f32: 1.000000e+00, 5.000000e-01>
  %r = kplan.call "rope"(%y, %pos) {params = {num_heads = 16 : i64, head_dim = 4 : i64, inv_freq = array<f32: 1.0, 0.5>}} : (tensor<?x64xf32>, tensor<?xi32>) -> tensor<?x64xf32>
  // CHECK: kplan.call "gated_act"{{.*}}act = "silu"
  %g = kplan.call "gated_act"(%r, %y) {params = {width = 64 : i64, act = "silu"}} : (tensor<?x64xf32>, tensor<?x64xf32>) -> tensor<?x64xf32>
  return %g : tensor<?x64xf32>
}
