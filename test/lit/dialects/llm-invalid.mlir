// RUN: llm-opt %s -split-input-file -verify-diagnostics
// Verifiers reject shapes and attributes that disagree.

func.func @linear_bad_weight(%x: tensor<?x64xf32>, %w: tensor<128x32xf32>) {
  // expected-error @+1 {{input must have 32 columns, got 64}}
  %y = llm.linear %x, %w : (tensor<?x64xf32>, tensor<128x32xf32>) -> tensor<?x128xf32>
  return
}

// -----

func.func @linear_bad_bias(%x: tensor<?x64xf32>, %w: tensor<128x64xf32>, %b: tensor<64xf32>) {
  // expected-error @+1 {{bias must have shape 128}}
  %y = llm.linear %x, %w, %b : (tensor<?x64xf32>, tensor<128x64xf32>, tensor<64xf32>) -> tensor<?x128xf32>
  return
}

// -----

func.func @rms_norm_bad_weight(%x: tensor<?x64xf32>, %w: tensor<32xf32>) {
  // expected-error @+1 {{weight must have shape 64}}
  %y = llm.rms_norm %x, %w {eps = 1.0e-05 : f64} : (tensor<?x64xf32>, tensor<32xf32>) -> tensor<?x64xf32>
  return
}

// -----

func.func @rms_norm_bad_eps(%x: tensor<?x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{eps must be positive}}
  %y = llm.rms_norm %x, %w {eps = 0.0 : f64} : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
  return
}

// -----

func.func @attention_bad_groups(%q: tensor<?x64xf32>, %kv: tensor<?x48xf32>) {
  // expected-error @+1 {{num_heads must be a positive multiple of num_kv_heads}}
  %o = llm.attention %q, %kv, %kv {layer = 0 : i64, num_heads = 4 : i64, num_kv_heads = 3 : i64, head_dim = 16 : i64, scale = 0.25 : f64} : (tensor<?x64xf32>, tensor<?x48xf32>, tensor<?x48xf32>) -> tensor<?x64xf32>
  return
}

// -----

func.func @attention_bad_key(%q: tensor<?x64xf32>, %k: tensor<?x64xf32>, %v: tensor<?x32xf32>) {
  // expected-error @+1 {{key must have 32 columns, got 64}}
  %o = llm.attention %q, %k, %v {layer = 0 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 16 : i64, scale = 0.25 : f64} : (tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x32xf32>) -> tensor<?x64xf32>
  return
}

// -----

func.func @rope_bad_scaling(%x: tensor<?x64xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{scaling must be none, linear or llama3, got 'yarn'}}
  %y = llm.rope %x, %p {num_heads = 4 : i64, head_dim = 16 : i64, theta = 1.0e+04 : f64, scaling = "yarn"} : (tensor<?x64xf32>, tensor<?xi32>) -> tensor<?x64xf32>
  return
}

// -----

func.func @rope_llama3_missing(%x: tensor<?x64xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{llama3 scaling needs}}
  %y = llm.rope %x, %p {num_heads = 4 : i64, head_dim = 16 : i64, theta = 1.0e+04 : f64, scaling = "llama3", factor = 8.0 : f64} : (tensor<?x64xf32>, tensor<?xi32>) -> tensor<?x64xf32>
  return
}

// -----

func.func @rope_bad_width(%x: tensor<?x60xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{input must have 64 columns, got 60}}
  %y = llm.rope %x, %p {num_heads = 4 : i64, head_dim = 16 : i64, theta = 1.0e+04 : f64, scaling = "none"} : (tensor<?x60xf32>, tensor<?xi32>) -> tensor<?x60xf32>
  return
}

// -----

func.func @gated_bad_act(%g: tensor<?x64xf32>) {
  // expected-error @+1 {{act must be silu, gelu or gelu_tanh, got 'relu'}}
  %y = llm.gated_act %g, %g {act = "relu"} : tensor<?x64xf32>
  return
}

// -----

// expected-note @+1 {{prior use here}}
func.func @add_mismatch(%a: tensor<?x64xf32>, %b: tensor<?x32xf32>) {
  // expected-error @+1 {{use of value '%b' expects different type than prior uses}}
  %y = llm.add %a, %b : tensor<?x64xf32>
  return
}

// -----

