#include "backends/cpu/FloatDotAvx512.h"

#include <immintrin.h>

// Everything below is compiled for AVX-512 and reached only through dotTile, which callers run on
// CPUs that have it. It uses no inline function from another header (a copy compiled here could
// be the one the linker keeps for every caller).
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512vl,avx512dq")
// GCC 12 reports the deliberately undefined upper half of _mm512_castps256_ps512 as uninitialized.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace llmrt::cpu::avx512 {
namespace {

// CpuKernels.cpp's hsum: (l0+l4, l1+l5, l2+l6, l3+l7), then (0+2, 1+3), then their sum.
inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Weight rows 2p and 2p + 1's chunks at offset wo, side by side. Adjacent: row 2p + 1's chunk
// follows row 2p's in memory (the rows8 layout, rows paired from an even row), one 64-byte load.
template <bool Adjacent>
inline __m512 pairAt(const float *const w[], int p, int64_t wo) {
  if constexpr (Adjacent)
    return _mm512_loadu_ps(w[2 * p] + wo);
  else
    return _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_loadu_ps(w[2 * p] + wo)),
                              _mm256_loadu_ps(w[2 * p + 1] + wo), 1);
}

// The same for a tail chunk: lanes [0, r) of each half loaded, the others zero.
template <bool Adjacent>
inline __m512 pairTail(const float *const w[], int p, int64_t wo, __mmask8 m) {
  if constexpr (Adjacent)
    return _mm512_maskz_loadu_ps(static_cast<__mmask16>(m | (m << 8)), w[2 * p] + wo);
  else
    return _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_maskz_loadu_ps(m, w[2 * p] + wo)),
                              _mm256_maskz_loadu_ps(m, w[2 * p + 1] + wo), 1);
}

// TR x rows against TP pairs of weight rows: TR * TP accumulators (6 x 4 = 24, plus 4 weight
// registers and x's broadcast: 29 of the 32).
template <int TR, int TP, bool Adjacent>
void tile(const float *const x[], const float *const w[], int64_t k, int64_t wStep, float *out,
          int64_t ldo) {
  __m512 acc[TR][TP];
  for (int i = 0; i < TR; ++i)
    for (int p = 0; p < TP; ++p)
      acc[i][p] = _mm512_setzero_ps();
  int64_t kk = 0, wo = 0;
  for (; kk + 8 <= k; kk += 8, wo += wStep) {
    __m512 wv[TP];
    for (int p = 0; p < TP; ++p)
      wv[p] = pairAt<Adjacent>(w, p, wo);
    for (int i = 0; i < TR; ++i) {
      __m512 xv = _mm512_broadcast_f32x8(_mm256_loadu_ps(x[i] + kk));
      for (int p = 0; p < TP; ++p)
        acc[i][p] = _mm512_fmadd_ps(xv, wv[p], acc[i][p]);
    }
  }
  if (kk < k) {
    const __mmask8 m = static_cast<__mmask8>((1u << (k - kk)) - 1);
    __m512 wv[TP];
    for (int p = 0; p < TP; ++p)
      wv[p] = pairTail<Adjacent>(w, p, wo, m);
    for (int i = 0; i < TR; ++i) {
      __m512 xv = _mm512_broadcast_f32x8(_mm256_maskz_loadu_ps(m, x[i] + kk));
      for (int p = 0; p < TP; ++p)
        acc[i][p] = _mm512_fmadd_ps(xv, wv[p], acc[i][p]);
    }
  }
  for (int i = 0; i < TR; ++i)
    for (int p = 0; p < TP; ++p) {
      out[i * ldo + 2 * p] = hsum8(_mm512_castps512_ps256(acc[i][p]));
      out[i * ldo + 2 * p + 1] = hsum8(_mm512_extractf32x8_ps(acc[i][p], 1));
    }
}

template <int TR, int TP>
void tileOf(const float *const x[], const float *const w[], int64_t k, int64_t wStep, float *out,
            int64_t ldo) {
  bool adjacent = true;
  for (int p = 0; p < TP; ++p)
    adjacent = adjacent && w[2 * p + 1] == w[2 * p] + 8;
  if (adjacent)
    tile<TR, TP, true>(x, w, k, wStep, out, ldo);
  else
    tile<TR, TP, false>(x, w, k, wStep, out, ldo);
}

} // namespace

void dotTile(const float *const x[kMaxTileRows], int64_t tr, const float *const w[kMaxTileCols],
             int64_t tn, int64_t k, int64_t wStep, float *out, int64_t ldo) {
  // One x row (decode): 8 or 16 weight rows, each x chunk loaded once for all of them. More x
  // rows: 8 weight rows against 3 or 6 of them.
  if (tr == 1)
    return tn > 8 ? tileOf<1, 8>(x, w, k, wStep, out, ldo) : tileOf<1, 4>(x, w, k, wStep, out, ldo);
  if (tr <= 3)
    return tileOf<3, 4>(x, w, k, wStep, out, ldo);
  tileOf<6, 4>(x, w, k, wStep, out, ldo);
}

} // namespace llmrt::cpu::avx512

#pragma GCC diagnostic pop
#pragma GCC pop_options
