// RUN: llm-opt %s -split-input-file -llm-verify-input-legality -verify-diagnostics
// Each module below is refused at the door, with the diagnostic on what is wrong.

// expected-error @+1 {{module needs a string attribute 'llm.target' naming the target (known: cpu, cpu-avx2, cpu-avx512, cuda-sm80, cuda-sm90)}}
module {
  func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>, %rows: tensor<?xi32>) -> tensor<?x32xf32> {
    %t = llm.weight "embed" : tensor<32x16xf32>
    %x = llm.embedding %ids, %t : (tensor<?xi32>, tensor<32x16xf32>) -> tensor<?x16xf32>
    %l = llm.logits %x, %rows, %t : (tensor<?x16xf32>, tensor<?xi32>, tensor<32x16xf32>) -> tensor<?x32xf32>
    return %l : tensor<?x32xf32>
  }
}

// -----

// expected-error @+1 {{unknown target 'tpu-v9' (known: cpu, cpu-avx2, cpu-avx512, cuda-sm80, cuda-sm90)}}
module attributes {llm.target = "tpu-v9"} {
}

// -----

// expected-error @+1 {{module needs a func.func @forward}}
module attributes {llm.target = "cpu"} {
}

// -----

module attributes {llm.target = "cpu"} {
  // expected-error @+1 {{@forward must take (token_ids, positions, logit_rows)}}
  func.func @forward(%ids: tensor<?xi32>) -> tensor<?x32xf32> {
    %t = llm.weight "embed" : tensor<32x16xf32>
    %x = llm.embedding %ids, %t : (tensor<?xi32>, tensor<32x16xf32>) -> tensor<?x16xf32>
    %l = llm.logits %x, %ids, %t : (tensor<?x16xf32>, tensor<?xi32>, tensor<32x16xf32>) -> tensor<?x32xf32>
    return %l : tensor<?x32xf32>
  }
}

// -----

module attributes {llm.target = "cpu"} {
  func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>, %rows: tensor<?xi32>) -> tensor<?x32xf32> {
    %t = llm.weight "embed" : tensor<32x16xf32>
    %x = llm.embedding %ids, %t : (tensor<?xi32>, tensor<32x16xf32>) -> tensor<?x16xf32>
    %a = llm.attention %x, %x, %x {layer = 0 : i64, num_heads = 1 : i64, num_kv_heads = 1 : i64, head_dim = 16 : i64, scale = 0.25 : f64} : (tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
    // expected-error @+1 {{KV cache layer 0 is used twice}}
    %b = llm.attention %a, %a, %a {layer = 0 : i64, num_heads = 1 : i64, num_kv_heads = 1 : i64, head_dim = 16 : i64, scale = 0.25 : f64} : (tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
    %l = llm.logits %b, %rows, %t : (tensor<?x16xf32>, tensor<?xi32>, tensor<32x16xf32>) -> tensor<?x32xf32>
    return %l : tensor<?x32xf32>
  }
}

// -----

module attributes {llm.target = "cpu"} {
  // expected-error @+1 {{attention layers must be numbered 0..0}}
  func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>, %rows: tensor<?xi32>) -> tensor<?x32xf32> {
    %t = llm.weight "embed" : tensor<32x16xf32>
    %x = llm.embedding %ids, %t : (tensor<?xi32>, tensor<32x16xf32>) -> tensor<?x16xf32>
    %a = llm.attention %x, %x, %x {layer = 3 : i64, num_heads = 1 : i64, num_kv_heads = 1 : i64, head_dim = 16 : i64, scale = 0.25 : f64} : (tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
    %l = llm.logits %a, %rows, %t : (tensor<?x16xf32>, tensor<?xi32>, tensor<32x16xf32>) -> tensor<?x32xf32>
    return %l : tensor<?x32xf32>
  }
}

// -----

module attributes {llm.target = "cpu"} {
  func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>, %rows: tensor<?xi32>) -> tensor<?x32xf32> {
    %t = llm.weight "embed" : tensor<32x16xf32>
    // expected-error @+1 {{only llm ops may appear in @forward, got 'kplan.weight'}}
    %w = kplan.weight ["embed"] : tensor<32x16xf32>
    %x = llm.embedding %ids, %t : (tensor<?xi32>, tensor<32x16xf32>) -> tensor<?x16xf32>
    %l = llm.logits %x, %rows, %t : (tensor<?x16xf32>, tensor<?xi32>, tensor<32x16xf32>) -> tensor<?x32xf32>
    return %l : tensor<?x32xf32>
  }
}
