#include "plan/QuantFormat.h"

#include "support/Error.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace llm::quant {

std::string_view schemeName(Scheme s) {
  switch (s) {
  case Scheme::Q8_0: return "q8_0";
  case Scheme::Q4_0: return "q4_0";
  case Scheme::Q4_1: return "q4_1";
  case Scheme::W8: return "w8";
  case Scheme::Q4_K: return "q4_k";
  case Scheme::Q5_K: return "q5_k";
  case Scheme::Q6_K: return "q6_k";
  case Scheme::Q5_0: return "q5_0";
  case Scheme::Q5_1: return "q5_1";
  case Scheme::W4G32: return "w4g32";
  case Scheme::W4G64: return "w4g64";
  case Scheme::W4G128: return "w4g128";
  case Scheme::W4G32A: return "w4g32a";
  case Scheme::W4G64A: return "w4g64a";
  case Scheme::W4G128A: return "w4g128a";
  case Scheme::FP8: return "fp8";
  }
  return "?";
}

std::optional<Scheme> parseScheme(std::string_view name) {
  for (Scheme s : kAllSchemes)
    if (schemeName(s) == name)
      return s;
  return std::nullopt;
}

bool hasQuantizer(Scheme s) { return blockElems(s) != kSuperBlockElems; }

int64_t w4GroupElems(Scheme s) {
  switch (s) {
  case Scheme::W4G32:
  case Scheme::W4G32A: return 32;
  case Scheme::W4G64:
  case Scheme::W4G64A: return 64;
  case Scheme::W4G128:
  case Scheme::W4G128A: return 128;
  default: return 0;
  }
}

bool w4Asymmetric(Scheme s) {
  return s == Scheme::W4G32A || s == Scheme::W4G64A || s == Scheme::W4G128A;
}

int64_t blockElems(Scheme s) {
  switch (s) {
  case Scheme::Q4_K:
  case Scheme::Q5_K:
  case Scheme::Q6_K: return kSuperBlockElems;
  default: return w4GroupElems(s) ? w4GroupElems(s) : kBlockElems;
  }
}

size_t blockBytes(Scheme s) {
  switch (s) {
  case Scheme::Q8_0: return sizeof(BlockQ8_0);
  case Scheme::Q4_0: return sizeof(BlockQ4_0);
  case Scheme::Q4_1: return sizeof(BlockQ4_1);
  case Scheme::W8: return kBlockElems;
  case Scheme::Q4_K: return sizeof(BlockQ4_K);
  case Scheme::Q5_K: return sizeof(BlockQ5_K);
  case Scheme::Q6_K: return sizeof(BlockQ6_K);
  case Scheme::Q5_0: return sizeof(BlockQ5_0);
  case Scheme::Q5_1: return sizeof(BlockQ5_1);
  case Scheme::FP8: return kBlockElems;
  default: return sizeof(W4GroupHeader) + static_cast<size_t>(w4GroupElems(s) / 2); // w4g*
  }
}

size_t rowHeaderBytes(Scheme s) {
  return s == Scheme::W8 || s == Scheme::FP8 ? sizeof(float) : 0;
}

uint64_t rowBytes(Scheme s, int64_t cols) {
  return rowHeaderBytes(s) + static_cast<uint64_t>(cols / blockElems(s)) * blockBytes(s);
}

void checkRowLength(Scheme s, int64_t cols, std::string_view what) {
  if (cols <= 0 || cols % blockElems(s) != 0)
    llm::fail("{} has rows of {} elements; {} stores rows of whole {}-element blocks", what, cols,
              schemeName(s), blockElems(s));
}

void kQuants(const BlockQ4_K &b, int j, uint8_t q[32]) {
  const uint8_t *qs = b.qs + 32 * (j / 2);
  const int shift = 4 * (j % 2);
  for (int i = 0; i < 32; ++i)
    q[i] = (qs[i] >> shift) & 0x0f;
}

void kQuants(const BlockQ5_K &b, int j, uint8_t q[32]) {
  const uint8_t *qs = b.qs + 32 * (j / 2);
  const int shift = 4 * (j % 2);
  for (int i = 0; i < 32; ++i)
    q[i] = static_cast<uint8_t>(((qs[i] >> shift) & 0x0f) | (((b.qh[i] >> j) & 1) << 4));
}

