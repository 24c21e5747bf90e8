#include "backends/cpu/QuantDot.h"

#include "backends/cpu/QuantDotAmx.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace llmrt::cpu {
namespace {

using llm::quant::Scheme;

// ---- scalar reference: the operations of QuantDot.h, one row at a time ----

int32_t dotQ8(const int8_t *w, const int8_t *a) {
  int32_t s = 0;
  for (int i = 0; i < 32; ++i)
    s += int32_t{w[i]} * a[i];
  return s;
}

int32_t dotQ4(const uint8_t *qs, const int8_t *a) {
  int32_t s = 0;
  for (int i = 0; i < 16; ++i)
    s += int32_t{qs[i] & 0x0f} * a[i] + int32_t{qs[i] >> 4} * a[16 + i];
  return s;
}

// q5_0 / q5_1: sum_i q_i a_i with q in 0..31.
int32_t dotQ5(const uint8_t qh[4], const uint8_t qs[16], const int8_t *a) {
  uint8_t q[32];
  llm::quant::q5Quants(qh, qs, q);
  int32_t s = 0;
  for (int i = 0; i < 32; ++i)
    s += int32_t{q[i]} * a[i];
  return s;
}

// q4_k / q5_k: sub-block j of super-block s against act[8 s + j].
template <class Block> float dotRowQ45K(const uint8_t *row, const ActBlock *act, int64_t blocks) {
  using namespace llm::quant;
  float acc = 0;
  for (int64_t s = 0; s < blocks / 8; ++s) {
    const auto &w = reinterpret_cast<const Block *>(row)[s];
    const float d = halfToFloat(w.d), dmin = halfToFloat(w.dmin);
    for (int j = 0; j < 8; ++j) {
      const ActBlock &a = act[8 * s + j];
      uint8_t q[32];
      kQuants(w, j, q);
      int32_t dot = 0;
      for (int i = 0; i < 32; ++i)
        dot += int32_t{q[i]} * a.q[i];
      ScaleMin sm = kScaleMin(w.scales, j);
      acc = std::fma(d * a.d, static_cast<float>(sm.scale * dot), acc);
      acc = std::fma(-(dmin * a.d), static_cast<float>(sm.min * a.sum), acc);
    }
  }
  return acc;
}

float dotRowQ6K(const uint8_t *row, const ActBlock *act, int64_t blocks) {
  using namespace llm::quant;
  float acc = 0;
  for (int64_t s = 0; s < blocks / 8; ++s) {
    const auto &w = reinterpret_cast<const BlockQ6_K *>(row)[s];
    const float d = halfToFloat(w.d);
    for (int j = 0; j < 8; ++j) {
      const ActBlock &a = act[8 * s + j];
      uint8_t q[32];
      kQuants(w, j, q);
      int32_t lo = 0, hi = 0;
      for (int i = 0; i < 16; ++i) {
        lo += (int32_t{q[i]} - 32) * a.q[i];
        hi += (int32_t{q[16 + i]} - 32) * a.q[16 + i];
      }
      int32_t dot = w.scales[2 * j] * lo + w.scales[2 * j + 1] * hi;
      acc = std::fma(d * a.d, static_cast<float>(dot), acc);
    }
  }
  return acc;
}

// w4g*: group g's 32-element run r against act[g * G / 32 + r].
float dotRowW4(Scheme scheme, const uint8_t *row, const ActBlock *act, int64_t blocks) {
  using namespace llm::quant;
  const int64_t runs = w4GroupElems(scheme) / kBlockElems;
  const size_t groupBytes = blockBytes(scheme);
  float acc = 0;
  for (int64_t g = 0; g < blocks / runs; ++g) {
    const uint8_t *grp = row + g * groupBytes;
    W4GroupHeader h;
    std::memcpy(&h, grp, sizeof h);
    const float d = halfToFloat(h.d);
    for (int64_t r = 0; r < runs; ++r) {
      const ActBlock &a = act[g * runs + r];
      const int32_t dot = dotQ4(grp + sizeof h + 16 * r, a.q) - int32_t{h.zero} * a.sum;
      acc = std::fma(d * a.d, static_cast<float>(dot), acc);
    }
  }
  return acc;
}

float dotRowScalar(Scheme scheme, const uint8_t *row, const ActBlock *act, int64_t blocks) {
  using namespace llm::quant;
  float acc = 0;
  if (w4GroupElems(scheme))
    return dotRowW4(scheme, row, act, blocks);
  if (scheme == Scheme::Q4_K)
    return dotRowQ45K<BlockQ4_K>(row, act, blocks);
  if (scheme == Scheme::Q5_K)
    return dotRowQ45K<BlockQ5_K>(row, act, blocks);
  if (scheme == Scheme::Q6_K)
    return dotRowQ6K(row, act, blocks);
  if (scheme == Scheme::W8) {
    float d;
    std::memcpy(&d, row, sizeof d);
    const auto *q = reinterpret_cast<const int8_t *>(row + sizeof d);
    for (int64_t b = 0; b < blocks; ++b)
      acc = std::fma(act[b].d, static_cast<float>(dotQ8(q + 32 * b, act[b].q)), acc);
    return acc * d;
  }
  for (int64_t b = 0; b < blocks; ++b) {
    const ActBlock &a = act[b];
    switch (scheme) {
    case Scheme::Q8_0: {
      const auto &w = reinterpret_cast<const BlockQ8_0 *>(row)[b];
      float scale = halfToFloat(w.d) * a.d;
      acc = std::fma(scale, static_cast<float>(dotQ8(w.q, a.q)), acc);
      break;
    }
    case Scheme::Q4_0: {
      const auto &w = reinterpret_cast<const BlockQ4_0 *>(row)[b];
      float scale = halfToFloat(w.d) * a.d;
      acc = std::fma(scale, static_cast<float>(dotQ4(w.qs, a.q) - 8 * a.sum), acc);
      break;
    }
    case Scheme::Q4_1: {
      const auto &w = reinterpret_cast<const BlockQ4_1 *>(row)[b];
      float scale = halfToFloat(w.d) * a.d, mins = halfToFloat(w.m) * a.d;
      acc = std::fma(scale, static_cast<float>(dotQ4(w.qs, a.q)), acc);
      acc = std::fma(mins, static_cast<float>(a.sum), acc);
      break;
    }
    case Scheme::Q5_0: {
      const auto &w = reinterpret_cast<const BlockQ5_0 *>(row)[b];
      float scale = halfToFloat(w.d) * a.d;
      acc = std::fma(scale, static_cast<float>(dotQ5(w.qh, w.qs, a.q) - 16 * a.sum), acc);
      break;
    }
    case Scheme::Q5_1: {
      const auto &w = reinterpret_cast<const BlockQ5_1 *>(row)[b];
      float scale = halfToFloat(w.d) * a.d, mins = halfToFloat(w.m) * a.d;
      acc = std::fma(scale, static_cast<float>(dotQ5(w.qh, w.qs, a.q)), acc);
      acc = std::fma(mins, static_cast<float>(a.sum), acc);
      break;
    }
    default: break; // above
    }
  }
  return acc;
}

void dotRows4Scalar(Scheme scheme, const uint8_t *const rows[4], const ActBlock *act,
                    int64_t blocks, float out[4]) {
  for (int j = 0; j < 4; ++j)
    out[j] = dotRowScalar(scheme, rows[j], act, blocks);
}

void dotRows4x2Scalar(Scheme scheme, const uint8_t *const rows[4], const ActBlock *act0,
                      const ActBlock *act1, int64_t blocks, float out0[4], float out1[4]) {
  dotRows4Scalar(scheme, rows, act0, blocks, out0);
  dotRows4Scalar(scheme, rows, act1, blocks, out1);
}

// fp8: eight lane sums (element i into lane i % 8, in order) of w_i * 2^-8, then the fixed tree of
// QuantDot.h, then the row's scale times 2^8.
float dotRowFp8(const uint8_t *row, const float *x, int64_t k) {
  float s;
  std::memcpy(&s, row, sizeof s);
  const uint8_t *code = row + sizeof s;
  float lane[8] = {};
  for (int64_t i = 0; i < k; i += 8)
    for (int l = 0; l < 8; ++l)
      lane[l] = std::fma(llm::quant::fp8ToFloat(code[i + l]) * 0x1p-8f, x[i + l], lane[l]);
  float t[4];
  for (int l = 0; l < 4; ++l)
    t[l] = lane[l] + lane[l + 4];
  return ((t[0] + t[2]) + (t[1] + t[3])) * (s * 256.0f);
}

void dotFp8Rows4Scalar(const uint8_t *const rows[4], const float *x0, const float *x1, int64_t k,
                       float out0[4], float out1[4]) {
  for (int j = 0; j < 4; ++j) {
    out0[j] = dotRowFp8(rows[j], x0, k);
    if (x1)
      out1[j] = dotRowFp8(rows[j], x1, k);
  }
}

// Tiles: each row taken back to row_blocks and run through the reference above.
void dotTilesScalar(Scheme scheme, const uint8_t *tiles, const ActBlock *act, int64_t rows,
                    int64_t blocks, float *out, int64_t ldo) {
  const int64_t k = blocks * llm::quant::kBlockElems;
  std::vector<uint8_t> row(llm::quant::rowBytes(scheme, k));
  for (int j = 0; j < llm::quant::kTileRows; ++j) {
    llm::quant::rowFromRows8(scheme, tiles, k, j, row.data());
    for (int64_t t = 0; t < rows; ++t)
      out[t * ldo + j] = dotRowScalar(scheme, row.data(), act + t * blocks, blocks);
  }
}

} // namespace

