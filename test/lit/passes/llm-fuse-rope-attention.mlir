// RUN: llm-opt %s -split-input-file -llm-fuse-rope-attention | FileCheck %s
// Ropes of q and k that feed only an attention move into its prologue; anything else stays.

// CHECK-LABEL: func.func @fuses
func.func @fuses(%q: tensor<?x64xf32>, %k: tensor<?x32xf32>, %v: tensor<?x32xf32>, %pos: tensor<?xi32>) -> tensor<?x64xf32> {
  // CHECK-NOT: llm.rope
  // CHECK: llm.attention %arg0, %arg1, %arg2 rope(%arg3) {head_dim = 16 : i64, layer = 0 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, rope = {factor = 8.000000e+00 : f64, high_freq_factor = 4.000000e+00 : f64, low_freq_factor = 1.000000e+00 : f64, original_max_positions = 8192 : i64, scaling = "llama3", theta = 5.000000e+05 : f64}, scale = 2.500000e-01 : f64}
  %qr = llm.rope %q, %pos {num_heads = 4 : i64, head_dim = 16 : i64, theta = 5.0e+05 : f64, scaling = "llama3", factor = 8.0 : f64, low_freq_factor = 1.0 : f64, high_freq_factor = 4.0 : f64, original_max_positions = 8192 : i64} : (tensor<?x64xf32>, tensor<?xi32>) -> tensor<?x64xf32>
  %kr = llm.rope %k, %pos {num_heads = 2 : i64, head_dim = 16 : i64, theta = 5.0e+05 : f64, scaling = "llama3", factor = 8.0 : f64, low_freq_factor = 1.0 : f64, high_freq_factor = 4.0 : f64, original_max_positions = 8192 : i64} : (tensor<?x32xf32>, tensor<?xi32>) -> tensor<?x32xf32>
  %o = llm.attention %qr, %kr, %v {layer = 0 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 16 : i64, scale = 0.25 : f64} : (tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>) -> tensor<?x64xf32>
  return %o : tensor<?x64xf32>
}

// -----

// Different theta for q and k: not one prologue.
// CHECK-LABEL: func.func @different_rope
func.func @different_rope(%q: tensor<?x64xf32>, %k: tensor<?x32xf32>, %v: tensor<?x32xf32>, %pos: tensor<?xi32>) -> tensor<?x64xf32> {
  // CHECK: llm.rope
  // CHECK: llm.rope
  // CHECK: llm.attention %{{[0-9]+}}, %{{[0-9]+}}, %arg2 {
  %qr = llm.rope %q, %pos {num_heads = 4 : i64, head_dim = 16 : i64, theta = 1.0e+04 : f64, scaling = "none"} : (tensor<?x64xf32>, tensor<?xi32>) -> tensor<?x64xf32>
  %kr = llm.rope %k, %pos {num_heads = 2 : i64, head_dim = 16 : i64, theta = 2.0e+04 : f64, scaling = "none"} : (tensor<?x32xf32>, tensor<?xi32>) -> tensor<?x32xf32>
  %o = llm.attention %qr, %kr, %v {layer = 0 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 16 : i64, scale = 0.25 : f64} : (tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>) -> tensor<?x64xf32>
  return %o : tensor<?x64xf32>
}

// -----

// The rotated q is used elsewhere too: fusing would compute it twice.
// CHECK-LABEL: func.func @other_use
func.func @other_use(%q: tensor<?x64xf32>, %k: tensor<?x32xf32>, %v: tensor<?x32xf32>, %pos: tensor<?xi32>) -> (tensor<?x64xf32>, tensor<?x64xf32>) {
  // CHECK-COUNT-2: llm.rope
  %qr = llm.rope %q, %pos {num_heads = 4 : i64, head_dim = 16 : i64, theta = 1.0e+04 : f64, scaling = "none"} : (tensor<?x64xf32>, tensor<?xi32>) -> tensor<?x64xf32>
  %kr = llm.rope %k, %pos {num_heads = 2 : i64, head_dim = 16 : i64, theta = 1.0e+04 : f64, scaling = "none"} : (tensor<?x32xf32>, tensor<?xi32>) -> tensor<?x32xf32>
  %o = llm.attention %qr, %kr, %v {layer = 0 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 16 : i64, scale = 0.25 : f64} : (tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>) -> tensor<?x64xf32>
  return %o, %qr : tensor<?x64xf32>, tensor<?x64xf32>
}
