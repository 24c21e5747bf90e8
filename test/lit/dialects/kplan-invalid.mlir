// RUN: llm-opt %s -split-input-file -verify-diagnostics
// Kernel calls are checked against the kernel registry, the schema the runtime checks too.

func.func @unknown_kernel(%x: tensor<?x64xf32>) {
  // expected-error @+1 {{kernel 'softmax9' is not in the kernel registry}}
  %y = kplan.call "softmax9"(%x) {params = {}} : (tensor<?x64xf32>) -> tensor<?x64xf32>
  return
}

// -----

func.func @missing_param(%x: tensor<?x64xf32>) {
  %w = kplan.weight ["g"] : tensor<64xf32>
  // expected-error @+1 {{kernel 'rms_norm' needs parameter 'eps'}}
  %y = kplan.call "rms_norm"(%x) weights(%w) {params = {hidden = 64 : i64}} : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
  return
}

// -----

func.func @wrong_kind(%x: tensor<?x64xf32>) {
  %w = kplan.weight ["g"] : tensor<64xf32>
  // expected-error @+1 {{parameter 'eps' must be of type float}}
  %y = kplan.call "rms_norm"(%x) weights(%w) {params = {hidden = 64 : i64, eps = 1 : i64}} : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
  return
}

// -----

func.func @unknown_param(%x: tensor<?x64xf32>) {
  // expected-error @+1 {{kernel 'add' has no parameter 'alpha'}}
  %y = kplan.call "add"(%x, %x) {params = {width = 64 : i64, alpha = 1.0 : f64}} : (tensor<?x64xf32>, tensor<?x64xf32>) -> tensor<?x64xf32>
  return
}

// -----

func.func @wrong_arity(%x: tensor<?x64xf32>) {
  // expected-error @+1 {{kernel 'add' takes 2 inputs, got 1}}
  %y = kplan.call "add"(%x) {params = {width = 64 : i64}} : (tensor<?x64xf32>) -> tensor<?x64xf32>
  return
}

// -----

func.func @too_many_weights(%x: tensor<?x64xf32>) {
  %w = kplan.weight ["g"] : tensor<64xf32>
  // expected-error @+1 {{kernel 'add' takes 0..0 weights, got 1}}
  %y = kplan.call "add"(%x, %x) weights(%w) {params = {width = 64 : i64}} : (tensor<?x64xf32>, tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
  return
}

// -----

func.func @bad_layout() {
  // expected-error @+1 {{unknown layout 'tiled' (known: row_major, rows8, row_blocks, rows8_blocks)}}
  %w = kplan.weight ["g"] {layout = "tiled"} : tensor<64xf32>
  return
}

// -----

func.func @float_tiles_not_whole() {
  // expected-error @+1 {{layout rows8 needs a matrix whose rows and columns are multiples of 8, got 'tensor<12x64xf32>'}}
  %w = kplan.weight ["g"] {layout = "rows8"} : tensor<12x64xf32>
  return
}

// -----

func.func @float_tiles_of_a_vector() {
  // expected-error @+1 {{layout rows8 needs a matrix whose rows and columns are multiples of 8, got 'tensor<64xf32>'}}
  %w = kplan.weight ["g"] {layout = "rows8"} : tensor<64xf32>
  return
}

// -----

func.func @float_tiles_with_a_quant() {
  // expected-error @+1 {{layouts row_blocks and rows8_blocks go with a quant format, and only they}}
  %w = kplan.weight ["g"] {layout = "rows8", quant = "q8_0"} : tensor<64x64xf32>
  return
}

// -----

func.func @wrong_outputs(%x: tensor<?x64xf32>) {
  %w = kplan.weight ["g"] : tensor<64xf32>
  // expected-error @+1 {{kernel 'add_rms_norm' has 2 outputs, got 1}}
  %y = kplan.call "add_rms_norm"(%x, %x) weights(%w) {params = {hidden = 64 : i64, eps = 1.0e-5 : f64}} : (tensor<?x64xf32>, tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
  return
}

// -----

module attributes {llm.target = "cuda-sm90"} {
  func.func @cpu_tunable_on_cuda(%x: tensor<?x64xf32>) {
    %w = kplan.weight ["w"] : tensor<64x64xf32>
    // expected-error @+1 {{kernel 'linear' has no parameter 'block_cols' for target cuda-sm90}}
    %y = kplan.call "linear"(%x) weights(%w) {params = {has_bias = 0 : i64, in_features = 64 : i64, out_features = 64 : i64, block_cols = 16 : i64}} : (tensor<?x64xf32>, tensor<64x64xf32>) -> tensor<?x64xf32>
    return
  }
}

// -----

func.func @tunable_not_a_choice(%x: tensor<?x64xf32>) {
  %w = kplan.weight ["w"] : tensor<64x64xf32>
  // expected-error @+1 {{tunable 'block_cols' must be one of its registered choices}}
  %y = kplan.call "linear"(%x) weights(%w) {params = {has_bias = 0 : i64, in_features = 64 : i64, out_features = 64 : i64, block_cols = 17 : i64}} : (tensor<?x64xf32>, tensor<64x64xf32>) -> tensor<?x64xf32>
  return
}

// -----

func.func @offsets_per_result(%x: tensor<?x64xf32>) {
  // expected-error @+1 {{needs one arena offset per result}}
  %y = kplan.call "add"(%x, %x) {arena_offsets = array<i64: 0, 64>, params = {width = 64 : i64}} : (tensor<?x64xf32>, tensor<?x64xf32>) -> tensor<?x64xf32>
  return
}
