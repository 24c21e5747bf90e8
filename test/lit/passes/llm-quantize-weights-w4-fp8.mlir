// RUN: llm-opt %s -llm-quantize-weights="scheme=w4g128" | FileCheck %s --check-prefix=SYM
// RUN: llm-opt %s -llm-quantize-weights="scheme=w4g64a exclude=lm_head=fp8,embed=w4g32" | FileCheck %s --check-prefix=MIXED
// RUN: llm-opt %s -llm-quantize-weights="scheme=fp8" -llm-select-kernels | FileCheck %s --check-prefix=KPLAN
// RUN: not llm-opt %s -llm-quantize-weights="scheme=w4g256" 2>&1 | FileCheck %s --check-prefix=SCHEME
// RUN: not llm-opt %s -llm-quantize-weights="scheme=w8 exclude=up=w4g16" 2>&1 | FileCheck %s --check-prefix=EXCLUDE
// int4 group-wise and fp8 weights. A group that does not divide a weight's rows falls back to
// the largest smaller group that does, with the same symmetry (rows of 192: w4g128 -> w4g64;
// rows of 96: -> w4g32); rows that are not whole 32-element runs stay f32 whatever the scheme.
// fp8 needs rows of whole 32-element runs like w8.

// SYM-DAG: llm.weight "embed" {quant = "w4g128"} : tensor<64x256xf32>
// SYM-DAG: llm.weight "up" {quant = "w4g128"} : tensor<512x256xf32>
// SYM-DAG: llm.weight "down" {quant = "w4g64"} : tensor<256x192xf32>
// SYM-DAG: llm.weight "mid" {quant = "w4g32"} : tensor<8x96xf32>
// SYM-DAG: llm.weight "odd" : tensor<8x48xf32>
// MIXED-DAG: llm.weight "embed" {quant = "w4g32"} : tensor<64x256xf32>
// MIXED-DAG: llm.weight "up" {quant = "w4g64a"} : tensor<512x256xf32>
// MIXED-DAG: llm.weight "down" {quant = "w4g64a"} : tensor<256x192xf32>
// MIXED-DAG: llm.weight "mid" {quant = "w4g32a"} : tensor<8x96xf32>
// MIXED-DAG: llm.weight "lm_head" {quant = "fp8"} : tensor<64x256xf32>
// KPLAN-DAG: %[[E:.*]] = kplan.weight ["embed"] {layout = "row_blocks", quant = "fp8"} : tensor<64x256xf32>
// KPLAN-DAG: %[[U:.*]] = kplan.weight ["up"] {layout = "row_blocks", quant = "fp8"} : tensor<512x256xf32>
// KPLAN-DAG: %[[M:.*]] = kplan.weight ["mid"] {layout = "row_blocks", quant = "fp8"} : tensor<8x96xf32>
// KPLAN: kplan.call "embedding"(%arg0) weights(%[[E]]) {params = {hidden = 256 : i64, vocab = 64 : i64, weight_format = "fp8"}}
// KPLAN: kplan.call "linear"({{.*}}) weights(%[[U]]) {params = {{{.*}}weight_format = "fp8"}}
// KPLAN: kplan.call "linear"({{.*}}) weights(%[[M]]) {params = {{{.*}}weight_format = "fp8"}}
// SCHEME: unknown quantization scheme 'w4g256' (known: none, keep, q8_0, q4_0, q4_1, q5_0, q5_1, w8, w4g32, w4g64, w4g128, w4g32a, w4g64a, w4g128a, fp8)
// EXCLUDE: quantization exclude entry 'up=w4g16' is not 'pattern' or 'pattern=format' with format f32, keep, q8_0, q4_0, q4_1, q5_0, q5_1, w8, w4g32, w4g64, w4g128, w4g32a, w4g64a, w4g128a, fp8: unknown quantization scheme 'w4g16'
module attributes {llm.target = "cpu"} {
  func.func @forward(%ids: tensor<?xi32>, %rows: tensor<?xi32>, %x96: tensor<?x96xf32>, %x48: tensor<?x48xf32>, %x192: tensor<?x192xf32>) -> (tensor<?x64xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x256xf32>) {
    %e = llm.weight "embed" : tensor<64x256xf32>
    %u = llm.weight "up" : tensor<512x256xf32>
    %d = llm.weight "down" : tensor<256x192xf32>
    %m = llm.weight "mid" : tensor<8x96xf32>
    %o = llm.weight "odd" : tensor<8x48xf32>
    %h = llm.weight "lm_head" : tensor<64x256xf32>
    %x = llm.embedding %ids, %e : (tensor<?xi32>, tensor<64x256xf32>) -> tensor<?x256xf32>
    %y = llm.linear %x, %u : (tensor<?x256xf32>, tensor<512x256xf32>) -> tensor<?x512xf32>
    %z = llm.linear %x96, %m : (tensor<?x96xf32>, tensor<8x96xf32>) -> tensor<?x8xf32>
    %w = llm.linear %x48, %o : (tensor<?x48xf32>, tensor<8x48xf32>) -> tensor<?x8xf32>
    %v = llm.linear %x192, %d : (tensor<?x192xf32>, tensor<256x192xf32>) -> tensor<?x256xf32>
    %l = llm.logits %x, %rows, %h : (tensor<?x256xf32>, tensor<?xi32>, tensor<64x256xf32>) -> tensor<?x64xf32>
    return %l, %z, %w, %v : tensor<?x64xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x256xf32>
  }
}
