#include "backends/cpu/QuantDotAmx.h"

#include "plan/QuantFormat.h"

#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <vector>

namespace llmrt::cpu::amx {
namespace {

// This thread's scratch of at least `bytes`, 64-byte aligned (compiled here, outside the AMX
// region, as every use of a standard template must be).
uint8_t *scratch(int64_t bytes) {
  static thread_local std::vector<uint8_t> buf;
  if (buf.size() < static_cast<size_t>(bytes) + 64)
    buf.resize(static_cast<size_t>(bytes) + 64);
  auto at = reinterpret_cast<uintptr_t>(buf.data());
  return buf.data() + ((64 - at % 64) % 64);
}

} // namespace

bool usable() {
  static const bool ok = [] {
    if (!__builtin_cpu_supports("amx-tile") || !__builtin_cpu_supports("amx-int8") ||
        !isaSupported(Isa::Avx512Vnni))
      return false;
    constexpr long kReqXcompPerm = 0x1023, kXfeatureXtiledata = 18; // <asm/prctl.h>
    return syscall(SYS_arch_prctl, kReqXcompPerm, kXfeatureXtiledata) == 0;
  }();
  return ok;
}

} // namespace llmrt::cpu::amx

// Everything below is compiled for AMX and reached only through dotTiles, which callers run after
// usable(). It uses no inline function from another header (a copy compiled here could be the one
// the linker keeps for every caller).
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512vl,avx512bw,avx512vnni,amx-tile,amx-int8")

namespace llmrt::cpu::amx {
namespace {

using llm::quant::Scheme;

// Tile loads and stores are asm statements that do not tell the compiler they touch memory: a
// barrier before a tile load of bytes just written, and after a tile store before reading it.
inline void memoryBarrier() { __asm__ __volatile__("" ::: "memory"); }

// The palette-1 configuration: tmm0, tmm1 B (8 rows of 32 bytes), tmm2, tmm3 A (16 rows of 32
// bytes), tmm4, tmm5 C (16 rows of 8 int32).
struct alignas(64) TileConfig {
  uint8_t palette, startRow;
  uint8_t reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};
constexpr TileConfig kConfig{1, 0, {}, {32, 32, 32, 32, 32, 32}, {8, 8, 16, 16, 16, 16}};

// Tile configuration is per thread: loaded once by each thread that runs these kernels.
void configure() {
  static thread_local bool configured = false;
  if (!configured) {
    _tile_loadconfig(&kConfig);
    configured = true;
  }
}

// q4_0's quants of one tile block (4 chunks of 32 bytes: low nibbles elements 4c .. 4c + 3, high
// nibbles 16 + 4c .. of each row) as B's 8 rows of bytes: row c the low nibbles of chunk c, row
// 4 + c the high ones.
inline void widenQ4(const uint8_t *qs, uint8_t *b) {
  const __m256i mask = _mm256_set1_epi8(0x0f);
  for (int c = 0; c < 4; ++c) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(qs + 32 * c));
    _mm256_store_si256(reinterpret_cast<__m256i *>(b + 32 * c), _mm256_and_si256(v, mask));
    _mm256_store_si256(reinterpret_cast<__m256i *>(b + 32 * (4 + c)),
                       _mm256_and_si256(_mm256_srli_epi16(v, 4), mask));
  }
}

// Loads block b's B (weights, at bAt(b)) and A tiles into tiles B and A and multiplies them into C
// (from zero).
#define LLMRT_AMX_ISSUE(B, A, C, b)                                                               \
  do {                                                                                            \
    _tile_loadd(B, bAt(b), 32);                                                                   \
    _tile_loadd(A, act[(b)].q, stride);                                                           \
    _tile_zero(C);                                                                                \
    if constexpr (S == Scheme::Q8_0)                                                              \
      _tile_dpbssd(C, A, B);                                                                      \
    else                                                                                          \
      _tile_dpbsud(C, A, B);                                                                      \
  } while (0)

