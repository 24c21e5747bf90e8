// RUN: llm-opt %s -split-input-file -llm-select-kernels | FileCheck %s --implicit-check-not="= llm."
// Every llm op becomes a registry kernel call; rope frequencies are computed here.

// CHECK-LABEL: func.func @forward
module attributes {llm.target = "cpu"} {
  func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>, %rows: tensor<?xi32>) -> tensor<?x32xf32> {
    // CHECK: %[[T:.*]] = kplan.weight ["embed"] {layout = "rows8"} : tensor<32x16xf32>
    %t = llm.weight "embed" : tensor<32x16xf32>
    %g = llm.weight "g" : tensor<16xf32>
    %w = llm.weight "w" : tensor<8x16xf32>
    %b = llm.weight "b" : tensor<8xf32>
    %g2 = llm.weight "wq" : tensor<16x16xf32>
    %b2 = llm.weight "bq" : tensor<16xf32>
    // CHECK: %[[X:.*]] = kplan.call "embedding"(%arg0) weights(%[[T]]) {params = {hidden = 16 : i64, vocab = 32 : i64, weight_layout = "rows8"}}
    %x = llm.embedding %ids, %t : (tensor<?xi32>, tensor<32x16xf32>) -> tensor<?x16xf32>
    // CHECK: %[[N:.*]] = kplan.call "rms_norm"(%[[X]]) weights(%{{.*}}) {params = {eps = 1.000000e-05 : f64, hidden = 16 : i64}}
    %n = llm.rms_norm %x, %g {eps = 1.0e-05 : f64} : (tensor<?x16xf32>, tensor<16xf32>) -> tensor<?x16xf32>
    // CHECK: kplan.call "linear"(%[[N]]) weights(%{{.*}}, %{{.*}}) {params = {block_cols = 16 : i64, block_rows = 24 : i64, has_bias = 1 : i64, in_features = 16 : i64, out_features = 8 : i64, weight_layout = "rows8"}}
    %k = llm.linear %n, %w, %b : (tensor<?x16xf32>, tensor<8x16xf32>, tensor<8xf32>) -> tensor<?x8xf32>
    // Default rope: inv_freq[i] = theta^(-2i/d) for d = 8, theta = 10000.
    // CHECK: kplan.call "rope"({{.*}}, %arg1) {params = {attention_factor = 1.000000e+00 : f64, head_dim = 8 : i64, inv_freq = array<f32: 1.000000e+00, 1.000000e-01, 0.00999999977, 1.000000e-03>, num_heads = 1 : i64}}
    %kr = llm.rope %k, %pos {num_heads = 1 : i64, head_dim = 8 : i64, theta = 1.0e+04 : f64, scaling = "none"} : (tensor<?x8xf32>, tensor<?xi32>) -> tensor<?x8xf32>
    // Linear scaling divides every frequency by the factor.
    // CHECK: kplan.call "rope"{{.*}}inv_freq = array<f32: 5.000000e-01, 5.000000e-02, 5.000000e-03, 5.000000e-04>
    %kl = llm.rope %k, %pos {num_heads = 1 : i64, head_dim = 8 : i64, theta = 1.0e+04 : f64, scaling = "linear", factor = 2.0 : f64} : (tensor<?x8xf32>, tensor<?xi32>) -> tensor<?x8xf32>
    // CHECK: kplan.call "attention"{{.*}}{params = {head_dim = 8 : i64, layer = 0 : i64, num_heads = 2 : i64, num_kv_heads = 1 : i64, scale = 3.500000e-01 : f64, sliding_window = 4 : i64}}
    %q = llm.linear %n, %g2, %b2 : (tensor<?x16xf32>, tensor<16x16xf32>, tensor<16xf32>) -> tensor<?x16xf32>
    %a = llm.attention %q, %kr, %kl {layer = 0 : i64, num_heads = 2 : i64, num_kv_heads = 1 : i64, head_dim = 8 : i64, scale = 0.35 : f64, sliding_window = 4 : i64} : (tensor<?x16xf32>, tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x16xf32>
    // CHECK: kplan.call "gated_act"{{.*}}{params = {act = "silu", width = 16 : i64}}
    %h = llm.gated_act %a, %x {act = "silu"} : tensor<?x16xf32>
    // CHECK: kplan.call "add"{{.*}}{params = {width = 16 : i64}}
    %s = llm.add %h, %x : tensor<?x16xf32>
    // CHECK: kplan.call "mul"{{.*}}{params = {width = 16 : i64}}
    %m = llm.mul %s, %x : tensor<?x16xf32>
    // CHECK: %[[L:.*]] = kplan.call "logits"({{.*}}, %arg2) weights(%[[T]]) {params = {block_cols = 16 : i64, block_rows = 24 : i64, hidden = 16 : i64, vocab = 32 : i64, weight_layout = "rows8"}}
    %l = llm.logits %m, %rows, %t : (tensor<?x16xf32>, tensor<?xi32>, tensor<32x16xf32>) -> tensor<?x32xf32>
    // CHECK: return %[[L]]
    return %l : tensor<?x32xf32>
  }
}

