// RUN: llm-opt %s -split-input-file -llm-select-kernels | FileCheck %s
// On CPU targets, float32 weight matrices go in the float kernels' tiles (rows8) when their rows
// and columns, and a glu linear's two halves, are multiples of 8 and only embedding, linear and
// logits read them; the calls reading them say so (weight_layout). Other shapes, vectors and
// CUDA targets keep row_major (the default, not printed).

// CHECK-LABEL: func.func @cpu
// CHECK-DAG: %[[A:.*]] = kplan.weight ["a"] {layout = "rows8"} : tensor<16x32xf32>
// CHECK-DAG: %[[B:.*]] = kplan.weight ["b"] : tensor<12x32xf32>
// CHECK-DAG: %[[C:.*]] = kplan.weight ["c"] : tensor<16x20xf32>
// CHECK-DAG: %[[G:.*]] = kplan.weight ["g"] : tensor<24x32xf32>
// CHECK-DAG: %[[H:.*]] = kplan.weight ["h"] {layout = "rows8"} : tensor<32x32xf32>
// CHECK-DAG: %[[T:.*]] = kplan.weight ["table"] {layout = "rows8"} : tensor<64x32xf32>
// CHECK-DAG: %[[N:.*]] = kplan.weight ["norm"] : tensor<32xf32>
// CHECK: kplan.call "embedding"(%arg1) weights(%[[T]]) {params = {hidden = 32 : i64, vocab = 64 : i64, weight_layout = "rows8"}}
// CHECK: kplan.call "linear"(%arg0) weights(%[[A]]) {params = {{{.*}}weight_layout = "rows8"}}
// CHECK: kplan.call "linear"(%arg0) weights(%[[B]]) {params = {{{.*}}out_features = 12 : i64}}
// CHECK: kplan.call "linear"(%{{.*}}) weights(%[[C]]) {params = {{{.*}}out_features = 16 : i64}}
// CHECK: kplan.call "linear"(%arg0) weights(%[[G]]) {params = {{{.*}}epilogue = "glu_silu"{{.*}}out_features = 12 : i64}}
// CHECK: kplan.call "linear"(%arg0) weights(%[[H]]) {params = {{{.*}}weight_layout = "rows8"}}
// CHECK: kplan.call "rms_norm"(%arg0) weights(%[[N]]) {params = {eps = {{.*}}, hidden = 32 : i64}}
// CHECK: kplan.call "logits"(%arg0, %arg2) weights(%[[T]]) {params = {{{.*}}hidden = 32 : i64, vocab = 64 : i64, weight_layout = "rows8"}}
module attributes {llm.target = "cpu"} {
func.func @cpu(%x: tensor<?x32xf32>, %ids: tensor<?xi32>, %rows: tensor<?xi32>, %x20: tensor<?x20xf32>) -> (tensor<?x32xf32>, tensor<?x16xf32>, tensor<?x12xf32>, tensor<?x16xf32>, tensor<?x12xf32>, tensor<?x16xf32>, tensor<?x32xf32>, tensor<?x64xf32>) {
  %a = llm.weight "a" : tensor<16x32xf32>
  %b = llm.weight "b" : tensor<12x32xf32>
  %c = llm.weight "c" : tensor<16x20xf32>
  %g = llm.weight "g" : tensor<24x32xf32>
  %h = llm.weight "h" : tensor<32x32xf32>
  %t = llm.weight "table" : tensor<64x32xf32>
  %n = llm.weight "norm" : tensor<32xf32>
  %e = llm.embedding %ids, %t : (tensor<?xi32>, tensor<64x32xf32>) -> tensor<?x32xf32>
  %ya = llm.linear %x, %a : (tensor<?x32xf32>, tensor<16x32xf32>) -> tensor<?x16xf32>
  %yb = llm.linear %x, %b : (tensor<?x32xf32>, tensor<12x32xf32>) -> tensor<?x12xf32>
  %yc = llm.linear %x20, %c : (tensor<?x20xf32>, tensor<16x20xf32>) -> tensor<?x16xf32>
  %yg = llm.linear %x, %g {epilogue = "glu_silu"} : (tensor<?x32xf32>, tensor<24x32xf32>) -> tensor<?x12xf32>
  %yh = llm.linear %x, %h {epilogue = "glu_silu"} : (tensor<?x32xf32>, tensor<32x32xf32>) -> tensor<?x16xf32>
  %yn = llm.rms_norm %x, %n {eps = 1.0e-05 : f64} : (tensor<?x32xf32>, tensor<32xf32>) -> tensor<?x32xf32>
  %l = llm.logits %x, %rows, %t : (tensor<?x32xf32>, tensor<?xi32>, tensor<64x32xf32>) -> tensor<?x64xf32>
  return %e, %ya, %yb, %yc, %yg, %yh, %yn, %l : tensor<?x32xf32>, tensor<?x16xf32>, tensor<?x12xf32>, tensor<?x16xf32>, tensor<?x12xf32>, tensor<?x16xf32>, tensor<?x32xf32>, tensor<?x64xf32>
}
}

// -----

// CHECK-LABEL: func.func @cuda
// CHECK: kplan.weight ["a"] : tensor<16x32xf32>
// CHECK-NOT: weight_layout
module attributes {llm.target = "cuda-sm80"} {
func.func @cuda(%x: tensor<?x32xf32>) -> tensor<?x16xf32> {
  %a = llm.weight "a" : tensor<16x32xf32>
  %ya = llm.linear %x, %a : (tensor<?x32xf32>, tensor<16x32xf32>) -> tensor<?x16xf32>
  return %ya : tensor<?x16xf32>
}
}