func.func @logits_bad(%x: tensor<?x64xf32>, %r: tensor<?xi32>, %w: tensor<256x32xf32>) {
  // expected-error @+1 {{input must have 32 columns, got 64}}
  %l = llm.logits %x, %r, %w : (tensor<?x64xf32>, tensor<?xi32>, tensor<256x32xf32>) -> tensor<?x256xf32>
  return
}

// -----

func.func @embedding_bad(%ids: tensor<?xi32>, %t: tensor<256x64xf32>) {
  // expected-error @+1 {{result must have 64 columns, got 32}}
  %x = llm.embedding %ids, %t : (tensor<?xi32>, tensor<256x64xf32>) -> tensor<?x32xf32>
  return
}

// -----

func.func @weight_dynamic() {
  // expected-error @+1 {{weights must have a static shape}}
  %w = llm.weight "w" : tensor<?x64xf32>
  return
}

// -----

func.func @attention_negative_window(%q: tensor<?x64xf32>, %kv: tensor<?x32xf32>) {
  // expected-error @+1 {{layer and sliding_window must be non-negative}}
  %o = llm.attention %q, %kv, %kv {layer = 0 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 16 : i64, scale = 0.25 : f64, sliding_window = -4 : i64} : (tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>) -> tensor<?x64xf32>
  return
}

// -----

func.func @glu_width(%x: tensor<?x64xf32>) {
  // expected-error @+1 {{input must have 256 columns, got 64}}
  %y = llm.glu %x {act = "silu"} : (tensor<?x64xf32>) -> tensor<?x128xf32>
  return
}

// -----

func.func @linear_epilogue_width(%x: tensor<?x64xf32>, %w: tensor<256x64xf32>) {
  // expected-error @+1 {{result must have 128 columns, got 256}}
  %y = llm.linear %x, %w {epilogue = "glu_silu"} : (tensor<?x64xf32>, tensor<256x64xf32>) -> tensor<?x256xf32>
  return
}

// -----

func.func @linear_bad_epilogue(%x: tensor<?x64xf32>, %w: tensor<256x64xf32>) {
  // expected-error @+1 {{epilogue must be glu_silu, glu_gelu or glu_gelu_tanh, got 'relu'}}
  %y = llm.linear %x, %w {epilogue = "relu"} : (tensor<?x64xf32>, tensor<256x64xf32>) -> tensor<?x128xf32>
  return
}

// -----

func.func @concat_mismatch(%a: tensor<32x64xf32>, %b: tensor<32x16xf32>) {
  // expected-error @+1 {{parts must agree in every dimension but the first}}
  %w = llm.weight_concat %a, %b : (tensor<32x64xf32>, tensor<32x16xf32>) -> tensor<64x64xf32>
  return
}

// -----

func.func @packed_width(%qkv: tensor<?x100xf32>) {
  // expected-error @+1 {{packed qkv must have 128 columns, got 100}}
  %o = llm.attention %qkv {layer = 0 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 16 : i64, scale = 0.25 : f64} : (tensor<?x100xf32>) -> tensor<?x64xf32>
  return
}

// -----

func.func @rope_without_positions(%q: tensor<?x64xf32>, %kv: tensor<?x32xf32>) {
  // expected-error @+1 {{a rope prologue needs both rope(%positions) and the rope dictionary}}
  %o = llm.attention %q, %kv, %kv {layer = 0 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 16 : i64, scale = 0.25 : f64, rope = {scaling = "none", theta = 1.0e+04 : f64}} : (tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>) -> tensor<?x64xf32>
  return
}

// -----

func.func @rope_dict_bad(%q: tensor<?x64xf32>, %kv: tensor<?x32xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{rope has no parameter 'beta'}}
  %o = llm.attention %q, %kv, %kv rope(%p) {layer = 0 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 16 : i64, scale = 0.25 : f64, rope = {beta = 1.0 : f64}} : (tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?xi32>) -> tensor<?x64xf32>
  return
}

// -----

func.func @add_rms_norm_types(%a: tensor<?x64xf32>, %b: tensor<?x32xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{operands and results must all have the same type}}
  %s, %n = llm.add_rms_norm %a, %b, %w {eps = 1.0e-05 : f64} : (tensor<?x64xf32>, tensor<?x32xf32>, tensor<64xf32>) -> (tensor<?x64xf32>, tensor<?x64xf32>)
  return
}
