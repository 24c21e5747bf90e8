// RUN: llm-opt %s -split-input-file -llm-quantize-weights="scheme=q4_0" -llm-select-kernels | FileCheck %s
// RUN: llm-opt %s -split-input-file -llm-quantize-weights="scheme=q5_0" -llm-select-kernels | FileCheck %s --check-prefix=Q5
// RUN: llm-opt %s -split-input-file -llm-quantize-weights="scheme=w4g32a" -llm-select-kernels | FileCheck %s --check-prefix=W4
// On CPU targets, q8_0 / q4_0 / q4_1 / q5_0 / q5_1 / w4g* weights go in the kernels' tiles
// (rows8_blocks) when their rows, and a glu linear's two halves, are whole tiles of 8 rows; the
// calls reading them say so (weight_layout). Other row counts, formats without tiles and CUDA
// targets keep row_blocks.

// CHECK-LABEL: func.func @cpu
// CHECK-DAG: %[[A:.*]] = kplan.weight ["a"] {layout = "rows8_blocks", quant = "q4_0"} : tensor<16x32xf32>
// CHECK-DAG: %[[B:.*]] = kplan.weight ["b"] {layout = "row_blocks", quant = "q4_0"} : tensor<12x32xf32>
// CHECK-DAG: %[[G:.*]] = kplan.weight ["g"] {layout = "row_blocks", quant = "q4_0"} : tensor<24x32xf32>
// CHECK-DAG: %[[H:.*]] = kplan.weight ["h"] {layout = "rows8_blocks", quant = "q4_0"} : tensor<32x32xf32>
// CHECK: kplan.call "linear"(%arg0) weights(%[[A]]) {params = {{{.*}}weight_format = "q4_0", weight_layout = "rows8_blocks"}}
// CHECK: kplan.call "linear"(%arg0) weights(%[[B]]) {params = {{{.*}}weight_format = "q4_0"}}
// CHECK: kplan.call "linear"(%arg0) weights(%[[G]]) {params = {{{.*}}weight_format = "q4_0"}}
// CHECK: kplan.call "linear"(%arg0) weights(%[[H]]) {params = {{{.*}}weight_format = "q4_0", weight_layout = "rows8_blocks"}}
// Q5-LABEL: func.func @cpu
// Q5-DAG: %[[A:.*]] = kplan.weight ["a"] {layout = "rows8_blocks", quant = "q5_0"} : tensor<16x32xf32>
// Q5-DAG: %[[B:.*]] = kplan.weight ["b"] {layout = "row_blocks", quant = "q5_0"} : tensor<12x32xf32>
// Q5-DAG: %[[G:.*]] = kplan.weight ["g"] {layout = "row_blocks", quant = "q5_0"} : tensor<24x32xf32>
// Q5-DAG: %[[H:.*]] = kplan.weight ["h"] {layout = "rows8_blocks", quant = "q5_0"} : tensor<32x32xf32>
// Q5: kplan.call "linear"(%arg0) weights(%[[A]]) {params = {{{.*}}weight_format = "q5_0", weight_layout = "rows8_blocks"}}
// Q5: kplan.call "linear"(%arg0) weights(%[[B]]) {params = {{{.*}}weight_format = "q5_0"}}
// Q5: kplan.call "linear"(%arg0) weights(%[[G]]) {params = {{{.*}}weight_format = "q5_0"}}
// Q5: kplan.call "linear"(%arg0) weights(%[[H]]) {params = {{{.*}}weight_format = "q5_0", weight_layout = "rows8_blocks"}}
// W4-LABEL: func.func @cpu
// W4-DAG: %[[A:.*]] = kplan.weight ["a"] {layout = "rows8_blocks", quant = "w4g32a"} : tensor<16x32xf32>
// W4-DAG: %[[B:.*]] = kplan.weight ["b"] {layout = "row_blocks", quant = "w4g32a"} : tensor<12x32xf32>
// W4-DAG: %[[G:.*]] = kplan.weight ["g"] {layout = "row_blocks", quant = "w4g32a"} : tensor<24x32xf32>
// W4-DAG: %[[H:.*]] = kplan.weight ["h"] {layout = "rows8_blocks", quant = "w4g32a"} : tensor<32x32xf32>
// W4: kplan.call "linear"(%arg0) weights(%[[A]]) {params = {{{.*}}weight_format = "w4g32a", weight_layout = "rows8_blocks"}}
// W4: kplan.call "linear"(%arg0) weights(%[[B]]) {params = {{{.*}}weight_format = "w4g32a"}}
// W4: kplan.call "linear"(%arg0) weights(%[[G]]) {params = {{{.*}}weight_format = "w4g32a"}}
// W4: kplan.call "linear"(%arg0) weights(%[[H]]) {params = {{{.*}}weight_format = "w4g32a", weight_layout = "rows8_blocks"}}
module attributes {llm.target = "cpu"} {
func.func @cpu(%x: tensor<?x32xf32>) -> (tensor<?x16xf32>, tensor<?x12xf32>, tensor<?x12xf32>, tensor<?x16xf32>) {
  %a = llm.weight "a" : tensor<16x32xf32>
  %b = llm.weight "b" : tensor<12x32xf32>
  %g = llm.weight "g" : tensor<24x32xf32>
  %h = llm.weight "h" : tensor<32x32xf32>
  %ya = llm.linear %x, %a : (tensor<?x32xf32>, tensor<16x32xf32>) -> tensor<?x16xf32>
  %yb = llm.linear %x, %b : (tensor<?x32xf32>, tensor<12x32xf32>) -> tensor<?x12xf32>
  %yg = llm.linear %x, %g {epilogue = "glu_silu"} : (tensor<?x32xf32>, tensor<24x32xf32>) -> tensor<?x12xf32>
  %yh = llm.linear %x, %h {epilogue = "glu_silu"} : (tensor<?x32xf32>, tensor<32x32xf32>) -> tensor<?x16xf32>
  return %ya, %yb, %yg, %yh : tensor<?x16xf32>, tensor<?x12xf32>, tensor<?x12xf32>, tensor<?x16xf32>
}
}

// -----

// CHECK-LABEL: func.func @cuda
// CHECK: kplan.weight ["a"] {layout = "row_blocks", quant = "q4_0"} : tensor<16x32xf32>
// CHECK-NOT: weight_layout
// W4-LABEL: func.func @cuda
// W4: kplan.weight ["a"] {layout = "row_blocks", quant = "w4g32a"} : tensor<16x32xf32>
// W4-NOT: weight_layout
module attributes {llm.target = "cuda-sm80"} {
func.func @cuda(%x: tensor<?x32xf32>) -> tensor<?x16xf32> {
  %a = llm.weight "a" : tensor<16x32xf32>
  %ya = llm.linear %x, %a : (tensor<?x32xf32>, tensor<16x32xf32>) -> tensor<?x16xf32>
  return %ya : tensor<?x16xf32>
}
}
