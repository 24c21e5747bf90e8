// RUN: llm-opt %s -split-input-file -verify-diagnostics
// The quant attributes of llm.weight and kplan.weight are checked.

func.func @partial_blocks() {
  // expected-error @+1 {{quant 'q8_0' needs a matrix whose rows are whole blocks of 32 elements}}
  %w = llm.weight "v" {quant = "q8_0"} : tensor<8x48xf32>
  return
}

// -----

func.func @unknown_format() {
  // expected-error @+1 {{unknown quant 'q3_k' (known: q8_0, q4_0, q4_1, q5_0, q5_1, w8, q4_k, q5_k, q6_k, w4g32, w4g64, w4g128, w4g32a, w4g64a, w4g128a, fp8)}}
  %w = llm.weight "v" {quant = "q3_k"} : tensor<8x32xf32>
  return
}

// -----

func.func @partial_super_blocks() {
  // expected-error @+1 {{quant 'q4_k' needs a matrix whose rows are whole blocks of 256 elements}}
  %w = llm.weight "v" {quant = "q4_k"} : tensor<8x288xf32>
  return
}

// -----

func.func @kplan_partial_super_blocks() {
  // expected-error @+1 {{quant 'q6_k' needs rows of whole blocks of 256 elements}}
  %w = kplan.weight ["v"] {layout = "row_blocks", quant = "q6_k"} : tensor<8x96xf32>
  return
}

// -----

func.func @vector() {
  // expected-error @+1 {{needs a matrix}}
  %w = llm.weight "v" {quant = "q4_0"} : tensor<64xf32>
  return
}

// -----

func.func @blocks_without_format() {
  // expected-error @+1 {{layouts row_blocks and rows8_blocks go with a quant format, and only they}}
  %w = kplan.weight ["v"] {layout = "row_blocks"} : tensor<8x32xf32>
  return
}

// -----

func.func @format_without_blocks() {
  // expected-error @+1 {{layouts row_blocks and rows8_blocks go with a quant format, and only they}}
  %w = kplan.weight ["v"] {quant = "q8_0"} : tensor<8x32xf32>
  return
}

// -----

func.func @tiles_of_a_format_without_them() {
  // expected-error @+1 {{layout rows8_blocks needs a quant that has tiles (q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k, w4g32 .. w4g128a) and a row count that is a multiple of 8, got 'w8'}}
  %w = kplan.weight ["v"] {layout = "rows8_blocks", quant = "w8"} : tensor<8x32xf32>
  return
}

// -----

func.func @tiles_of_partial_rows() {
  // expected-error @+1 {{layout rows8_blocks needs a quant that has tiles (q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k, w4g32 .. w4g128a) and a row count that is a multiple of 8, got 'q4_0' and 'tensor<12x32xf32>'}}
  %w = kplan.weight ["v"] {layout = "rows8_blocks", quant = "q4_0"} : tensor<12x32xf32>
  return
}

// -----

func.func @w4_tiles_of_partial_rows() {
  // expected-error @+1 {{layout rows8_blocks needs a quant that has tiles (q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k, w4g32 .. w4g128a) and a row count that is a multiple of 8, got 'w4g64a' and 'tensor<12x64xf32>'}}
  %w = kplan.weight ["v"] {layout = "rows8_blocks", quant = "w4g64a"} : tensor<12x64xf32>
  return
}
