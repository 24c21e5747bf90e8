// RUN: llm-opt %s -split-input-file -llm-plan-buffers | FileCheck %s
// Placement by liveness: buffers whose live ranges do not overlap share arena space, row-local
// kernels write in place over an input that dies at the call, other kernels never overlap their
// own inputs, logits live in their own region, rows are rounded up to 64 bytes.

// CHECK-LABEL: func.func @forward
// CHECK-SAME: kplan.arena_bytes_per_logit_row = 64 : i64, kplan.arena_bytes_per_token = 192 : i64, kplan.unshared_bytes_per_token = 512 : i64
func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>, %rows: tensor<?xi32>) -> tensor<?x8xf32> {
  %t = kplan.weight ["embed"] : tensor<8x16xf32>
  %g = kplan.weight ["g"] : tensor<16xf32>
  %w = kplan.weight ["w"] : tensor<16x16xf32>
  // 16 floats = 64 bytes per row.
  // CHECK: kplan.call "embedding"{{.*}}arena_offsets = array<i64: 0>
  %x = kplan.call "embedding"(%ids) weights(%t) {params = {hidden = 16 : i64, vocab = 8 : i64}} : (tensor<?xi32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  // %x stays live (the add below reads it): a new place.
  // CHECK: kplan.call "rms_norm"{{.*}}arena_offsets = array<i64: 64>
  %n = kplan.call "rms_norm"(%x) weights(%g) {params = {hidden = 16 : i64, eps = 1.0e-5 : f64}} : (tensor<?x16xf32>, tensor<16xf32>) -> tensor<?x16xf32>
  // linear is not row-local: its output never shares memory with %n, even though %n dies here.
  // CHECK: kplan.call "linear"{{.*}}arena_offsets = array<i64: 128>
  %l1 = kplan.call "linear"(%n) weights(%w) {params = {has_bias = 0 : i64, in_features = 16 : i64, out_features = 16 : i64}} : (tensor<?x16xf32>, tensor<16x16xf32>) -> tensor<?x16xf32>
  // rms_norm is row-local and %l1 dies here: in place.
  // CHECK: kplan.call "rms_norm"{{.*}}arena_offsets = array<i64: 128>
  %m = kplan.call "rms_norm"(%l1) weights(%g) {params = {hidden = 16 : i64, eps = 1.0e-5 : f64}} : (tensor<?x16xf32>, tensor<16xf32>) -> tensor<?x16xf32>
  // Both outputs in place: the sum over %x, the normalized sum over %m.
  // CHECK: kplan.call "add_rms_norm"{{.*}}arena_offsets = array<i64: 0, 128>
  %s:2 = kplan.call "add_rms_norm"(%x, %m) weights(%g) {params = {hidden = 16 : i64, eps = 1.0e-5 : f64}} : (tensor<?x16xf32>, tensor<?x16xf32>, tensor<16xf32>) -> (tensor<?x16xf32>, tensor<?x16xf32>)
  // Row-local again, both inputs die: in place over the first.
  // CHECK: kplan.call "add"{{.*}}arena_offsets = array<i64: 0>
  %a = kplan.call "add"(%s#0, %s#1) {params = {width = 16 : i64}} : (tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
  // 8 floats = 32 bytes, rounded up to 64, in the logit-row region.
  // CHECK: kplan.call "logits"{{.*}}arena_offsets = array<i64: 0>
  %lg = kplan.call "logits"(%a, %rows) weights(%t) {params = {hidden = 16 : i64, vocab = 8 : i64}} : (tensor<?x16xf32>, tensor<?xi32>, tensor<8x16xf32>) -> tensor<?x8xf32>
  return %lg : tensor<?x8xf32>
}
