// The float32 dot schedule of the CPU backend (CpuKernels.cpp, dotTile) on AVX-512 registers.
//
// The schedule: each dot of an x row with a weight row is one 8-lane FMA accumulator run over k in
// chunks of 8 columns (the last chunk through a masked load, zeros past k), then summed across its
// lanes as ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)). Here a 16-lane register holds the
// accumulators of two weight rows side by side (x's chunk broadcast to both halves), and each half
// goes through exactly the AVX2 path's operations on its lanes, so every dot has the AVX2 path's
// bits: a plan's logits do not depend on which path ran. What AVX-512 adds is width and registers:
// twice the FMAs per instruction and 32 registers, for tiles of up to 6 x rows x 16 weight rows.
//
// Only the translation unit of this header's functions is compiled for AVX-512; callers check
// floatIsaSupported(FloatIsa::Avx512) (Isa.h) first.
#pragma once

#include <cstdint>

namespace llmrt::cpu::avx512 {

// The largest tile: x rows, and weight rows.
inline constexpr int64_t kMaxTileRows = 6;
inline constexpr int64_t kMaxTileCols = 16;

// out[i * ldo + j] = dot(x[i][0, k), weight row j) for i < tr <= kMaxTileRows and j < tn, where
// tn <= kMaxTileCols for one x row and tn <= 8 for more; weight row j's chunk c (its columns
// [8c, 8c + 8)) starts at w[j] + c * wStep. x and w hold kMaxTileRows and kMaxTileCols pointers:
// the tile picked for tr x tn may compute more rows than asked (pointers may repeat), and out
// must have room for them: kMaxTileRows rows of ldo >= kMaxTileCols floats.
void dotTile(const float *const x[kMaxTileRows], int64_t tr, const float *const w[kMaxTileCols],
             int64_t tn, int64_t k, int64_t wStep, float *out, int64_t ldo);

} // namespace llmrt::cpu::avx512
