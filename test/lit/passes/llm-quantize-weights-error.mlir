// RUN: not llm-opt %s -llm-quantize-weights="scheme=q3_k" 2>&1 | FileCheck %s --check-prefix=SCHEME
// SCHEME: unknown quantization scheme 'q3_k' (known: none, keep, q8_0, q4_0, q4_1, q5_0, q5_1, w8, w4g32, w4g64, w4g128, w4g32a, w4g64a, w4g128a, fp8)
// RUN: not llm-opt %s -llm-quantize-weights="scheme=q8_0 exclude=lm_haed" 2>&1 | FileCheck %s --check-prefix=TYPO
// TYPO: quantization exclude pattern 'lm_haed' matches no weight
// RUN: not llm-opt %s -llm-quantize-weights="scheme=q8_0 exclude=lm_head=int3" 2>&1 | FileCheck %s --check-prefix=FORMAT
// FORMAT: quantization exclude entry 'lm_head=int3' is not 'pattern' or 'pattern=format'
func.func @f(%x: tensor<?x32xf32>) -> tensor<?x32xf32> {
  %w = llm.weight "lm_head" : tensor<32x32xf32>
  %y = llm.linear %x, %w : (tensor<?x32xf32>, tensor<32x32xf32>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}
