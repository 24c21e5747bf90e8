// AMX-INT8 products for the tiles (rows8_blocks) of q8_0 and q4_0: the tile matrix unit computes
// each 32-element block's integer sums, 16 activation rows by the tile's 8 weight rows at once,
// and the float operations per block are QuantDot.h's, in its order, so the bits are every other
// path's.
//
// A block's quants in a tile are already the layout the unit multiplies by: chunk c holds bytes
// 4c .. 4c + 3 of each of the 8 rows, which is row c of a B tile (K = 32, N = 8). q8_0's quants are
// loaded as they are (tdpbssd, int8 x int8); q4_0's nibbles are widened to bytes first, once per
// call for all its rows (tdpbsud, int8 activations x uint8 quants). The activation rows' blocks
// are the A tile: 16 rows of 32 int8, ActBlock-strided. Each block's 16 x 8 int32 sums are stored
// and go through the float epilogue while the unit multiplies the next block (two sets of tiles).
//
// Only the translation unit of these functions is compiled for AMX; callers check usable().
#pragma once

#include "backends/cpu/QuantDot.h"

#include <cstdint>

namespace llmrt::cpu::amx {

// Whether this CPU has AMX-TILE and AMX-INT8 and the OS lets this process use the tile data
// (asked for once, with arch_prctl(ARCH_REQ_XCOMP_PERM)).
bool usable();

// The activation rows a call takes at once.
inline constexpr int64_t kRows = 16;

// dotTiles (QuantDot.h) for activation rows [0, rows - rows % kRows) when scheme is q8_0 or q4_0;
// returns how many rows it computed (0 for other schemes or fewer than kRows rows).
int64_t dotTiles(llm::quant::Scheme scheme, const uint8_t *tiles, const ActBlock *act,
                 int64_t rows, int64_t blocks, float *out, int64_t ldo);

} // namespace llmrt::cpu::amx