// Sub-block j = 4 * half + p: low (p < 2) or high (p >= 2) nibbles of ql[64 * half + 32 * (p % 2)
// ...], bits 2p, 2p+1 of qh[32 * half ...] on top.
void kQuants(const BlockQ6_K &b, int j, uint8_t q[32]) {
  const int half = j / 4, p = j % 4;
  const uint8_t *ql = b.ql + 64 * half + 32 * (p % 2), *qh = b.qh + 32 * half;
  const int shift = 4 * (p / 2);
  for (int i = 0; i < 32; ++i)
    q[i] = static_cast<uint8_t>(((ql[i] >> shift) & 0x0f) | (((qh[i] >> (2 * p)) & 3) << 4));
}

void q5Quants(const uint8_t qh[4], const uint8_t qs[16], uint8_t q[32]) {
  uint32_t h;
  std::memcpy(&h, qh, sizeof h);
  for (int i = 0; i < 16; ++i) {
    q[i] = static_cast<uint8_t>((qs[i] & 0x0f) | (((h >> i) & 1) << 4));
    q[16 + i] = static_cast<uint8_t>((qs[i] >> 4) | (((h >> (16 + i)) & 1) << 4));
  }
}

uint64_t tensorBytes(Scheme s, int64_t rows, int64_t cols) {
  return static_cast<uint64_t>(rows) * rowBytes(s, cols);
}

float halfToFloat(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000 | (man << 13);
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (man << 13);
  } else if (man == 0) {
    bits = sign;
  } else { // subnormal: normalize
    int e = -1;
    do {
      ++e;
      man <<= 1;
    } while ((man & 0x400) == 0);
    bits = sign | (static_cast<uint32_t>(112 - e) << 23) | ((man & 0x3ff) << 13);
  }
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

uint16_t floatToHalf(float f) {
  uint32_t x;
  std::memcpy(&x, &f, sizeof x);
  uint32_t sign = (x >> 16) & 0x8000;
  uint32_t absx = x & 0x7fffffff;
  if (absx > 0x7f800000) // NaN: quiet, keep the top mantissa bits
    return static_cast<uint16_t>(sign | 0x7e00 | ((absx >> 13) & 0x3ff));
  if (absx >= 0x477ff000) // rounds to >= 65536: infinity
    return static_cast<uint16_t>(sign | 0x7c00);
  if (absx < 0x38800000) { // below the smallest normal half: subnormal (or zero)
    if (absx < 0x33000000) // below half the smallest subnormal: zero
      return static_cast<uint16_t>(sign);
    uint32_t exp = absx >> 23, man = (absx & 0x7fffff) | 0x800000;
    uint32_t shift = 126 - exp; // 14..24: the half subnormal's ulp is 2^-24
    uint32_t q = man >> shift, rem = man & ((1u << shift) - 1), halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (q & 1)))
      ++q;
    return static_cast<uint16_t>(sign | q);
  }
  uint32_t r = absx + 0xfff + ((absx >> 13) & 1) - (112u << 23); // round to nearest even
  return static_cast<uint16_t>(sign | (r >> 13));
}

uint8_t fp8FromFloat(float f) {
  uint32_t x;
  std::memcpy(&x, &f, sizeof x);
  const uint8_t sign = static_cast<uint8_t>((x >> 24) & 0x80);
  if (std::isnan(f))
    return sign | 0x7f;
  const float a = std::min(std::fabs(f), 448.0f);
  if (a < 0.015625f) { // below 2^-6: subnormal, a multiple of 2^-9 (exact scaling, then rne)
    const float m = std::nearbyint(a * 512.0f);
    return static_cast<uint8_t>(sign | static_cast<uint8_t>(m)); // m == 8: the smallest normal
  }
  std::memcpy(&x, &a, sizeof x);
  // Keep 3 mantissa bits, rounding to nearest even, then rebias the exponent (127 -> 7).
  uint32_t r = x + 0x7ffff + ((x >> 20) & 1);
  const uint32_t exp = (r >> 23) - 120, man = (r >> 20) & 7;
  return static_cast<uint8_t>(sign | (exp << 3) | man);
}

