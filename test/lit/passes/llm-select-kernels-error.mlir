// RUN: llm-opt %s -split-input-file -llm-select-kernels -verify-diagnostics
// Kernel selection needs a target it knows.

// expected-error @+1 {{select-kernels needs a known 'llm.target' (known: cpu)}}
module attributes {llm.target = "fpga"} {
}