template <Scheme S>
constexpr int64_t kTileBytes = 8 * (S == Scheme::Q8_0 ? sizeof(llm::quant::BlockQ8_0)
                                                      : sizeof(llm::quant::BlockQ4_0));

// kRows activation rows (act[t * blocks ...]) against one group of tiles: out[t * ldo + j].
// Block b's B tile is at wide + 256 b when wide is given (q4_0's quants widened), else in the tile.
template <Scheme S>
void rows16(const uint8_t *tiles, const uint8_t *wide, const ActBlock *act, int64_t blocks,
            float *out, int64_t ldo) {
  const int64_t stride = blocks * static_cast<int64_t>(sizeof(ActBlock));
  auto bAt = [&](int64_t b) { return wide ? wide + 256 * b : tiles + b * kTileBytes<S> + 16; };
  alignas(64) int32_t sums[kRows * 8];
  __m256 acc[kRows];
  for (int t = 0; t < kRows; ++t)
    acc[t] = _mm256_setzero_ps();
  LLMRT_AMX_ISSUE(0, 2, 4, 0);
  for (int64_t b = 0; b < blocks; ++b) {
    // The next block goes to the unit before this one's sums are read.
    if (b % 2 == 0) {
      if (b + 1 < blocks)
        LLMRT_AMX_ISSUE(1, 3, 5, b + 1);
      _tile_stored(4, sums, 32);
    } else {
      if (b + 1 < blocks)
        LLMRT_AMX_ISSUE(0, 2, 4, b + 1);
      _tile_stored(5, sums, 32);
    }
    memoryBarrier();
    const uint8_t *tile = tiles + b * kTileBytes<S>;
    const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i *>(tile)));
    for (int t = 0; t < kRows; ++t) {
      const ActBlock &a = act[t * blocks + b];
      __m256i s = _mm256_load_si256(reinterpret_cast<const __m256i *>(sums + 8 * t));
      if constexpr (S == Scheme::Q4_0)
        s = _mm256_sub_epi32(s, _mm256_set1_epi32(8 * a.sum));
      acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_set1_ps(a.d)), _mm256_cvtepi32_ps(s),
                               acc[t]);
    }
  }
  for (int t = 0; t < kRows; ++t)
    _mm256_storeu_ps(out + t * ldo, acc[t]);
}

#undef LLMRT_AMX_ISSUE

template <Scheme S>
int64_t rowsOf(const uint8_t *tiles, const ActBlock *act, int64_t rows, int64_t blocks,
               float *out, int64_t ldo) {
  const int64_t full = rows / kRows * kRows;
  if (full == 0 || blocks == 0)
    return 0;
  configure();
  // q4_0: the group's quants widened to bytes once, for all its rows, before the unit reads them
  // (a tile load right after the stores that wrote its bytes would wait for them).
  const uint8_t *wide = nullptr;
  if constexpr (S == Scheme::Q4_0) {
    uint8_t *buf = scratch(256 * blocks);
    for (int64_t b = 0; b < blocks; ++b)
      widenQ4(tiles + b * kTileBytes<S> + 16, buf + 256 * b);
    memoryBarrier();
    wide = buf;
  }
  for (int64_t t = 0; t < full; t += kRows)
    rows16<S>(tiles, wide, act + t * blocks, blocks, out + t * ldo, ldo);
  return full;
}

} // namespace

int64_t dotTiles(Scheme scheme, const uint8_t *tiles, const ActBlock *act, int64_t rows,
                 int64_t blocks, float *out, int64_t ldo) {
  switch (scheme) {
  case Scheme::Q8_0: return rowsOf<Scheme::Q8_0>(tiles, act, rows, blocks, out, ldo);
  case Scheme::Q4_0: return rowsOf<Scheme::Q4_0>(tiles, act, rows, blocks, out, ldo);
  default: return 0;
  }
}

} // namespace llmrt::cpu::amx

#pragma GCC pop_options
