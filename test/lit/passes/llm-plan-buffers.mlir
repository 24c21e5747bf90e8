// RUN: llm-opt %s -llm-plan-buffers | FileCheck %s
// Buffers whose live ranges do not overlap share arena space; a call's output never overlaps its
// own inputs; rows are rounded up to 64 bytes.

// CHECK-LABEL: func.func @forward
// CHECK-SAME: kplan.arena_bytes_per_logit_row = 64 : i64, kplan.arena_bytes_per_token = 192 : i64, kplan.unshared_bytes_per_token = 320 : i64
func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>, %rows: tensor<?xi32>) -> tensor<?x8xf32> {
  %t = kplan.weight "embed" : tensor<8x16xf32>
  %g = kplan.weight "g" : tensor<16xf32>
  // 16 floats = 64 bytes per row.
  // CHECK: kplan.call "embedding"{{.*}}arena_offset = 0 : i64
  %x = kplan.call "embedding"(%ids) weights(%t) {params = {hidden = 16 : i64, vocab = 8 : i64}} : (tensor<?xi32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  // CHECK: kplan.call "rms_norm"{{.*}}arena_offset = 64 : i64
  %n = kplan.call "rms_norm"(%x) weights(%g) {params = {hidden = 16 : i64, eps = 1.0e-5 : f64}} : (tensor<?x16xf32>, tensor<16xf32>) -> tensor<?x16xf32>
  // %x is still live (used by the add below): a new place.
  // CHECK: kplan.call "rms_norm"{{.*}}arena_offset = 128 : i64
  %m = kplan.call "rms_norm"(%n) weights(%g) {params = {hidden = 16 : i64, eps = 1.0e-5 : f64}} : (tensor<?x16xf32>, tensor<16xf32>) -> tensor<?x16xf32>
  // %n died at the previous call: its place is free again.
  // CHECK: kplan.call "add"{{.*}}arena_offset = 64 : i64
  %s = kplan.call "add"(%x, %m) {params = {width = 16 : i64}} : (tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
  // 8 floats = 32 bytes, rounded up to 64, in the logit-row region.
  // CHECK: kplan.call "logits"{{.*}}arena_offset = 0 : i64
  %l = kplan.call "logits"(%s, %rows) weights(%t) {params = {hidden = 16 : i64, vocab = 8 : i64}} : (tensor<?x16xf32>, tensor<?xi32>, tensor<8x16xf32>) -> tensor<?x8xf32>
  return %l : tensor<?x8xf32>
}