// ---- SIMD paths: one body, compiled per ISA with function-level target attributes ----
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
#define QUANT_NS avx2
#define QUANT_DPBUSD 0
#include "backends/cpu/QuantDotBody.inc"
#undef QUANT_NS
#undef QUANT_DPBUSD
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512vl,avx512bw,avx512vnni")
#define QUANT_NS avx512vnni
#define QUANT_DPBUSD 1
#include "backends/cpu/QuantDotBody.inc"
#undef QUANT_NS
#undef QUANT_DPBUSD
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avxvnni")
#define QUANT_NS avxvnni
#define QUANT_DPBUSD 2
#include "backends/cpu/QuantDotBody.inc"
#undef QUANT_NS
#undef QUANT_DPBUSD
#pragma GCC pop_options

namespace {

// Eight of a block's int32 values' low bytes, four vectors in element order (the int8 cast of
// the scalar path, which keeps the low byte), and their sum as int8s.
__attribute__((target("avx2"))) int32_t packLowBytes(const __m256i v[4], int8_t *q) {
  const __m256i low = _mm256_set1_epi32(0xff);
  __m256i p01 = _mm256_packus_epi32(_mm256_and_si256(v[0], low), _mm256_and_si256(v[1], low));
  __m256i p23 = _mm256_packus_epi32(_mm256_and_si256(v[2], low), _mm256_and_si256(v[3], low));
  // Per 128-bit lane: v0[0..3] v1[0..3] v2[0..3] v3[0..3], then the elements 4..7 likewise.
  __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_packus_epi16(p01, p23),
                                              _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  _mm256_storeu_si256(reinterpret_cast<__m256i *>(q), bytes);
  __m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), bytes),
                                _mm256_set1_epi16(1));
  __m128i t = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
  t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4e));
  t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0xb1));
  return _mm_cvtsi128_si32(t);
}

