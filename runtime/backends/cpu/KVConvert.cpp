#include "backends/cpu/KVConvert.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace llmrt::kvconvert {

namespace {

uint32_t bitsOf(float x) {
  uint32_t b;
  std::memcpy(&b, &x, 4);
  return b;
}
float floatOfBits(uint32_t b) {
  float x;
  std::memcpy(&x, &b, 4);
  return x;
}

// The head's scale: max |x| / 448, NaNs ignored; 1 when that is not a positive number (an all-zero
// head, or one whose max underflows), so that encoding divides by a positive scale.
float scaleFromMax(float amax) {
  float s = amax / kFp8Max;
  return s > 0 ? s : 1.0f;
}

float headMaxRef(const float *x, int64_t n) {
  float m = 0;
  for (int64_t i = 0; i < n; ++i) {
    float a = std::fabs(x[i]);
    m = a > m ? a : m; // NaN never wins
  }
  return m;
}

uint8_t fp8OfScaled(float y) {
  if (std::isnan(y))
    return uint8_t(0x7F | (bitsOf(y) >> 24 & 0x80));
  return fp8FromFloat(std::clamp(y, -kFp8Max, kFp8Max));
}

// --- AVX2 + F16C ---

__m256i bf16Bits(__m256 x) {
  const __m256i b = _mm256_castps_si256(x);
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(b, 16), _mm256_set1_epi32(1));
  __m256i r = _mm256_srli_epi32(
      _mm256_add_epi32(_mm256_add_epi32(b, _mm256_set1_epi32(0x7FFF)), lsb), 16);
  const __m256 nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
  return _mm256_blendv_epi8(r, _mm256_set1_epi32(0x7FC0), _mm256_castps_si256(nan));
}

// y: finite values in [-448, 448] or NaN -> 8 e4m3 codes in the low byte of each lane.
__m256i fp8Codes(__m256 y) {
  const __m256i b = _mm256_castps_si256(y);
  const __m256i sign = _mm256_and_si256(b, _mm256_set1_epi32(int32_t(0x80000000u)));
  const __m256i a = _mm256_xor_si256(b, sign);
  // |y| < 2^-6 (subnormal in e4m3): adding 2^14 rounds |y| to a multiple of 2^-9 (nearest even),
  // whose count of 2^-9 is the code.
  const __m256i magic = _mm256_set1_epi32(141 << 23);
  const __m256i sub = _mm256_sub_epi32(
      _mm256_castps_si256(_mm256_add_ps(_mm256_castsi256_ps(a), _mm256_castsi256_ps(magic))),
      magic);
  // Normal: rebias the exponent (127 -> 7) and round the mantissa to 3 bits, nearest even.
  const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(a, 20), _mm256_set1_epi32(1));
  __m256i nrm = _mm256_add_epi32(a, _mm256_set1_epi32(int32_t(uint32_t(7 - 127) << 23) + 0x7FFFF));
  nrm = _mm256_srli_epi32(_mm256_add_epi32(nrm, odd), 20);
  const __m256i isSub = _mm256_cmpgt_epi32(_mm256_set1_epi32(121 << 23), a);
  __m256i code = _mm256_blendv_epi8(nrm, sub, isSub);
  const __m256 nan = _mm256_cmp_ps(y, y, _CMP_UNORD_Q);
  code = _mm256_blendv_epi8(code, _mm256_set1_epi32(0x7F), _mm256_castps_si256(nan));
  return _mm256_or_si256(code, _mm256_srli_epi32(sign, 24));
}

void storeCodes(__m256i codes, uint8_t *out) {
  __m256i p = _mm256_packus_epi32(codes, codes); // 16-bit: [0-3 0-3 | 4-7 4-7]
  p = _mm256_packus_epi16(p, p);                 // 8-bit: lane 0 starts 0-3, lane 1 4-7
  p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 0, 0, 0, 0, 0, 0));
  _mm_storel_epi64(reinterpret_cast<__m128i *>(out), _mm256_castsi256_si128(p));
}