float fp8ToFloat(uint8_t code) {
  // The magnitude bits in a float's exponent and mantissa fields, times 2^120 (127 - 7): exact
  // for normals and subnormals (exponent field 0: a float subnormal, scaled up exactly).
  const uint32_t bits = (static_cast<uint32_t>(code & 0x7f) << 20);
  float f;
  std::memcpy(&f, &bits, sizeof f);
  f *= 0x1p120f;
  return (code & 0x80) ? -f : f;
}

namespace {

float roundAway(float v) { return std::round(v); } // half away from zero, as np_roundf

void packNibbles(const uint8_t q[32], uint8_t qs[16]) {
  for (int i = 0; i < 16; ++i)
    qs[i] = static_cast<uint8_t>(q[i] | (q[16 + i] << 4));
}

void quantizeQ8_0(const float *x, BlockQ8_0 &b) {
  float amax = 0;
  for (int i = 0; i < 32; ++i)
    amax = std::max(amax, std::fabs(x[i]));
  float d = amax / 127.0f;
  float id = d == 0 ? 0.0f : 1.0f / d;
  for (int i = 0; i < 32; ++i)
    b.q[i] = static_cast<int8_t>(roundAway(x[i] * id));
  b.d = floatToHalf(d);
}

// ggml's rounding of a scaled value: trunc, to uint8, clip to [0, maxq].
uint8_t level(float v, int maxq) {
  return static_cast<uint8_t>(std::clamp(static_cast<int>(std::trunc(v)), 0, maxq));
}

// The symmetric formats (q4_0: half = 8, q5_0: half = 16): d = the block's value of largest
// magnitude (its first, as argmax) / -half, q = level(x / d + half + 0.5). Returns d.
float symmetricLevels(const float *x, int half, uint8_t q[32]) {
  float amax = 0, max = 0;
  for (int i = 0; i < 32; ++i)
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  float d = max / -static_cast<float>(half);
  float id = d == 0 ? 0.0f : 1.0f / d;
  for (int i = 0; i < 32; ++i) {
    float scaled = x[i] * id;
    q[i] = level(scaled + (static_cast<float>(half) + 0.5f), 2 * half - 1);
  }
  return d;
}

// The formats with a minimum (q4_1: maxq = 15, q5_1: maxq = 31): d = (max - min) / maxq,
// q = level((x - min) / d + 0.5). Returns d; min is the block's minimum.
float asymmetricLevels(const float *x, int maxq, uint8_t q[32], float &min) {
  float max = x[0];
  min = x[0];
  for (int i = 1; i < 32; ++i) {
    max = std::max(max, x[i]);
    min = std::min(min, x[i]);
  }
  float d = (max - min) / static_cast<float>(maxq);
  float id = d == 0 ? 0.0f : 1.0f / d;
  for (int i = 0; i < 32; ++i) {
    float scaled = (x[i] - min) * id;
    q[i] = level(scaled + 0.5f, maxq);
  }
  return d;
}

void quantizeQ4_0(const float *x, BlockQ4_0 &b) {
  uint8_t q[32];
  b.d = floatToHalf(symmetricLevels(x, 8, q));
  packNibbles(q, b.qs);
}

void quantizeQ4_1(const float *x, BlockQ4_1 &b) {
  uint8_t q[32];
  float min;
  b.d = floatToHalf(asymmetricLevels(x, 15, q, min));
  b.m = floatToHalf(min);
  packNibbles(q, b.qs);
}

// q5: the 5th bits packed little-endian into qh.
void packQ5(const uint8_t q[32], uint8_t qh[4], uint8_t qs[16]) {
  uint32_t h = 0;
  for (int i = 0; i < 32; ++i)
    h |= static_cast<uint32_t>(q[i] >> 4) << i;
  std::memcpy(qh, &h, sizeof h);
  for (int i = 0; i < 16; ++i)
    qs[i] = static_cast<uint8_t>((q[i] & 0x0f) | ((q[16 + i] & 0x0f) << 4));
}

void quantizeQ5_0(const float *x, BlockQ5_0 &b) {
  uint8_t q[32];
  b.d = floatToHalf(symmetricLevels(x, 16, q));
  packQ5(q, b.qh, b.qs);
}

void quantizeQ5_1(const float *x, BlockQ5_1 &b) {
  uint8_t q[32];
  float min;
  b.d = floatToHalf(asymmetricLevels(x, 31, q, min));
  b.m = floatToHalf(min);
  packQ5(q, b.qh, b.qs);
}

int nib(const uint8_t *qs, int i) { return i < 16 ? qs[i] & 0x0f : qs[i - 16] >> 4; }

// w8: one scale per row, as q8_0 computes a block's (d = max|x| / 127, q = round(x / d)).
void quantizeW8Row(const float *x, int64_t n, uint8_t *out) {
  float amax = 0;
  for (int64_t i = 0; i < n; ++i)
    amax = std::max(amax, std::fabs(x[i]));
  float d = amax / 127.0f;
  float id = d == 0 ? 0.0f : 1.0f / d;
  std::memcpy(out, &d, sizeof d);
  auto *q = reinterpret_cast<int8_t *>(out + sizeof d);
  for (int64_t i = 0; i < n; ++i)
    q[i] = static_cast<int8_t>(roundAway(x[i] * id));
}

void dequantizeW8Row(const uint8_t *in, int64_t n, float *out) {
  float d;
  std::memcpy(&d, in, sizeof d);
  const auto *q = reinterpret_cast<const int8_t *>(in + sizeof d);
  for (int64_t i = 0; i < n; ++i)
    out[i] = d * static_cast<float>(q[i]);
}

// fp8: one scale per row (max|x| / 448, 1 for an all-zero row), codes of x / s.
void quantizeFp8Row(const float *x, int64_t n, uint8_t *out) {
  float amax = 0;
  for (int64_t i = 0; i < n; ++i)
    amax = std::max(amax, std::fabs(x[i]));
  float s = amax / 448.0f;
  if (s == 0)
    s = 1.0f;
  std::memcpy(out, &s, sizeof s);
  for (int64_t i = 0; i < n; ++i)
    out[sizeof s + i] = fp8FromFloat(x[i] / s);
}

void dequantizeFp8Row(const uint8_t *in, int64_t n, float *out) {
  float s;
  std::memcpy(&s, in, sizeof s);
  for (int64_t i = 0; i < n; ++i)
    out[i] = s * fp8ToFloat(in[sizeof s + i]);
}

// int4 group-wise: one group of g elements into header + g / 2 nibble bytes (see the header).
void quantizeW4Group(const float *x, int64_t g, bool asym, uint8_t *out) {
  W4GroupHeader h{0, 8, 0};
  float d;
  if (asym) {
    float mx = x[0], mn = x[0];
    for (int64_t i = 1; i < g; ++i) {
      mx = std::max(mx, x[i]);
      mn = std::min(mn, x[i]);
    }
    h.d = floatToHalf(std::max(mx - mn, 1e-5f) / 15.0f);
    d = halfToFloat(h.d);
    h.zero = static_cast<uint8_t>(std::clamp(-std::nearbyint(mn / d), 0.0f, 15.0f));
  } else {
    float amax = 0;
    for (int64_t i = 0; i < g; ++i)
      amax = std::max(amax, std::fabs(x[i]));
    h.d = floatToHalf(amax / 7.0f);
    d = halfToFloat(h.d);
  }
  std::memcpy(out, &h, sizeof h);
  uint8_t *qs = out + sizeof h;
  for (int64_t r = 0; r < g / 32; ++r) {
    uint8_t q[32];
    for (int i = 0; i < 32; ++i) {
      const float v = d == 0 ? 0.0f : std::nearbyint(x[32 * r + i] / d);
      const float lo = asym ? 0.0f : -8.0f, hi = asym ? 15.0f : 7.0f;
      q[i] = static_cast<uint8_t>(std::clamp(v + (asym ? h.zero : 0.0f), lo, hi) + (asym ? 0 : 8));
    }
    packNibbles(q, qs + 16 * r);
  }
}

void dequantizeW4Group(const uint8_t *in, int64_t g, float *out) {
  W4GroupHeader h;
  std::memcpy(&h, in, sizeof h);
  const float d = halfToFloat(h.d);
  const uint8_t *qs = in + sizeof h;
  for (int64_t r = 0; r < g / 32; ++r)
    for (int i = 0; i < 32; ++i)
      out[32 * r + i] = d * static_cast<float>(nib(qs + 16 * r, i) - h.zero);
}

// The k-quants as gguf.quants computes them: the sub-block's scale (d * sc) and min (dmin * m) in
// float32 first, then x = scale * q - min (two roundings: no FMA, see the header).
template <class Block> void dequantizeQ45K(const Block &b, float *out) {
  const float d = halfToFloat(b.d), dmin = halfToFloat(b.dmin);
  for (int j = 0; j < 8; ++j, out += 32) {
    ScaleMin sm = kScaleMin(b.scales, j);
    const float scale = d * static_cast<float>(sm.scale), min = dmin * static_cast<float>(sm.min);
    uint8_t q[32];
    kQuants(b, j, q);
    for (int i = 0; i < 32; ++i)
      out[i] = scale * static_cast<float>(q[i]) - min;
  }
}

void dequantizeQ6K(const BlockQ6_K &b, float *out) {
  const float d = halfToFloat(b.d);
  for (int j = 0; j < 8; ++j, out += 32) {
    uint8_t q[32];
    kQuants(b, j, q);
    for (int i = 0; i < 32; ++i)
      out[i] = (d * static_cast<float>(b.scales[2 * j + i / 16])) * static_cast<float>(q[i] - 32);
  }
}

void dequantizeK(Scheme s, const uint8_t *in, int64_t blocks, float *out) {
  for (int64_t b = 0; b < blocks; ++b, out += kSuperBlockElems) {
    switch (s) {
    case Scheme::Q4_K: dequantizeQ45K(reinterpret_cast<const BlockQ4_K *>(in)[b], out); break;
    case Scheme::Q5_K: dequantizeQ45K(reinterpret_cast<const BlockQ5_K *>(in)[b], out); break;
    case Scheme::Q6_K: dequantizeQ6K(reinterpret_cast<const BlockQ6_K *>(in)[b], out); break;
    default: return;
    }
  }
}

} // namespace