// -----

// llama3 scaling with original_max_positions 32, factor 8, low 1, high 4: wavelengths above 32
// are divided by 8, below 8 kept, and the band between interpolated. theta 100, d 8: frequencies
// 1, 0.316, 0.1, 0.0316 (wavelengths 6.3, 19.9, 62.8, 199); the second is interpolated:
// smooth = (32/19.87 - 1)/3 = 0.2035, (1 - smooth) * 0.3162/8 + smooth * 0.3162 = 0.0958.
// CHECK-LABEL: func.func @llama3
module attributes {llm.target = "cpu"} {
  func.func @llama3(%ids: tensor<?xi32>, %pos: tensor<?xi32>, %rows: tensor<?xi32>) -> tensor<?x8xf32> {
    %t = llm.weight "embed" : tensor<8x8xf32>
    %x = llm.embedding %ids, %t : (tensor<?xi32>, tensor<8x8xf32>) -> tensor<?x8xf32>
    // CHECK: kplan.call "rope"{{.*}}inv_freq = array<f32: 1.000000e+00, 0.0958{{[0-9]*}}, 1.250000e-02, 0.00395{{[0-9]*}}>
    %r = llm.rope %x, %pos {num_heads = 1 : i64, head_dim = 8 : i64, theta = 1.0e+02 : f64, scaling = "llama3", factor = 8.0 : f64, low_freq_factor = 1.0 : f64, high_freq_factor = 4.0 : f64, original_max_positions = 32 : i64} : (tensor<?x8xf32>, tensor<?xi32>) -> tensor<?x8xf32>
    %l = llm.logits %r, %rows, %t : (tensor<?x8xf32>, tensor<?xi32>, tensor<8x8xf32>) -> tensor<?x8xf32>
    return %l : tensor<?x8xf32>
  }
}

// -----

