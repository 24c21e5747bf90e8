// Integer dot products of quantized weight rows with int8-quantized activations, per ISA.
//
// A linear over a quantized weight first quantizes each activation row to blocks of 32 int8
// values with one float scale (ActBlock, as llama.cpp's q8_0/q8_1 activations), then computes each
// output as a sum over blocks of scale * (integer dot of the block). Per block b of a row:
//   q8_0: acc = fma(dw * da, float(sum_i w_i a_i), acc)
//   q4_0: acc = fma(dw * da, float(sum_i q_i a_i - 8 * sum_i a_i), acc)
//   q4_1: acc = fma(dw * da, float(sum_i q_i a_i), acc); acc = fma(mw * da, float(sum_i a_i), acc)
//   q5_0: acc = fma(dw * da, float(sum_i q_i a_i - 16 * sum_i a_i), acc)        (q in 0..31)
//   q5_1: acc = fma(dw * da, float(sum_i q_i a_i), acc); acc = fma(mw * da, float(sum_i a_i), acc)
//   w8:   acc = fma(da, float(sum_i w_i a_i), acc), and the result is acc * d_row
//   w4g*: acc = fma(dw * da, float(sum_i q_i a_i - zero * sum_i a_i), acc)
//         (dw, zero: the scale and zero point of the group that holds block b; symmetric groups
//         store zero = 8, so this is q4_0's operation with one scale per G / 32 blocks)
// and per 32-element sub-block j of each 256-element k-quant super-block (activation block b =
// 8 * superblock + j; d, dmin the super-block's f16 scales; sc_j, m_j its 6-bit scale and min;
// q6_k: sc_lo, sc_hi the int8 scales of the sub-block's two 16-element halves):
//   q4_k, q5_k: acc = fma(d * da, float(sc_j * sum_i q_i a_i), acc);
//               acc = fma(-(dmin * da), float(m_j * sum_i a_i), acc)
//   q6_k:       acc = fma(d * da, float(sc_lo * sum_{i<16} (q_i - 32) a_i
//                                       + sc_hi * sum_{i>=16} (q_i - 32) a_i), acc)
// starting from acc = 0, blocks in order. (ggml multiplies k-quants with 256-element q8_K
// activations and one float per super-block; we keep the 32-element activation blocks of every
// other format, so the activation scale enters per sub-block.)
// NOTE: every ISA path computes the integer sums exactly and then performs exactly these float
// operations in this order (SIMD paths put four weight rows in four lanes), so all paths give the
// same bits as the scalar reference, and a row's result never depends on the batch (batch
// invariance). The integer sums are exact for weights in [-127, 127] (q8_0; ggml's quantizers never
// write -128) and activations in [-127, 127]; the k-quant ones stay below 2^24 in magnitude
// (63 * 31 * 127 * 32; q6_k: 128 * 32 * 127 * 32), so their float conversions are exact too.
//
// fp8 (e4m3fn weights, one f32 scale s per row) is not run against int8 activations: e4m3 has a
// wider range than int8 and only 3 mantissa bits, so the activations stay float32 and the dot
// product is float FMA. NOTE: its order, on every path: each code decodes exactly to the float
// h_i = w_i * 2^-8 (fp8ToFloat(code) * 2^-8; the AVX2 path gets it from the code's bits as an f16,
// converted by F16C, which saves a multiply per element), lane l = i % 8 accumulates
// lane_l = fma(h_i, x_i, lane_l) over i in increasing order from 0, then t_l = lane_l + lane_{l+4}
// (l < 4), result = ((t_0 + t_2) + (t_1 + t_3)) * (s * 2^8). (The AVX2 path holds the eight lanes
// in one register per weight row; k is a multiple of 32.)
#pragma once

#include "backends/cpu/Isa.h"
#include "plan/QuantFormat.h"

#include <cstdint>
#include <span>
#include <string_view>

namespace llmrt::cpu {

// One quantized activation block: x_i ~ d * q_i; sum = sum_i q_i.
struct ActBlock {
  float d;
  int32_t sum;
  int8_t q[32];
};
static_assert(sizeof(ActBlock) == 40);

// Quantizes k floats (k a multiple of 32): d = max|x| / 127, q = round(x / d) half away from zero
// (computed as x * (1 / d), as ggml does), sum = sum of the q. The AVX2 path (every ISA but
// Scalar) gives the scalar bytes: max is exact, the product is the same float multiply, and
// rounding is trunc plus a step of +-1 where |x * (1 / d) - trunc| >= 0.5, which is round() exactly.
void quantizeActivations(const float *x, int64_t k, ActBlock *out, Isa isa = bestIsa());

// out[j] = dot(weight row rows[j], act) for j < 4; each row holds `blocks` 32-element blocks
// worth of `scheme` (after its header: w8's scale); for the k-quants, blocks / 8 super-blocks.
// Rows may repeat (tails pass the last row again).
using DotRows4Fn = void (*)(llm::quant::Scheme scheme, const uint8_t *const rows[4],
                            const ActBlock *act, int64_t blocks, float out[4]);
DotRows4Fn dotRows4For(Isa isa);

// The same against two activation rows: out0 as dotRows4 with act0 gives, out1 with act1.
using DotRows4x2Fn = void (*)(llm::quant::Scheme scheme, const uint8_t *const rows[4],
                              const ActBlock *act0, const ActBlock *act1, int64_t blocks,
                              float out0[4], float out1[4]);
DotRows4x2Fn dotRows4x2For(Isa isa);

// Tiles (the rows8_blocks layout of llm::quant::kRows8Schemes; QuantFormat.h; the k-quants: a
// tile per super-block):
// `tiles` is a group of 8 weight rows (blocks tiles; w4g*: blocks / (G / 32) tiles, one per
// group), and activation row t < rows is act[t * blocks ...]; out[t * ldo + j] = dot(row j of the
// group, activation row t) for j < 8, with the bits of dotRows4 on the same row in row_blocks.
// NOTE: the SIMD paths keep row j in lane j of a register, so a block costs no horizontal sum and
// no scale gather; q4's and w4g*'s integer sums of a 32-element block are gathered in int16 lanes
// (16 products of at most 15 * 127 each: |sum| <= 30480) and widened once per block (w4g*: then
// zero * sum_i a_i is subtracted per lane, the 8 zeros widened once per group). q5's quants reach
// 31, so its int16 lanes take 8 products (|sum| <= 31 * 127 * 8 = 31496) and are widened twice
// per block (the VNNI paths sum in int32 throughout). A call walks its rows four at a time against
// each unpacked tile.
using DotTilesFn = void (*)(llm::quant::Scheme scheme, const uint8_t *tiles, const ActBlock *act,
                            int64_t rows, int64_t blocks, float *out, int64_t ldo);
DotTilesFn dotTilesFor(Isa isa);

// fp8: out0[j] = dot(row j, x0) for j < 4 over k floats (k a multiple of 16; rows {f32 s; u8
// code[k]}), and out1[j] = dot(row j, x1) unless x1 is null. Rows may repeat.
using DotFp8Rows4Fn = void (*)(const uint8_t *const rows[4], const float *x0, const float *x1,
                               int64_t k, float out0[4], float out1[4]);
DotFp8Rows4Fn dotFp8Rows4For(Isa isa);

} // namespace llmrt::cpu