void quantizeRows(Scheme s, const float *x, int64_t rows, int64_t cols, uint8_t *out) {
  if (!hasQuantizer(s))
    llm::fail("{} has no quantizer: its blocks can only be kept from a GGUF file (--quant keep)",
              schemeName(s));
  const uint64_t rb = rowBytes(s, cols);
  for (int64_t r = 0; r < rows; ++r) {
    if (s == Scheme::W8)
      quantizeW8Row(x + r * cols, cols, out + r * rb);
    else if (s == Scheme::FP8)
      quantizeFp8Row(x + r * cols, cols, out + r * rb);
    else
      quantize(s, x + r * cols, cols, out + r * rb);
  }
}

void dequantizeRows(Scheme s, const uint8_t *in, int64_t rows, int64_t cols, float *out) {
  const uint64_t rb = rowBytes(s, cols);
  for (int64_t r = 0; r < rows; ++r) {
    if (s == Scheme::W8)
      dequantizeW8Row(in + r * rb, cols, out + r * cols);
    else if (s == Scheme::FP8)
      dequantizeFp8Row(in + r * rb, cols, out + r * cols);
    else
      dequantize(s, in + r * rb, cols, out + r * cols);
  }
}

void quantize(Scheme s, const float *x, int64_t n, uint8_t *out) {
  if (!hasQuantizer(s))
    llm::fail("{} has no quantizer: its blocks can only be kept from a GGUF file (--quant keep)",
              schemeName(s));
  if (const int64_t g = w4GroupElems(s)) {
    for (int64_t b = 0; b < n / g; ++b)
      quantizeW4Group(x + b * g, g, w4Asymmetric(s), out + b * blockBytes(s));
    return;
  }
  for (int64_t b = 0; b < n / kBlockElems; ++b, x += kBlockElems) {
    switch (s) {
    case Scheme::Q8_0: quantizeQ8_0(x, reinterpret_cast<BlockQ8_0 *>(out)[b]); break;
    case Scheme::Q4_0: quantizeQ4_0(x, reinterpret_cast<BlockQ4_0 *>(out)[b]); break;
    case Scheme::Q4_1: quantizeQ4_1(x, reinterpret_cast<BlockQ4_1 *>(out)[b]); break;
    case Scheme::Q5_0: quantizeQ5_0(x, reinterpret_cast<BlockQ5_0 *>(out)[b]); break;
    case Scheme::Q5_1: quantizeQ5_1(x, reinterpret_cast<BlockQ5_1 *>(out)[b]); break;
    case Scheme::W8: return; // row scales: quantizeRows
    default: return;         // no quantizer: refused above
    }
  }
}

