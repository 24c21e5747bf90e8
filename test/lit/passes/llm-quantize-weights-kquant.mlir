// RUN: llm-opt %s -llm-quantize-weights="scheme=keep" | FileCheck %s --check-prefix=KEEP
// RUN: llm-opt %s -llm-quantize-weights="scheme=q8_0 exclude=down=keep,up=keep" | FileCheck %s --check-prefix=MIXED
// RUN: llm-opt %s -llm-quantize-weights="scheme=keep" -llm-select-kernels | FileCheck %s --check-prefix=KPLAN
// RUN: not llm-opt %s -llm-quantize-weights="scheme=q4_k" 2>&1 | FileCheck %s --check-prefix=SCHEME
// RUN: not llm-opt %s -llm-quantize-weights="scheme=q8_0 exclude=down=q6_k" 2>&1 | FileCheck %s --check-prefix=EXCLUDE
// The GGUF k-quants (256-element super-blocks) are kept from the checkpoint under `keep`, also
// for the logits and the embedding; matrices whose rows are not whole super-blocks, which a GGUF
// file never stores as k-quants, stay f32. llmc has no k-quant quantizer, so naming q4_k, q5_k or
// q6_k as the scheme or as an exclude format is refused. On a CPU target the k-quant matrices of
// whole tiles are stored as tiles (rows8_blocks), also the tied embedding.

// KEEP-DAG: llm.weight "embed" {quant = "q6_k", source_format = "q6_k"} : tensor<64x256xf32>
// KEEP-DAG: llm.weight "up" {quant = "q4_k", source_format = "q4_k"} : tensor<512x256xf32>
// KEEP-DAG: llm.weight "down" {quant = "q5_k", source_format = "q5_k"} : tensor<256x512xf32>
// KEEP-DAG: llm.weight "short" {source_format = "q4_k"} : tensor<8x32xf32>
// MIXED-DAG: llm.weight "embed" {quant = "q8_0", source_format = "q6_k"} : tensor<64x256xf32>
// MIXED-DAG: llm.weight "up" {quant = "q4_k", source_format = "q4_k"} : tensor<512x256xf32>
// MIXED-DAG: llm.weight "down" {quant = "q5_k", source_format = "q5_k"} : tensor<256x512xf32>
// KPLAN-DAG: %[[E:.*]] = kplan.weight ["embed"] {layout = "rows8_blocks", quant = "q6_k"} : tensor<64x256xf32>
// KPLAN-DAG: %[[U:.*]] = kplan.weight ["up"] {layout = "rows8_blocks", quant = "q4_k"} : tensor<512x256xf32>
// KPLAN-DAG: %[[D:.*]] = kplan.weight ["down"] {layout = "rows8_blocks", quant = "q5_k"} : tensor<256x512xf32>
// KPLAN: kplan.call "embedding"(%arg0) weights(%[[E]]) {params = {hidden = 256 : i64, vocab = 64 : i64, weight_format = "q6_k", weight_layout = "rows8_blocks"}}
// KPLAN: kplan.call "linear"({{.*}}) weights(%[[U]]) {params = {{{.*}}weight_format = "q4_k", weight_layout = "rows8_blocks"}}
// KPLAN: kplan.call "linear"({{.*}}) weights(%[[D]]) {params = {{{.*}}weight_format = "q5_k", weight_layout = "rows8_blocks"}}
// KPLAN: kplan.call "logits"({{.*}}) weights(%[[E]]) {params = {{{.*}}weight_format = "q6_k", weight_layout = "rows8_blocks"}}
// SCHEME: 'q4_k' has no quantizer in llmc: k-quant blocks are only kept as a GGUF file stores them (--quant keep)
// EXCLUDE: quantization exclude entry 'down=q6_k' is not 'pattern' or 'pattern=format' with format f32, keep, {{.*}}: 'q6_k' has no quantizer in llmc
module attributes {llm.target = "cpu"} {
  func.func @forward(%ids: tensor<?xi32>, %rows: tensor<?xi32>, %x32: tensor<?x32xf32>) -> (tensor<?x64xf32>, tensor<?x8xf32>) {
    %e = llm.weight "embed" {source_format = "q6_k"} : tensor<64x256xf32>
    %u = llm.weight "up" {source_format = "q4_k"} : tensor<512x256xf32>
    %d = llm.weight "down" {source_format = "q5_k"} : tensor<256x512xf32>
    %s = llm.weight "short" {source_format = "q4_k"} : tensor<8x32xf32>
    %x = llm.embedding %ids, %e : (tensor<?xi32>, tensor<64x256xf32>) -> tensor<?x256xf32>
    %h = llm.linear %x, %u : (tensor<?x256xf32>, tensor<512x256xf32>) -> tensor<?x512xf32>
    %y = llm.linear %h, %d : (tensor<?x512xf32>, tensor<256x512xf32>) -> tensor<?x256xf32>
    %l = llm.logits %y, %rows, %e : (tensor<?x256xf32>, tensor<?xi32>, tensor<64x256xf32>) -> tensor<?x64xf32>
    %z = llm.linear %x32, %s : (tensor<?x32xf32>, tensor<8x32xf32>) -> tensor<?x8xf32>
    return %l, %z : tensor<?x64xf32>, tensor<?x8xf32>
  }
}