__attribute__((target("avx2,fma"))) void quantizeActivationsAvx2(const float *x, int64_t k,
                                                                 ActBlock *out) {
  const __m256 signBit = _mm256_set1_ps(-0.0f), half = _mm256_set1_ps(0.5f);
  const __m256 one = _mm256_set1_ps(1.0f);
  for (int64_t b = 0; b < k / 32; ++b, x += 32) {
    __m256 v[4], amax = _mm256_setzero_ps();
    for (int i = 0; i < 4; ++i) {
      v[i] = _mm256_loadu_ps(x + 8 * i);
      amax = _mm256_max_ps(_mm256_andnot_ps(signBit, v[i]), amax); // a NaN x is skipped
    }
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    const float d = _mm_cvtss_f32(m) / 127.0f;
    const __m256 id = _mm256_set1_ps(d == 0 ? 0.0f : 1.0f / d);
    __m256i q[4];
    for (int i = 0; i < 4; ++i) {
      __m256 s = _mm256_mul_ps(v[i], id);
      __m256 t = _mm256_round_ps(s, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
      __m256 away = _mm256_cmp_ps(_mm256_andnot_ps(signBit, _mm256_sub_ps(s, t)), half, _CMP_GE_OQ);
      __m256 step = _mm256_or_ps(_mm256_and_ps(signBit, s), one); // copysign(1, s)
      q[i] = _mm256_cvttps_epi32(_mm256_add_ps(t, _mm256_and_ps(away, step)));
    }
    ActBlock &a = out[b];
    a.d = d;
    a.sum = packLowBytes(q, a.q);
  }
}

} // namespace

