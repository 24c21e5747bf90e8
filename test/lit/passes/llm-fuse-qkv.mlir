// RUN: llm-opt %s -split-input-file -llm-fuse-qkv | FileCheck %s
// RUN: llm-opt %s -split-input-file -llm-quantize-weights=scheme=keep -llm-fuse-qkv | FileCheck %s --check-prefix=KEEP
// Three projections of one input feeding only an attention become one stacked linear.

// CHECK-LABEL: func.func @fuses_with_bias
func.func @fuses_with_bias(%h: tensor<?x64xf32>, %pos: tensor<?xi32>) -> tensor<?x64xf32> {
  %wq = llm.weight "q.w" : tensor<64x64xf32>
  %wk = llm.weight "k.w" : tensor<32x64xf32>
  %wv = llm.weight "v.w" : tensor<32x64xf32>
  %bq = llm.weight "q.b" : tensor<64xf32>
  %bk = llm.weight "k.b" : tensor<32xf32>
  %bv = llm.weight "v.b" : tensor<32xf32>
  // CHECK: %[[W:.*]] = llm.weight_concat %{{.*}}, %{{.*}}, %{{.*}} : (tensor<64x64xf32>, tensor<32x64xf32>, tensor<32x64xf32>) -> tensor<128x64xf32>
  // CHECK: %[[B:.*]] = llm.weight_concat %{{.*}}, %{{.*}}, %{{.*}} : (tensor<64xf32>, tensor<32xf32>, tensor<32xf32>) -> tensor<128xf32>
  // CHECK: %[[QKV:.*]] = llm.linear %arg0, %[[W]], %[[B]] : (tensor<?x64xf32>, tensor<128x64xf32>, tensor<128xf32>) -> tensor<?x128xf32>
  // CHECK: llm.attention %[[QKV]] rope(%arg1) {{.*}} : (tensor<?x128xf32>, tensor<?xi32>) -> tensor<?x64xf32>
  // CHECK-NOT: llm.linear
  %q = llm.linear %h, %wq, %bq : (tensor<?x64xf32>, tensor<64x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
  %k = llm.linear %h, %wk, %bk : (tensor<?x64xf32>, tensor<32x64xf32>, tensor<32xf32>) -> tensor<?x32xf32>
  %v = llm.linear %h, %wv, %bv : (tensor<?x64xf32>, tensor<32x64xf32>, tensor<32xf32>) -> tensor<?x32xf32>
  %o = llm.attention %q, %k, %v rope(%pos) {layer = 0 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 16 : i64, scale = 0.25 : f64, rope = {scaling = "none", theta = 1.0e+04 : f64}} : (tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?xi32>) -> tensor<?x64xf32>
  return %o : tensor<?x64xf32>
}

// -----

// Only q has a bias: the stacked linear could not express it, nothing changes.
// CHECK-LABEL: func.func @mixed_bias
func.func @mixed_bias(%h: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %wq = llm.weight "q.w" : tensor<64x64xf32>
  %wk = llm.weight "k.w" : tensor<32x64xf32>
  %bq = llm.weight "q.b" : tensor<64xf32>
  // CHECK-COUNT-3: llm.linear
  // CHECK-NOT: llm.weight_concat
  %q = llm.linear %h, %wq, %bq : (tensor<?x64xf32>, tensor<64x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
  %k = llm.linear %h, %wk : (tensor<?x64xf32>, tensor<32x64xf32>) -> tensor<?x32xf32>
  %v = llm.linear %h, %wk : (tensor<?x64xf32>, tensor<32x64xf32>) -> tensor<?x32xf32>
  %o = llm.attention %q, %k, %v {layer = 0 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 16 : i64, scale = 0.25 : f64} : (tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>) -> tensor<?x64xf32>
  return %o : tensor<?x64xf32>
}

// -----

// k projects another input: not one linear.
// CHECK-LABEL: func.func @different_inputs
func.func @different_inputs(%h: tensor<?x64xf32>, %g: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %wq = llm.weight "q.w" : tensor<64x64xf32>
  %wk = llm.weight "k.w" : tensor<32x64xf32>
  // CHECK-COUNT-3: llm.linear
  %q = llm.linear %h, %wq : (tensor<?x64xf32>, tensor<64x64xf32>) -> tensor<?x64xf32>
  %k = llm.linear %g, %wk : (tensor<?x64xf32>, tensor<32x64xf32>) -> tensor<?x32xf32>
  %v = llm.linear %h, %wk : (tensor<?x64xf32>, tensor<32x64xf32>) -> tensor<?x32xf32>
  %o = llm.attention %q, %k, %v {layer = 0 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 16 : i64, scale = 0.25 : f64} : (tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>) -> tensor<?x64xf32>
  return %o : tensor<?x64xf32>
}

// -----

// Weights of one storage format stack into one weight of that format.
// CHECK-LABEL: func.func @same_format
func.func @same_format(%h: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %wq = llm.weight "q.w" {quant = "q5_0"} : tensor<64x64xf32>
  %wk = llm.weight "k.w" {quant = "q5_0"} : tensor<32x64xf32>
  %wv = llm.weight "v.w" {quant = "q5_0"} : tensor<32x64xf32>
  // CHECK: %[[W:.*]] = llm.weight_concat %{{.*}}, %{{.*}}, %{{.*}} : (tensor<64x64xf32>, tensor<32x64xf32>, tensor<32x64xf32>) -> tensor<128x64xf32>
  // CHECK: llm.linear %arg0, %[[W]] : (tensor<?x64xf32>, tensor<128x64xf32>) -> tensor<?x128xf32>
  // CHECK-NOT: llm.linear
  %q = llm.linear %h, %wq : (tensor<?x64xf32>, tensor<64x64xf32>) -> tensor<?x64xf32>
  %k = llm.linear %h, %wk : (tensor<?x64xf32>, tensor<32x64xf32>) -> tensor<?x32xf32>
  %v = llm.linear %h, %wv : (tensor<?x64xf32>, tensor<32x64xf32>) -> tensor<?x32xf32>
  %o = llm.attention %q, %k, %v {layer = 0 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 16 : i64, scale = 0.25 : f64} : (tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>) -> tensor<?x64xf32>
  return %o : tensor<?x64xf32>
}

// -----

// v has another format than q and k (as a GGUF Q4_K_M file stores some layers): a stack would
// have to be float32, so the three linears stay, each reading its own format.
// CHECK-LABEL: func.func @mixed_formats
func.func @mixed_formats(%h: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %wq = llm.weight "q.w" {quant = "q5_0"} : tensor<64x64xf32>
  %wk = llm.weight "k.w" {quant = "q5_0"} : tensor<32x64xf32>
  %wv = llm.weight "v.w" {quant = "q8_0"} : tensor<32x64xf32>
  // CHECK-NOT: llm.weight_concat
  // CHECK-COUNT-3: llm.linear
  // CHECK: llm.attention %{{.*}}, %{{.*}}, %{{.*}} {
  %q = llm.linear %h, %wq : (tensor<?x64xf32>, tensor<64x64xf32>) -> tensor<?x64xf32>
  %k = llm.linear %h, %wk : (tensor<?x64xf32>, tensor<32x64xf32>) -> tensor<?x32xf32>
  %v = llm.linear %h, %wv : (tensor<?x64xf32>, tensor<32x64xf32>) -> tensor<?x32xf32>
  %o = llm.attention %q, %k, %v {layer = 0 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 16 : i64, scale = 0.25 : f64} : (tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>) -> tensor<?x64xf32>
  return %o : tensor<?x64xf32>
}

// -----

// A quantized part next to float32 ones (no `quant`) differs too.
// CHECK-LABEL: func.func @quantized_and_float
func.func @quantized_and_float(%h: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %wq = llm.weight "q.w" : tensor<64x64xf32>
  %wk = llm.weight "k.w" : tensor<32x64xf32>
  %wv = llm.weight "v.w" {quant = "q5_1"} : tensor<32x64xf32>
  // CHECK-NOT: llm.weight_concat
  // CHECK-COUNT-3: llm.linear
  %q = llm.linear %h, %wq : (tensor<?x64xf32>, tensor<64x64xf32>) -> tensor<?x64xf32>
  %k = llm.linear %h, %wk : (tensor<?x64xf32>, tensor<32x64xf32>) -> tensor<?x32xf32>
  %v = llm.linear %h, %wv : (tensor<?x64xf32>, tensor<32x64xf32>) -> tensor<?x32xf32>
  %o = llm.attention %q, %k, %v {layer = 0 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 16 : i64, scale = 0.25 : f64} : (tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>) -> tensor<?x64xf32>
  return %o : tensor<?x64xf32>
}

// -----

// A checkpoint's formats (source_format) matter once llm-quantize-weights has kept them, as the
// compile pipeline does before the fusions: alone, the pass sees float32 weights and fuses.
// CHECK-LABEL: func.func @kept_mixed_formats
// KEEP-LABEL: func.func @kept_mixed_formats
func.func @kept_mixed_formats(%h: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %wq = llm.weight "q.w" {source_format = "q5_0"} : tensor<64x64xf32>
  %wk = llm.weight "k.w" {source_format = "q5_0"} : tensor<32x64xf32>
  %wv = llm.weight "v.w" {source_format = "q8_0"} : tensor<32x64xf32>
  // CHECK: llm.weight_concat
  // KEEP-DAG: llm.weight "q.w" {quant = "q5_0", source_format = "q5_0"}
  // KEEP-DAG: llm.weight "v.w" {quant = "q8_0", source_format = "q8_0"}
  // KEEP-NOT: llm.weight_concat
  // KEEP-COUNT-3: llm.linear
  %q = llm.linear %h, %wq : (tensor<?x64xf32>, tensor<64x64xf32>) -> tensor<?x64xf32>
  %k = llm.linear %h, %wk : (tensor<?x64xf32>, tensor<32x64xf32>) -> tensor<?x32xf32>
  %v = llm.linear %h, %wv : (tensor<?x64xf32>, tensor<32x64xf32>) -> tensor<?x32xf32>
  %o = llm.attention %q, %k, %v {layer = 0 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 16 : i64, scale = 0.25 : f64} : (tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>) -> tensor<?x64xf32>
  return %o : tensor<?x64xf32>
}