void dequantize(Scheme s, const uint8_t *in, int64_t n, float *out) {
  if (blockElems(s) == kSuperBlockElems) {
    dequantizeK(s, in, n / kSuperBlockElems, out);
    return;
  }
  if (const int64_t g = w4GroupElems(s)) {
    for (int64_t b = 0; b < n / g; ++b)
      dequantizeW4Group(in + b * blockBytes(s), g, out + b * g);
    return;
  }
  for (int64_t b = 0; b < n / kBlockElems; ++b, out += kBlockElems) {
    switch (s) {
    case Scheme::Q8_0: {
      const auto &blk = reinterpret_cast<const BlockQ8_0 *>(in)[b];
      float d = halfToFloat(blk.d);
      for (int i = 0; i < 32; ++i)
        out[i] = d * static_cast<float>(blk.q[i]);
      break;
    }
    case Scheme::Q4_0: {
      const auto &blk = reinterpret_cast<const BlockQ4_0 *>(in)[b];
      float d = halfToFloat(blk.d);
      for (int i = 0; i < 32; ++i)
        out[i] = d * static_cast<float>(nib(blk.qs, i) - 8);
      break;
    }
    case Scheme::Q4_1: {
      const auto &blk = reinterpret_cast<const BlockQ4_1 *>(in)[b];
      float d = halfToFloat(blk.d), m = halfToFloat(blk.m);
      for (int i = 0; i < 32; ++i) {
        float dq = d * static_cast<float>(nib(blk.qs, i));
        out[i] = dq + m;
      }
      break;
    }
    case Scheme::Q5_0: {
      const auto &blk = reinterpret_cast<const BlockQ5_0 *>(in)[b];
      float d = halfToFloat(blk.d);
      uint8_t q[32];
      q5Quants(blk.qh, blk.qs, q);
      for (int i = 0; i < 32; ++i)
        out[i] = d * static_cast<float>(q[i] - 16);
      break;
    }
    case Scheme::Q5_1: {
      const auto &blk = reinterpret_cast<const BlockQ5_1 *>(in)[b];
      float d = halfToFloat(blk.d), m = halfToFloat(blk.m);
      uint8_t q[32];
      q5Quants(blk.qh, blk.qs, q);
      for (int i = 0; i < 32; ++i) {
        float dq = d * static_cast<float>(q[i]);
        out[i] = dq + m;
      }
      break;
    }
    case Scheme::W8: return; // row scales: dequantizeRows
    default: return;         // k-quants: above
    }
  }
}