void encodeBf16Simd(const float *x, uint16_t *out, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256i r = bf16Bits(_mm256_loadu_ps(x + i));
    __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi32(r, r), 0x08);
    _mm_storeu_si128(reinterpret_cast<__m128i *>(out + i), _mm256_castsi256_si128(p));
  }
  for (; i < n; ++i)
    out[i] = bf16FromFloat(x[i]);
}

void decodeBf16Simd(const uint16_t *in, float *out, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i *>(in + i)));
    _mm256_storeu_ps(out + i, _mm256_castsi256_ps(_mm256_slli_epi32(w, 16)));
  }
  for (; i < n; ++i)
    out[i] = floatFromBf16(in[i]);
}

float headMaxSimd(const float *x, int64_t n) {
  const __m256 absMask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
  __m256 m = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) // max(a, m) gives m when a is NaN
    m = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x + i), absMask), m);
  float lanes[8];
  _mm256_storeu_ps(lanes, m);
  float r = 0;
  for (float v : lanes)
    r = v > r ? v : r;
  for (; i < n; ++i) {
    float a = std::fabs(x[i]);
    r = a > r ? a : r;
  }
  return r;
}

void encodeFp8Simd(const float *x, uint8_t *out, int64_t n, float scale) {
  const __m256 s = _mm256_set1_ps(scale), hi = _mm256_set1_ps(kFp8Max), lo = _mm256_set1_ps(-kFp8Max);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 y = _mm256_div_ps(_mm256_loadu_ps(x + i), s);
    // max/min return their second operand when one is NaN: a NaN y survives the clamp.
    y = _mm256_min_ps(hi, _mm256_max_ps(lo, y));
    storeCodes(fp8Codes(y), out + i);
  }
  for (; i < n; ++i)
    out[i] = fp8OfScaled(x[i] / scale);
}

void decodeFp8Simd(const uint8_t *in, float scale, float *out, int64_t n) {
  // The code's bits placed in a half (exponent bias 15, not 7) are its value times 2^-8, exactly
  // (subnormals included); times scale * 2^8 (exact) it is code value * scale, rounded once.
  const __m256 s = _mm256_set1_ps(scale * 256.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m128i w = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i *>(in + i)));
    __m128i mag = _mm_and_si128(w, _mm_set1_epi16(0x7F));
    __m128i signBit = _mm_and_si128(w, _mm_set1_epi16(0x80));
    __m128i h = _mm_or_si128(_mm_slli_epi16(mag, 7), _mm_slli_epi16(signBit, 8));
    __m256 f = _mm256_mul_ps(_mm256_cvtph_ps(h), s);
    __m256i nan = _mm256_cvtepi16_epi32(_mm_cmpeq_epi16(mag, _mm_set1_epi16(0x7F)));
    __m256i nanBits = _mm256_or_si256(_mm256_set1_epi32(0x7FC00000),
                                      _mm256_slli_epi32(_mm256_cvtepu16_epi32(signBit), 24));
    f = _mm256_blendv_ps(f, _mm256_castsi256_ps(nanBits), _mm256_castsi256_ps(nan));
    _mm256_storeu_ps(out + i, f);
  }
  for (; i < n; ++i)
    out[i] = floatFromFp8(in[i]) * scale;
}

} // namespace

int64_t headBytes(KVCacheDtype dtype, int64_t headDim) {
  switch (dtype) {
  case KVCacheDtype::F32:
    return headDim * 4;
  case KVCacheDtype::BF16:
    return headDim * 2;
  case KVCacheDtype::Fp8E4M3:
    return fp8ScaleOffset(headDim) + 4;
  }
  return 0;
}

uint16_t bf16FromFloat(float x) {
  if (std::isnan(x))
    return 0x7FC0;
  uint32_t b = bitsOf(x);
  return uint16_t((b + 0x7FFF + ((b >> 16) & 1)) >> 16);
}

