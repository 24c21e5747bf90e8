// RUN: llm-opt %s -split-input-file -llm-select-kernels -verify-diagnostics
// Kernel selection needs a target it knows.

// expected-error @+1 {{select-kernels needs a known 'llm.target' (known: cpu, cpu-avx2, cpu-avx512, cuda-sm80, cuda-sm90)}}
module attributes {llm.target = "fpga"} {
}

// -----

// A tuning database with a value outside the registered choices is refused, naming the entry.
// RUN: not llm-opt %s -split-input-file -llm-select-kernels="tuning-db=%S/Inputs/bad-tuning.json" 2>&1 | FileCheck %s --check-prefix=BADDB
// BADDB: bad-tuning.json: entry 0: 'block_cols' = 17 is not one of its registered choices
// RUN: not llm-opt %s -split-input-file -llm-select-kernels="tuning-db=%S/Inputs/missing.json" 2>&1 | FileCheck %s --check-prefix=NODB
// NODB: cannot read the tuning database '{{.*}}missing.json'
module attributes {llm.target = "cpu"} {
}
