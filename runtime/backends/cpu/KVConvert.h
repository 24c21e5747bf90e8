// KV cache rows in bf16 and fp8 (e4m3fn): the row format, the element conversions, and the row
// encoders (KV writes) and decoders (attention reads).
//
// Row format (one token's K or V row of one layer: num_kv_heads x head_dim values):
//   f32:      num_kv_heads * head_dim floats
//   bf16:     num_kv_heads * head_dim uint16 (the high half of the float, rounded to nearest even)
//   fp8_e4m3: num_kv_heads * head_dim codes, padded to 4 bytes, then num_kv_heads f32 scales;
//             element d of head h is e4m3(code) * scale[h]
//
// NOTE: why one scale per (token, kv head), not vLLM's per-tensor k_scale / v_scale (1.0 unless
// calibrated): e4m3 has 3 mantissa bits and a range of 2^-9 .. 448. A fixed scale of 1.0 clips
// keys above 448 (outlier channels of real models reach hundreds to thousands) and flushes values
// below 2^-10 to zero, while a calibrated per-tensor scale needs a calibration pass the runtime
// cannot do at start-up. Scaling each head's row by its own max |x| / 448 uses the whole e4m3
// range for every row, whatever its magnitude: an element of at least 2^-6 of the scale (1/28672
// of the head's max) keeps a relative error of at most 2^-4 (half a unit in the last place), a
// smaller one an absolute error of at most 2^-10 of the scale. On the CPU it costs 4 bytes per
// 64-value head (6%) and one multiply per element while decoding (folded into the F16C
// conversion), which does not show next to the rest of a step (README "KV cache dtype").
//
// NOTE: the decoders give the same bits on every path (scalar reference and AVX2; tested), and
// the attention kernels decode a row into floats before using it with the float32 kernel's own
// order of operations, so attention over a bf16/fp8 cache equals attention over a float32 cache
// holding the decoded values, bit for bit, and stays batch invariant.
#pragma once

#include <cstddef>
#include <cstdint>

#include "plan/KVCacheDtype.h"

namespace llmrt::kvconvert {

// Largest finite e4m3fn magnitude: codes 0x7E / 0xFE. 0x7F / 0xFF are NaN; there is no infinity.
inline constexpr float kFp8Max = 448.0f;

// --- Row format ------------------------------------------------------------------------------

// Bytes of one row (see the format above).
int64_t rowBytes(KVCacheDtype dtype, int64_t numKvHeads, int64_t headDim);
// fp8_e4m3: where the scales start in a row (the codes, padded to 4 bytes).
inline int64_t fp8ScaleOffset(int64_t numKvHeads, int64_t headDim) {
  return (numKvHeads * headDim + 3) / 4 * 4;
}

// --- Elements (the scalar reference) ---------------------------------------------------------

// float -> bfloat16, round to nearest even (torch's rounding); NaN -> 0x7FC0; overflow -> inf.
uint16_t bf16FromFloat(float x);
inline float floatFromBf16(uint16_t b) {
  uint32_t bits = uint32_t(b) << 16;
  float f;
  __builtin_memcpy(&f, &bits, 4);
  return f;
}
// float -> e4m3fn, round to nearest even, saturating: |x| > 448 gives +-448 (vLLM's fp8 quant
// clamps too; torch's cast would give NaN above 464); NaN -> 0x7F (sign kept).
uint8_t fp8FromFloat(float x);
// e4m3fn -> float (exact; 0x7F / 0xFF are NaN, 0x7FC00000 with the code's sign).
float floatFromFp8(uint8_t code);

// --- Rows ------------------------------------------------------------------------------------

// Which implementation: the scalar reference or the vectorized one (AVX2 + F16C, the CPU
// backend's baseline). Both give the same bits; tests compare them.
enum class Path : uint8_t { Reference, Simd };

// Encodes one row of numKvHeads x headDim floats into `row` (rowBytes() bytes). fp8: each head's
// scale is max |x| / 448 over its values (1 when that is 0 or underflows), codes x / scale.
void encodeRow(KVCacheDtype dtype, const float *x, std::byte *row, int64_t numKvHeads,
               int64_t headDim, Path path = Path::Simd);

// Decodes head `head` of a row into headDim floats (fp8: code value times the head's scale).
void decodeHead(KVCacheDtype dtype, const std::byte *row, int64_t head, int64_t numKvHeads,
                int64_t headDim, float *out, Path path = Path::Simd);

} // namespace llmrt::kvconvert