uint8_t fp8FromFloat(float x) {
  const uint32_t b = bitsOf(x);
  const uint8_t sign = uint8_t(b >> 24 & 0x80);
  if (std::isnan(x))
    return uint8_t(0x7F | sign);
  float a = std::min(std::fabs(x), kFp8Max);
  if (a < 0.015625f) // 2^-6, the smallest normal: a multiple of 2^-9, rounded to nearest even
    return uint8_t(sign | uint8_t(std::nearbyint(a * 512.0f)));
  // Normal: 3 mantissa bits out of 23, nearest even; a carry moves into the exponent.
  const uint32_t ab = bitsOf(a);
  const uint32_t exponent = (ab >> 23) - 127 + 7, mantissa = ab & 0x7FFFFF;
  uint32_t code = exponent << 3 | mantissa >> 20;
  const uint32_t rest = mantissa & 0xFFFFF;
  if (rest > 0x80000 || (rest == 0x80000 && (code & 1)))
    ++code;
  return uint8_t(sign | code);
}

float floatFromFp8(uint8_t code) {
  const float sign = code & 0x80 ? -1.0f : 1.0f;
  const int exponent = code >> 3 & 0xF, mantissa = code & 7;
  if (exponent == 15 && mantissa == 7)
    return floatOfBits(0x7FC00000u | uint32_t(code & 0x80) << 24);
  if (exponent == 0)
    return sign * std::ldexp(float(mantissa), -9);
  return sign * std::ldexp(1.0f + float(mantissa) / 8.0f, exponent - 7);
}

void encodeHead(KVCacheDtype dtype, const float *x, std::byte *out, int64_t headDim, Path path) {
  const bool simd = path == Path::Simd;
  switch (dtype) {
  case KVCacheDtype::F32:
    std::memcpy(out, x, headDim * sizeof(float));
    return;
  case KVCacheDtype::BF16: {
    auto *bf = reinterpret_cast<uint16_t *>(out);
    if (simd)
      return encodeBf16Simd(x, bf, headDim);
    for (int64_t d = 0; d < headDim; ++d)
      bf[d] = bf16FromFloat(x[d]);
    return;
  }
  case KVCacheDtype::Fp8E4M3: {
    auto *codes = reinterpret_cast<uint8_t *>(out);
    std::memset(codes + headDim, 0, fp8ScaleOffset(headDim) - headDim); // the padding
    const float scale = scaleFromMax(simd ? headMaxSimd(x, headDim) : headMaxRef(x, headDim));
    std::memcpy(out + fp8ScaleOffset(headDim), &scale, 4);
    if (simd) {
      encodeFp8Simd(x, codes, headDim, scale);
    } else {
      for (int64_t d = 0; d < headDim; ++d)
        codes[d] = fp8OfScaled(x[d] / scale);
    }
    return;
  }
  }
}

void decodeHead(KVCacheDtype dtype, const std::byte *in, int64_t headDim, float *out, Path path) {
  const bool simd = path == Path::Simd;
  switch (dtype) {
  case KVCacheDtype::F32:
    std::memcpy(out, in, headDim * sizeof(float));
    return;
  case KVCacheDtype::BF16: {
    const auto *bf = reinterpret_cast<const uint16_t *>(in);
    if (simd)
      return decodeBf16Simd(bf, out, headDim);
    for (int64_t d = 0; d < headDim; ++d)
      out[d] = floatFromBf16(bf[d]);
    return;
  }
  case KVCacheDtype::Fp8E4M3: {
    const auto *codes = reinterpret_cast<const uint8_t *>(in);
    float scale;
    std::memcpy(&scale, in + fp8ScaleOffset(headDim), 4);
    if (simd)
      return decodeFp8Simd(codes, scale, out, headDim);
    for (int64_t d = 0; d < headDim; ++d)
      out[d] = floatFromFp8(codes[d]) * scale;
    return;
  }
  }
}

} // namespace llmrt::kvconvert