// The fused forms: a packed attention with a rope prologue, stacked weights, a linear with a glu
// epilogue, add_rms_norm with two results.
// CHECK-LABEL: func.func @fused
module attributes {llm.target = "cpu"} {
  func.func @fused(%ids: tensor<?xi32>, %pos: tensor<?xi32>, %rows: tensor<?xi32>) -> tensor<?x16xf32> {
    %t = llm.weight "embed" : tensor<16x16xf32>
    %g = llm.weight "g" : tensor<16xf32>
    %wq = llm.weight "wq" : tensor<16x16xf32>
    %wk = llm.weight "wk" : tensor<8x16xf32>
    %wv = llm.weight "wv" : tensor<8x16xf32>
    // CHECK: %[[QKV:.*]] = kplan.weight ["wq", "wk", "wv"] {layout = "rows8"} : tensor<32x16xf32>
    %w = llm.weight_concat %wq, %wk, %wv : (tensor<16x16xf32>, tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<32x16xf32>
    %x = llm.embedding %ids, %t : (tensor<?xi32>, tensor<16x16xf32>) -> tensor<?x16xf32>
    // CHECK: kplan.call "linear"({{.*}}) weights(%[[QKV]])
    %qkv = llm.linear %x, %w : (tensor<?x16xf32>, tensor<32x16xf32>) -> tensor<?x32xf32>
    // CHECK: kplan.call "attention_qkv"(%{{.*}}) {params = {attention_factor = 1.000000e+00 : f64, head_dim = 8 : i64, inv_freq = array<f32: 1.000000e+00, 1.000000e-01, 0.00999999977, 1.000000e-03>, layer = 0 : i64, num_heads = 2 : i64, num_kv_heads = 1 : i64, scale = 3.500000e-01 : f64, sliding_window = 0 : i64}} : (tensor<?x32xf32>) -> tensor<?x16xf32>
    %a = llm.attention %qkv rope(%pos) {layer = 0 : i64, num_heads = 2 : i64, num_kv_heads = 1 : i64, head_dim = 8 : i64, scale = 0.35 : f64, rope = {scaling = "none", theta = 1.0e+04 : f64}} : (tensor<?x32xf32>, tensor<?xi32>) -> tensor<?x16xf32>
    // CHECK: kplan.call "add_rms_norm"(%{{.*}}, %{{.*}}) weights(%{{.*}}) {params = {eps = 1.000000e-05 : f64, hidden = 16 : i64}} : (tensor<?x16xf32>, tensor<?x16xf32>, tensor<16xf32>) -> (tensor<?x16xf32>, tensor<?x16xf32>)
    %s, %n = llm.add_rms_norm %x, %a, %g {eps = 1.0e-05 : f64} : (tensor<?x16xf32>, tensor<?x16xf32>, tensor<16xf32>) -> (tensor<?x16xf32>, tensor<?x16xf32>)
    // CHECK: kplan.call "linear"{{.*}}epilogue = "glu_gelu"{{.*}}out_features = 16
    %m = llm.linear %n, %w {epilogue = "glu_gelu"} : (tensor<?x16xf32>, tensor<32x16xf32>) -> tensor<?x16xf32>
    // CHECK: kplan.call "glu"(%{{.*}}) {params = {act = "silu", width = 16 : i64}}
    %gu = llm.linear %m, %w : (tensor<?x16xf32>, tensor<32x16xf32>) -> tensor<?x32xf32>
    %h = llm.glu %gu {act = "silu"} : (tensor<?x32xf32>) -> tensor<?x16xf32>
    %y = llm.add %h, %s : tensor<?x16xf32>
    %l = llm.logits %y, %rows, %t : (tensor<?x16xf32>, tensor<?xi32>, tensor<16x16xf32>) -> tensor<?x16xf32>
    return %l : tensor<?x16xf32>
  }
}

// -----

// A CUDA target gets the CUDA family's tunables (a GPU is not needed to lower and verify).
// CHECK: module attributes {kplan.tuned_calls = 0 : i64, llm.target = "cuda-sm90"}
// CHECK-LABEL: func.func @cuda
module attributes {llm.target = "cuda-sm90"} {
  func.func @cuda(%ids: tensor<?xi32>, %pos: tensor<?xi32>, %rows: tensor<?xi32>) -> tensor<?x16xf32> {
    %t = llm.weight "embed" : tensor<16x16xf32>
    %x = llm.embedding %ids, %t : (tensor<?xi32>, tensor<16x16xf32>) -> tensor<?x16xf32>
    // CHECK: kplan.call "attention"{{.*}}{params = {block_kv = 32 : i64, head_dim = 8 : i64, layer = 0 : i64, num_heads = 2 : i64, num_kv_heads = 2 : i64, num_warps = 4 : i64
    %a = llm.attention %x, %x, %x {layer = 0 : i64, num_heads = 2 : i64, num_kv_heads = 2 : i64, head_dim = 8 : i64, scale = 0.35 : f64} : (tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
    // CHECK: kplan.call "logits"{{.*}}{params = {block_k = 32 : i64, block_m = 64 : i64, block_n = 64 : i64, hidden = 16 : i64, num_stages = 3 : i64, num_warps = 4 : i64, vocab = 16 : i64}}
    %l = llm.logits %a, %rows, %t : (tensor<?x16xf32>, tensor<?xi32>, tensor<16x16xf32>) -> tensor<?x16xf32>
    return %l : tensor<?x16xf32>
  }
}
