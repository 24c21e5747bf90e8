// The instruction sets the CPU kernels are compiled for, which of them this CPU has, and which one
// each family of kernels runs: the best the CPU has, at most the cap LLMRT_CPU_ISA names.
//
// Two families choose apart, because they need different extensions:
// - Isa: the quantized dot products (QuantDot.h), integer arithmetic. Scalar is the reference;
//   Avx2 needs AVX2 + FMA + F16C; Avx512Vnni adds AVX-512 F/VL/BW + VNNI (vpdpbusd on 256-bit
//   registers); AvxVnni is the VEX form of the same instruction (Alder Lake and later); AmxInt8
//   is Avx512Vnni plus the AMX tile unit for the tiles of q8_0 and q4_0 with 16 or more
//   activation rows (QuantDotAmx.h), and needs the OS to grant the process the tile data.
// - FloatIsa: the float32 GEMV/GEMM (CpuKernels.cpp). Avx2 is the baseline of the whole backend;
//   Avx512 needs AVX-512 F/VL/DQ and holds two dots in one 16-lane register (FloatDotAvx512.h).
// Every path of a family gives the same bits (each family's header says why), so the choice changes
// speed only.
//
// LLMRT_CPU_ISA caps the choice, as oneDNN's ONEDNN_MAX_CPU_ISA does: `avx2` (no VNNI, no
// AVX-512), `avx-vnni` (AVX-VNNI where the CPU has it, no AVX-512), `avx512` (no AMX), `amx`
// (everything; the default). Any other value is an error (checkIsaSetting), not a silent fallback.
#pragma once

#include <string>
#include <string_view>

namespace llmrt::cpu {

enum class Isa { Scalar, Avx2, Avx512Vnni, AvxVnni, AmxInt8 };
std::string_view isaName(Isa isa);
// Whether this CPU can run the path.
bool isaSupported(Isa isa);
// The fastest supported path under the cap: chosen once per process.
Isa bestIsa();

enum class FloatIsa { Avx2, Avx512 };
std::string_view floatIsaName(FloatIsa isa);
bool floatIsaSupported(FloatIsa isa);
FloatIsa bestFloatIsa();

// The most the kernels may use: LLMRT_CPU_ISA's values.
enum class IsaCap { Avx2, AvxVnni, Avx512, Amx };
// "" (unset) is Amx; a value not listed above throws llm::Error naming the accepted ones.
IsaCap parseIsaCap(std::string_view value);
// The fastest supported path under `cap`; bestIsa() and bestFloatIsa() are these under
// LLMRT_CPU_ISA's cap, fixed once per process.
Isa bestIsaUnder(IsaCap cap);
FloatIsa bestFloatIsaUnder(IsaCap cap);

// Reads LLMRT_CPU_ISA and fixes both choices; throws llm::Error naming the accepted values if the
// variable holds another. Executors call it when they are built, so a bad value fails at startup.
void checkIsaSetting();
// "float avx512, quantized avx512-vnni": the paths this process runs, for startup logs.
std::string describeIsas();

} // namespace llmrt::cpu