void quantizeActivations(const float *x, int64_t k, ActBlock *out, Isa isa) {
  if (isa != Isa::Scalar)
    return quantizeActivationsAvx2(x, k, out);
  for (int64_t b = 0; b < k / 32; ++b, x += 32) {
    float amax = 0;
    for (int i = 0; i < 32; ++i)
      amax = std::max(amax, std::fabs(x[i]));
    float d = amax / 127.0f;
    float id = d == 0 ? 0.0f : 1.0f / d;
    ActBlock &a = out[b];
    a.d = d;
    a.sum = 0;
    for (int i = 0; i < 32; ++i) {
      float scaled = x[i] * id;
      a.q[i] = static_cast<int8_t>(std::round(scaled));
      a.sum += a.q[i];
    }
  }
}

DotRows4x2Fn dotRows4x2For(Isa isa) {
  switch (isa) {
  case Isa::Scalar: return dotRows4x2Scalar;
  case Isa::Avx2: return avx2::dotRows4x2;
  case Isa::Avx512Vnni:
  case Isa::AmxInt8: return avx512vnni::dotRows4x2;
  case Isa::AvxVnni: return avxvnni::dotRows4x2;
  }
  return dotRows4x2Scalar;
}

DotFp8Rows4Fn dotFp8Rows4For(Isa isa) {
  // The fp8 kernel is FMA over floats: AVX2 + FMA + F16C is its only SIMD path (the VNNI paths'
  // integer instructions do not apply), so they use the AVX2 body.
  return isa == Isa::Scalar ? dotFp8Rows4Scalar : avx2::dotFp8Rows4;
}

namespace {

// AMX takes 16 activation rows at a time of the schemes it has; the rest go to AVX-512 VNNI.
void dotTilesAmx(Scheme scheme, const uint8_t *tiles, const ActBlock *act, int64_t rows,
                 int64_t blocks, float *out, int64_t ldo) {
  const int64_t done = amx::dotTiles(scheme, tiles, act, rows, blocks, out, ldo);
  if (done < rows)
    avx512vnni::dotTiles(scheme, tiles, act + done * blocks, rows - done, blocks, out + done * ldo,
                         ldo);
}

} // namespace

DotTilesFn dotTilesFor(Isa isa) {
  switch (isa) {
  case Isa::Scalar: return dotTilesScalar;
  case Isa::Avx2: return avx2::dotTiles;
  case Isa::Avx512Vnni: return avx512vnni::dotTiles;
  case Isa::AvxVnni: return avxvnni::dotTiles;
  case Isa::AmxInt8: return dotTilesAmx;
  }
  return dotTilesScalar;
}

DotRows4Fn dotRows4For(Isa isa) {
  switch (isa) {
  case Isa::Scalar: return dotRows4Scalar;
  case Isa::Avx2: return avx2::dotRows4;
  case Isa::Avx512Vnni:
  case Isa::AmxInt8: return avx512vnni::dotRows4;
  case Isa::AvxVnni: return avxvnni::dotRows4;
  }
  return dotRows4Scalar;
}

} // namespace llmrt::cpu