// ---- Tiles (rows8_blocks) ----

bool hasRows8Layout(Scheme s) {
  return s == Scheme::Q8_0 || s == Scheme::Q4_0 || s == Scheme::Q4_1 || s == Scheme::Q5_0 ||
         s == Scheme::Q5_1 || s == Scheme::Q4_K || s == Scheme::Q5_K || s == Scheme::Q6_K ||
         w4GroupElems(s) != 0;
}

std::optional<Layout> parseLayout(std::string_view name) {
  if (name == kRowBlocksLayout)
    return Layout::RowBlocks;
  if (name == kRows8Layout)
    return Layout::Rows8;
  return std::nullopt;
}

std::string_view layoutName(Layout l) {
  return l == Layout::Rows8 ? kRows8Layout : kRowBlocksLayout;
}

namespace {

// A block of a rows8_blocks scheme: `halves` f16 fields (d; q4_1, q5_1: d, m; q4_k, q5_k: d,
// dmin), then `bytes` u8 fields (w4g*: zero, pad; q4_k, q5_k: the 12 packed scale bytes), then
// `quantBytes` bytes (q5: qh then qs, 20; q5_k: qh then qs, 160); q6_k's block holds them the
// other way round (ql and qh, 192 bytes, then 16 int8 scales, then d), so `quantsFirst`. Its tile
// holds each field of the 8 rows together (16 bytes per f16 field, 8 per u8 field), then the
// quants in 4-byte chunks.
struct TileShape {
  int halves;
  int bytes;
  int quantBytes;
  bool quantsFirst = false;
  int fieldBytes() const { return 16 * halves + 8 * bytes; }
  // Offsets within the block.
  int halvesAt() const { return quantsFirst ? quantBytes + bytes : 0; }
  int bytesAt() const { return quantsFirst ? quantBytes : 2 * halves; }
  int quantsAt() const { return quantsFirst ? 0 : 2 * halves + bytes; }
};

TileShape tileShape(Scheme s) {
  if (!hasRows8Layout(s))
    llm::fail("{} has no {} layout (only {} have it)", schemeName(s), kRows8Layout,
              kRows8Schemes);
  if (int64_t g = w4GroupElems(s))
    return {1, 2, static_cast<int>(g / 2)};
  if (s == Scheme::Q4_K)
    return {2, 12, 128};
  if (s == Scheme::Q5_K)
    return {2, 12, 32 + 128};
  if (s == Scheme::Q6_K)
    return {1, 16, 128 + 64, true};
  const int halves = s == Scheme::Q4_1 || s == Scheme::Q5_1 ? 2 : 1;
  if (s == Scheme::Q5_0 || s == Scheme::Q5_1)
    return {halves, 0, 4 + 16};
  return {halves, 0, s == Scheme::Q8_0 ? 32 : 16};
}

void checkRows8(Scheme s, int64_t rows, int64_t cols) {
  checkRowLength(s, cols, "a rows8_blocks weight");
  if (rows % kTileRows != 0)
    llm::fail("a {} weight of {} rows cannot be stored {}: the row count must be a multiple of {}",
              schemeName(s), rows, kRows8Layout, kTileRows);
}

// Copies one block between its row_blocks bytes and its place (row r) in a tile, either way.
void blockToTile(TileShape t, const uint8_t *block, int r, uint8_t *tile) {
  for (int h = 0; h < t.halves; ++h)
    std::memcpy(tile + 16 * h + 2 * r, block + t.halvesAt() + 2 * h, 2);
  for (int f = 0; f < t.bytes; ++f)
    tile[16 * t.halves + 8 * f + r] = block[t.bytesAt() + f];
  const uint8_t *q = block + t.quantsAt();
  uint8_t *quants = tile + t.fieldBytes();
  for (int c = 0; c < t.quantBytes / 4; ++c)
    std::memcpy(quants + 32 * c + 4 * r, q + 4 * c, 4);
}
void blockFromTile(TileShape t, const uint8_t *tile, int r, uint8_t *block) {
  for (int h = 0; h < t.halves; ++h)
    std::memcpy(block + t.halvesAt() + 2 * h, tile + 16 * h + 2 * r, 2);
  for (int f = 0; f < t.bytes; ++f)
    block[t.bytesAt() + f] = tile[16 * t.halves + 8 * f + r];
  uint8_t *q = block + t.quantsAt();
  const uint8_t *quants = tile + t.fieldBytes();
  for (int c = 0; c < t.quantBytes / 4; ++c)
    std::memcpy(q + 4 * c, quants + 32 * c + 4 * r, 4);
}

} // namespace

