// KV cache head rows in f32, bf16 and fp8 (e4m3fn): the head row format, the element conversions,
// and the head row encoders (KV writes) and decoders (attention reads).
//
// Head row format (one token's K or V values of one kv head of one layer: head_dim values):
//   f32:      head_dim floats
//   bf16:     head_dim uint16 (the high half of the float, rounded to nearest even)
//   fp8_e4m3: head_dim codes, padded to 4 bytes, then the head's f32 scale; element d is
//             e4m3(code) * scale
// The cache stores head rows head-major within a block (PagedKVCache), so that attention, which
// works on one kv head at a time, reads a block's rows of a head as one run of memory.
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

// --- Head row format -------------------------------------------------------------------------

// Bytes of one head row (see the format above).
int64_t headBytes(KVCacheDtype dtype, int64_t headDim);
// fp8_e4m3: where the scale sits in a head row (after the codes, padded to 4 bytes).
inline int64_t fp8ScaleOffset(int64_t headDim) { return (headDim + 3) / 4 * 4; }

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

// Encodes one head's headDim floats into the head row `out` (headBytes() bytes). fp8: the scale
// is max |x| / 448 over the values (1 when that is 0 or underflows), codes x / scale.
void encodeHead(KVCacheDtype dtype, const float *x, std::byte *out, int64_t headDim,
                Path path = Path::Simd);
// Decodes a head row into headDim floats (fp8: code value times the head's scale).
void decodeHead(KVCacheDtype dtype, const std::byte *in, int64_t headDim, float *out,
                Path path = Path::Simd);

} // namespace llmrt::kvconvert
