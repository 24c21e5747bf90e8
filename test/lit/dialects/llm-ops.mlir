// RUN: llm-opt %s | llm-opt | FileCheck %s
// Round trip: every llm op prints and parses back to the same IR.

// CHECK-LABEL: func.func @all_ops
func.func @all_ops(%ids: tensor<?xi32>, %pos: tensor<?xi32>, %rows: tensor<?xi32>) -> tensor<?x256xf32> {
  // CHECK: llm.weight "embed" : tensor<256x64xf32>
  %table = llm.weight "embed" : tensor<256x64xf32>
  %g = llm.weight "g" : tensor<64xf32>
  %b = llm.weight "b" : tensor<64xf32>
  %wq = llm.weight "wq" : tensor<64x64xf32>
  %bq = llm.weight "bq" : tensor<64xf32>
  %wk = llm.weight "wk" : tensor<32x64xf32>
  // CHECK: llm.embedding %{{.*}}, %{{.*}} : (tensor<?xi32>, tensor<256x64xf32>) -> tensor<?x64xf32>
  %x = llm.embedding %ids, %table : (tensor<?xi32>, tensor<256x64xf32>) -> tensor<?x64xf32>
  // CHECK: llm.rms_norm {{.*}} {eps = 1.000000e-05 : f64}
  %n = llm.rms_norm %x, %g {eps = 1.0e-05 : f64} : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
  // CHECK: llm.layer_norm
  %ln = llm.layer_norm %n, %g, %b {eps = 1.0e-05 : f64} : (tensor<?x64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
  // CHECK: llm.linear %{{.*}}, %{{.*}}, %{{.*}} : (tensor<?x64xf32>, tensor<64x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
  %q = llm.linear %ln, %wq, %bq : (tensor<?x64xf32>, tensor<64x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
  // CHECK: llm.linear %{{.*}}, %{{.*}} : (tensor<?x64xf32>, tensor<32x64xf32>) -> tensor<?x32xf32>
  %k = llm.linear %ln, %wk : (tensor<?x64xf32>, tensor<32x64xf32>) -> tensor<?x32xf32>
  // CHECK: llm.rope {{.*}}scaling = "llama3"
  %qr = llm.rope %q, %pos {num_heads = 4 : i64, head_dim = 16 : i64, theta = 5.0e+05 : f64, scaling = "llama3", factor = 8.0 : f64, low_freq_factor = 1.0 : f64, high_freq_factor = 4.0 : f64, original_max_positions = 8192 : i64} : (tensor<?x64xf32>, tensor<?xi32>) -> tensor<?x64xf32>
  // CHECK: llm.rope {{.*}}scaling = "none"
  %kr = llm.rope %k, %pos {num_heads = 2 : i64, head_dim = 16 : i64, theta = 1.0e+04 : f64, scaling = "none"} : (tensor<?x32xf32>, tensor<?xi32>) -> tensor<?x32xf32>
  // CHECK: llm.attention {{.*}}sliding_window = 4096
  %a = llm.attention %qr, %kr, %kr {layer = 0 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 16 : i64, scale = 2.5e-01 : f64, sliding_window = 4096 : i64} : (tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>) -> tensor<?x64xf32>
  // CHECK: llm.gated_act %{{.*}}, %{{.*}} {act = "gelu_tanh"} : tensor<?x64xf32>
  %h = llm.gated_act %a, %x {act = "gelu_tanh"} : tensor<?x64xf32>
  // CHECK: llm.add
  %s = llm.add %h, %x : tensor<?x64xf32>
  // CHECK: llm.mul
  %m = llm.mul %s, %x : tensor<?x64xf32>
  // CHECK: llm.logits %{{.*}}, %{{.*}}, %{{.*}} : (tensor<?x64xf32>, tensor<?xi32>, tensor<256x64xf32>) -> tensor<?x256xf32>
  %l = llm.logits %m, %rows, %table : (tensor<?x64xf32>, tensor<?xi32>, tensor<256x64xf32>) -> tensor<?x256xf32>
  return %l : tensor<?x256xf32>
}