void toRows8(Scheme s, const uint8_t *rowBlocks, int64_t rows, int64_t cols, uint8_t *out) {
  const TileShape t = tileShape(s);
  checkRows8(s, rows, cols);
  const int64_t blocks = cols / blockElems(s);
  const size_t bb = blockBytes(s), tb = tileBytes(s);
  for (int64_t row = 0; row < rows; ++row)
    for (int64_t b = 0; b < blocks; ++b)
      blockToTile(t, rowBlocks + (row * blocks + b) * bb, static_cast<int>(row % kTileRows),
                  out + ((row / kTileRows) * blocks + b) * tb);
}

void rowFromRows8(Scheme s, const uint8_t *rows8, int64_t cols, int64_t row, uint8_t *out) {
  const TileShape t = tileShape(s);
  checkRowLength(s, cols, "a rows8_blocks weight");
  const int64_t blocks = cols / blockElems(s);
  const size_t bb = blockBytes(s), tb = tileBytes(s);
  for (int64_t b = 0; b < blocks; ++b)
    blockFromTile(t, rows8 + ((row / kTileRows) * blocks + b) * tb,
                  static_cast<int>(row % kTileRows), out + b * bb);
}

void fromRows8(Scheme s, const uint8_t *rows8, int64_t rows, int64_t cols, uint8_t *out) {
  checkRows8(s, rows, cols);
  for (int64_t row = 0; row < rows; ++row)
    rowFromRows8(s, rows8, cols, row, out + row * rowBytes(s, cols));
}

} // namespace llm::quant
