// KV cache dtypes (bf16, fp8 e4m3 with a scale per token and kv head): the element conversions
// against torch (tools/fixtures/make_kv_dtype_fixtures.py), the AVX2 paths against the scalar
// reference (bitwise), the fp8 error bound, the row format and memory accounting, attention over
// a bf16/fp8 cache against attention over an f32 cache holding the decoded values (bitwise), block
// copies, the executor's dtype choice and refusal, and the --kv-cache-dtype option.
#include "TestPlanWriter.h"
#include "backends/cpu/CpuKernels.h"
#include "backends/cpu/KVConvert.h"
#include "engine/Engine.h"
#include "engine/Executor.h"
#include "engine/PagedKVCache.h"
#include "plan/PlanLoader.h"
#include "support/Error.h"
#include "tools/KVCacheDtypeOption.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <random>
#include <vector>

namespace llmrt {
namespace {

namespace kvc = kvconvert;
using cpu::AttentionBatch;
using cpu::KernelArgs;
using cpu::KernelParams;

constexpr KVCacheDtype kAllDtypes[] = {KVCacheDtype::F32, KVCacheDtype::BF16,
                                       KVCacheDtype::Fp8E4M3};

float fromBits(uint32_t b) { return std::bit_cast<float>(b); }

// One token's values of `heads` kv heads, as head rows side by side (the cache keeps each head's
// row on its own: PagedKVCache; these tests check the encoders on several heads at once).
int64_t rowBytes(KVCacheDtype d, int64_t heads, int64_t headDim) {
  return heads * kvc::headBytes(d, headDim);
}
void encodeRow(KVCacheDtype d, const float *x, std::byte *row, int64_t heads, int64_t headDim,
               kvc::Path path = kvc::Path::Simd) {
  for (int64_t h = 0; h < heads; ++h)
    kvc::encodeHead(d, x + h * headDim, row + h * kvc::headBytes(d, headDim), headDim, path);
}
void decodeHeadOf(KVCacheDtype d, const std::byte *row, int64_t h, int64_t heads, int64_t headDim,
                  float *out, kvc::Path path = kvc::Path::Simd) {
  (void)heads;
  kvc::decodeHead(d, row + h * kvc::headBytes(d, headDim), headDim, out, path);
}
uint32_t toBits(float f) { return std::bit_cast<uint32_t>(f); }

const nlohmann::json &fixture() {
  static const nlohmann::json j = [] {
    std::ifstream in(KV_FIXTURE);
    EXPECT_TRUE(in) << KV_FIXTURE;
    return nlohmann::json::parse(in);
  }();
  return j;
}

template <typename F> void expectError(F &&f, const std::string &word) {
  try {
    f();
    ADD_FAILURE() << "no error, expected one mentioning '" << word << "'";
  } catch (const llm::Error &e) {
    EXPECT_NE(std::string(e.what()).find(word), std::string::npos) << e.what();
  }
}

// --- Elements against torch -------------------------------------------------------------------

TEST(KVConvertTest, Bf16RoundsAsTorch) {
  const auto &f = fixture()["bf16"];
  std::vector<float> x;
  for (uint32_t b : f["float_bits"])
    x.push_back(fromBits(b));
  std::vector<uint16_t> want = f["bf16_bits"];
  ASSERT_EQ(x.size(), want.size());
  ASSERT_GT(x.size(), 10000u);
  for (size_t i = 0; i < x.size(); ++i)
    ASSERT_EQ(kvc::bf16FromFloat(x[i]), want[i]) << "input bits " << toBits(x[i]);
  // The row encoders (one head holding everything) on both paths.
  for (kvc::Path path : {kvc::Path::Reference, kvc::Path::Simd}) {
    std::vector<uint16_t> row(x.size());
    encodeRow(KVCacheDtype::BF16, x.data(), reinterpret_cast<std::byte *>(row.data()), 1,
                   int64_t(x.size()), path);
    EXPECT_EQ(row, want);
  }
  EXPECT_EQ(kvc::bf16FromFloat(std::numeric_limits<float>::quiet_NaN()), 0x7FC0);
  EXPECT_EQ(kvc::bf16FromFloat(-std::numeric_limits<float>::quiet_NaN()), 0x7FC0);
}

TEST(KVConvertTest, Fp8RoundsAsTorch) {
  const auto &f = fixture()["fp8_e4m3"];
  std::vector<uint8_t> want = f["codes"];
  size_t i = 0;
  ASSERT_GT(want.size(), 5000u);
  for (uint32_t b : f["float_bits"]) {
    ASSERT_EQ(int(kvc::fp8FromFloat(fromBits(b))), int(want[i])) << "input bits " << b;
    ++i;
  }
}

TEST(KVConvertTest, Fp8DecodesAsTorch) {
  const auto &want = fixture()["fp8_decode"]["float_bits"];
  ASSERT_EQ(want.size(), 256u);
  for (int c = 0; c < 256; ++c) {
    float got = kvc::floatFromFp8(uint8_t(c)), ref = fromBits(want[c]);
    if (std::isnan(ref)) {
      EXPECT_TRUE(std::isnan(got)) << c;
      EXPECT_EQ(c & 0x7F, 0x7F);
    } else {
      EXPECT_EQ(toBits(got), toBits(ref)) << c;
      EXPECT_EQ(kvc::fp8FromFloat(got), c) << "round trip of code " << c;
    }
  }
}

TEST(KVConvertTest, Fp8SaturatesAndKeepsNaN) {
  EXPECT_EQ(kvc::fp8FromFloat(448.0f), 0x7E);
  EXPECT_EQ(kvc::fp8FromFloat(1e9f), 0x7E);
  EXPECT_EQ(kvc::fp8FromFloat(-std::numeric_limits<float>::infinity()), 0xFE);
  EXPECT_EQ(kvc::fp8FromFloat(std::numeric_limits<float>::quiet_NaN()), 0x7F);
  EXPECT_EQ(kvc::fp8FromFloat(-std::numeric_limits<float>::quiet_NaN()), 0xFF);
  EXPECT_EQ(kvc::fp8FromFloat(-0.0f), 0x80);
}

// --- The AVX2 paths give the reference's bits ------------------------------------------------

// Rows with ordinary data, zero heads, outliers, tiny and huge magnitudes, NaN and infinities.
std::vector<float> awkwardRow(int64_t n, std::mt19937_64 &rng) {
  std::normal_distribution<float> normal;
  std::uniform_int_distribution<int> kind(0, 9);
  float magnitude = std::ldexp(1.0f, std::uniform_int_distribution<int>(-140, 120)(rng));
  std::vector<float> x(n);
  for (float &v : x) {
    switch (kind(rng)) {
    case 0:
      v = 0;
      break;
    case 1:
      v = normal(rng) * 1e4f;
      break;
    default:
      v = normal(rng) * magnitude;
    }
  }
  if (n > 3 && kind(rng) == 0)
    x[n / 2] = std::numeric_limits<float>::quiet_NaN();
  if (n > 3 && kind(rng) == 1)
    x[n / 3] = -std::numeric_limits<float>::infinity();
  if (kind(rng) == 2)
    std::fill(x.begin(), x.end(), 0.0f);
  return x;
}

bool sameBits(const float *a, const float *b, int64_t n) {
  return std::memcmp(a, b, n * sizeof(float)) == 0;
}

TEST(KVConvertTest, SimdRowsHaveTheReferenceBits) {
  std::mt19937_64 rng(7);
  for (KVCacheDtype dtype : kAllDtypes)
    for (int64_t heads : {1, 3})
      for (int64_t headDim : {1, 4, 7, 8, 9, 16, 31, 64, 67, 128}) {
        SCOPED_TRACE(fmt::format("{} {}x{}", kvCacheDtypeName(dtype), heads, headDim));
        for (int rep = 0; rep < 20; ++rep) {
          std::vector<float> x = awkwardRow(heads * headDim, rng);
          const int64_t bytes = rowBytes(dtype, heads, headDim);
          std::vector<std::byte> ref(bytes, std::byte{0xAB}), simd(bytes, std::byte{0xCD});
          encodeRow(dtype, x.data(), ref.data(), heads, headDim, kvc::Path::Reference);
          encodeRow(dtype, x.data(), simd.data(), heads, headDim, kvc::Path::Simd);
          ASSERT_EQ(ref, simd);
          for (int64_t h = 0; h < heads; ++h) {
            std::vector<float> a(headDim), b(headDim);
            decodeHeadOf(dtype, ref.data(), h, heads, headDim, a.data(), kvc::Path::Reference);
            decodeHeadOf(dtype, ref.data(), h, heads, headDim, b.data(), kvc::Path::Simd);
            ASSERT_TRUE(sameBits(a.data(), b.data(), headDim)) << "head " << h;
          }
        }
      }
}

// Every code, under scales from subnormal to huge, decodes to the same bits on both paths.
TEST(KVConvertTest, SimdDecodesEveryFp8Code) {
  std::vector<std::byte> row(rowBytes(KVCacheDtype::Fp8E4M3, 1, 256));
  for (int c = 0; c < 256; ++c)
    row[c] = std::byte(c);
  for (float scale : {1.0f, 1.0f / 448, 0.37f, 3e-3f, 1e-39f, 1e-44f, 2.5e35f,
                      std::numeric_limits<float>::infinity()}) {
    std::memcpy(row.data() + kvc::fp8ScaleOffset(256), &scale, 4);
    std::vector<float> a(256), b(256);
    decodeHeadOf(KVCacheDtype::Fp8E4M3, row.data(), 0, 1, 256, a.data(), kvc::Path::Reference);
    decodeHeadOf(KVCacheDtype::Fp8E4M3, row.data(), 0, 1, 256, b.data(), kvc::Path::Simd);
    EXPECT_TRUE(sameBits(a.data(), b.data(), 256)) << scale;
    if (scale == 1.0f)
      for (int c = 0; c < 256; ++c)
        EXPECT_EQ(toBits(a[c]), toBits(kvc::floatFromFp8(uint8_t(c)))) << c;
  }
}

// Exactly representable ties and their neighbours through the SIMD encoder (scale 1: a head whose
// max is 448).
TEST(KVConvertTest, SimdFp8EncoderRoundsTiesAsTheReference) {
  const auto &f = fixture()["fp8_e4m3"];
  std::vector<float> x;
  for (uint32_t b : f["float_bits"])
    x.push_back(fromBits(b));
  const int64_t n = int64_t(x.size()) / 8 * 8;
  x.resize(n);
  x[0] = 448.0f; // the head's max: scale exactly 1
  std::vector<std::byte> ref(rowBytes(KVCacheDtype::Fp8E4M3, 1, n)), simd(ref.size());
  encodeRow(KVCacheDtype::Fp8E4M3, x.data(), ref.data(), 1, n, kvc::Path::Reference);
  encodeRow(KVCacheDtype::Fp8E4M3, x.data(), simd.data(), 1, n, kvc::Path::Simd);
  EXPECT_EQ(ref, simd);
  std::vector<uint8_t> want = f["codes"];
  for (int64_t i = 1; i < n; ++i)
    ASSERT_EQ(int(ref[i]), int(want[i])) << i;
}

// The stated accuracy (KVConvert.h): relative error at most 2^-4 for elements at least 2^-6 of
// the scale (normal e4m3), absolute error at most 2^-10 of the scale below that.
TEST(KVConvertTest, Fp8RowErrorIsBoundedByTheHeadScale) {
  std::mt19937_64 rng(3);
  std::student_t_distribution<float> heavy(2.0f); // outlier channels, as real keys have
  const int64_t heads = 4, headDim = 64;
  for (int rep = 0; rep < 200; ++rep) {
    std::vector<float> x(heads * headDim);
    for (float &v : x)
      v = heavy(rng) * 3.0f;
    std::vector<std::byte> row(rowBytes(KVCacheDtype::Fp8E4M3, heads, headDim));
    encodeRow(KVCacheDtype::Fp8E4M3, x.data(), row.data(), heads, headDim);
    for (int64_t h = 0; h < heads; ++h) {
      float scale, amax = 0;
      std::memcpy(&scale, row.data() + h * kvc::headBytes(KVCacheDtype::Fp8E4M3, headDim) +
                              kvc::fp8ScaleOffset(headDim),
                  4);
      std::vector<float> y(headDim);
      decodeHeadOf(KVCacheDtype::Fp8E4M3, row.data(), h, heads, headDim, y.data());
      for (int64_t d = 0; d < headDim; ++d)
        amax = std::max(amax, std::fabs(x[h * headDim + d]));
      EXPECT_EQ(scale, amax / 448.0f);
      for (int64_t d = 0; d < headDim; ++d) {
        float v = x[h * headDim + d], err = std::fabs(y[d] - v);
        float bound = std::fabs(v) >= scale * 0.015625f ? std::fabs(v) * 0.0625f * 1.0001f
                                                        : scale * 0.0009765625f * 1.0001f;
        ASSERT_LE(err, bound) << v << " -> " << y[d];
      }
    }
  }
}

// --- Row format and memory accounting --------------------------------------------------------

TEST(KVConvertTest, RowBytesAndBlocksPerBudget) {
  EXPECT_EQ(rowBytes(KVCacheDtype::F32, 3, 64), 3 * 64 * 4);
  EXPECT_EQ(rowBytes(KVCacheDtype::BF16, 3, 64), 3 * 64 * 2);
  EXPECT_EQ(rowBytes(KVCacheDtype::Fp8E4M3, 3, 64), 3 * 64 + 3 * 4);
  EXPECT_EQ(rowBytes(KVCacheDtype::Fp8E4M3, 1, 5), 8 + 4); // codes padded to 4 bytes
  EXPECT_EQ(PagedKVCache::bytesPerBlock(30, 3, 64, 16, KVCacheDtype::F32), 2 * 30 * 16 * 768);
  EXPECT_EQ(PagedKVCache::bytesPerBlock(30, 3, 64, 16, KVCacheDtype::BF16), 2 * 30 * 16 * 384);
  EXPECT_EQ(PagedKVCache::bytesPerBlock(30, 3, 64, 16, KVCacheDtype::Fp8E4M3), 2 * 30 * 16 * 204);
  for (KVCacheDtype d : kAllDtypes) {
    PagedKVCache kv(2, 3, 8, 5, 4, false, d);
    EXPECT_EQ(kv.dtype(), d);
    EXPECT_EQ(kv.bytes(), 5 * PagedKVCache::bytesPerBlock(2, 3, 8, 4, d));
  }
}

// A block copy (copy-on-write) carries the codes and the scales.
TEST(KVConvertTest, BlockCopyCarriesScales) {
  for (KVCacheDtype d : kAllDtypes) {
    PagedKVCache kv(2, 2, 8, 4, 3, false, d);
    std::mt19937_64 rng(5);
    for (int layer = 0; layer < 2; ++layer)
      for (int64_t slot = 3; slot < 6; ++slot) { // block 1
        std::vector<float> x = awkwardRow(16, rng);
        for (int h = 0; h < 2; ++h) {
          kvc::encodeHead(d, x.data() + h * 8, kv.keyHead(layer, slot, h), 8);
          kvc::encodeHead(d, x.data() + h * 8, kv.valueHead(layer, slot, h), 8);
        }
      }
    kv.copyBlock(1, 3);
    for (int layer = 0; layer < 2; ++layer)
      for (int64_t o = 0; o < 3; ++o)
        for (int h = 0; h < 2; ++h) {
          EXPECT_EQ(std::memcmp(kv.keyHead(layer, 9 + o, h), kv.keyHead(layer, 3 + o, h),
                                kv.headBytes()),
                    0);
          EXPECT_EQ(std::memcmp(kv.valueHead(layer, 9 + o, h), kv.valueHead(layer, 3 + o, h),
                                kv.headBytes()),
                    0);
        }
  }
}

// --- Attention over bf16 / fp8 rows ----------------------------------------------------------

struct AttentionCase {
  int64_t heads = 6, kvHeads = 2, headDim = 16;
  int blockSize = 4;
  int64_t window = 0;
};

KernelParams attentionParams(const AttentionCase &c, bool rope) {
  KernelParams p;
  p.setInt("layer", 0).setInt("num_heads", c.heads).setInt("num_kv_heads", c.kvHeads);
  p.setInt("head_dim", c.headDim).setFloat("scale", 0.25).setInt("sliding_window", c.window);
  if (rope) {
    std::vector<float> invFreq;
    for (int64_t i = 0; i < c.headDim / 2; ++i)
      invFreq.push_back(std::pow(0.1f, float(i)));
    p.setFloatArray("inv_freq", invFreq).setFloat("attention_factor", 1.0);
  }
  return p;
}

// Random q, k and v rows of `len` tokens: test::randomFloats with seeds seed, seed + 1, seed + 2
// and the given scales.
struct Qkv {
  std::vector<float> q, k, v;
};
Qkv randomQkv(const AttentionCase &c, int len, uint32_t seed, float qScale, float kScale,
              float vScale) {
  const int64_t qW = c.heads * c.headDim, kvW = c.kvHeads * c.headDim;
  return {test::randomFloats(len * qW, seed, qScale),
          test::randomFloats(len * kvW, seed + 1, kScale),
          test::randomFloats(len * kvW, seed + 2, vScale)};
}

// One kernel call over one sequence's positions [begin, end) (block table `table`): q, k, v rows
// of `width` floats each (packed: one [q | k | v] row, rope applied by the kernel).
std::vector<float> attend(const AttentionCase &c, PagedKVCache &kv, bool packed,
                          const std::vector<float> &q, const std::vector<float> &k,
                          const std::vector<float> &v, int begin, int end,
                          const std::vector<int32_t> &table) {
  const int64_t qW = c.heads * c.headDim, kvW = c.kvHeads * c.headDim;
  std::vector<int32_t> positions, queryStart{0, end - begin};
  std::vector<int64_t> slots;
  std::vector<float> qs, ks, vs, qkv;
  for (int pos = begin; pos < end; ++pos) {
    positions.push_back(pos);
    slots.push_back(int64_t(table[pos / c.blockSize]) * c.blockSize + pos % c.blockSize);
    qs.insert(qs.end(), q.begin() + pos * qW, q.begin() + (pos + 1) * qW);
    ks.insert(ks.end(), k.begin() + pos * kvW, k.begin() + (pos + 1) * kvW);
    vs.insert(vs.end(), v.begin() + pos * kvW, v.begin() + (pos + 1) * kvW);
    qkv.insert(qkv.end(), q.begin() + pos * qW, q.begin() + (pos + 1) * qW);
    qkv.insert(qkv.end(), k.begin() + pos * kvW, k.begin() + (pos + 1) * kvW);
    qkv.insert(qkv.end(), v.begin() + pos * kvW, v.begin() + (pos + 1) * kvW);
  }
  const int64_t T = end - begin;
  AttentionBatch batch{1, queryStart.data(), table.data(), int64_t(table.size()), slots.data()};
  KernelParams p = attentionParams(c, packed);
  std::vector<const void *> inputs =
      packed ? std::vector<const void *>{qkv.data()}
             : std::vector<const void *>{qs.data(), ks.data(), vs.data()};
  std::vector<float> out(T * qW);
  std::vector<void *> outputs{out.data()};
  const cpu::CpuKernelFn *kernel = cpu::findCpuKernel(packed ? "attention_qkv" : "attention");
  kernel->shapes(p, 0);
  KernelArgs args{p, inputs.data(), nullptr, out.data(), outputs.data(), T, 0,
                  positions.data(), &kv, &batch};
  kernel->run(args);
  return out;
}

// What a row of the dtype's cache represents: decode(encode(x)), per token row.
std::vector<float> represented(KVCacheDtype d, const std::vector<float> &x, int64_t heads,
                               int64_t headDim) {
  std::vector<float> y(x.size());
  std::vector<std::byte> row(rowBytes(d, heads, headDim));
  for (size_t r = 0; r < x.size() / (heads * headDim); ++r) {
    encodeRow(d, x.data() + r * heads * headDim, row.data(), heads, headDim);
    for (int64_t h = 0; h < heads; ++h)
      decodeHeadOf(d, row.data(), h, heads, headDim, y.data() + (r * heads + h) * headDim);
  }
  return y;
}

// Attention over a bf16/fp8 cache equals, bit for bit, attention over an f32 cache whose rows
// are the values the bf16/fp8 rows represent: a prefill in chunks (rows decoded once per step,
// DecodedStage), then decode steps (rows decoded per query), through a shuffled block table, with
// and without a sliding window.
class KVAttentionWindowTest : public ::testing::TestWithParam<int> {};

TEST_P(KVAttentionWindowTest, EqualsF32AttentionOverTheRepresentedValues) {
  AttentionCase c;
  c.window = GetParam();
  const int len = 23;
  const int64_t kvW = c.kvHeads * c.headDim;
  auto [q, k, v] = randomQkv(c, len, 1, 2.0f, 3.0f, 1.0f);
  k[5 * kvW + 3] = 40.0f; // an outlier channel
  const std::vector<int32_t> table{6, 2, 7, 0, 3, 5};
  for (KVCacheDtype d : {KVCacheDtype::BF16, KVCacheDtype::Fp8E4M3}) {
    SCOPED_TRACE(std::string(kvCacheDtypeName(d)));
    std::vector<float> kr = represented(d, k, c.kvHeads, c.headDim);
    std::vector<float> vr = represented(d, v, c.kvHeads, c.headDim);
    EXPECT_NE(kr, k); // the dtype really rounds
    PagedKVCache quant(1, c.kvHeads, c.headDim, 8, c.blockSize, false, d);
    PagedKVCache f32(1, c.kvHeads, c.headDim, 8, c.blockSize, false, KVCacheDtype::F32);
    for (auto [begin, end] : {std::pair{0, 9}, {9, 20}, {20, 21}, {21, 22}, {22, 23}}) {
      std::vector<float> got = attend(c, quant, false, q, k, v, begin, end, table);
      std::vector<float> want = attend(c, f32, false, q, kr, vr, begin, end, table);
      ASSERT_EQ(got.size(), want.size());
      EXPECT_TRUE(sameBits(got.data(), want.data(), int64_t(got.size())))
          << "positions " << begin << ".." << end;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Windows, KVAttentionWindowTest, ::testing::Values(0, 5, 12));

// Decode attention reads fp8 rows in place (codes decoded in registers): over rows holding every
// finite code, under scales from subnormal to past 2^7 (where decoding multiplies twice), it
// equals attention over an f32 cache holding the rows' decoded values, bit for bit. Runs of 1, 2
// and 3 query heads per kv head (groups of 1, 2, 3 and 5), a head_dim with a tail of 4 columns.
TEST(KVAttentionTest, Fp8RowsDecodedInRegistersHaveTheReferenceBits) {
  const float scales[] = {1e-39f, 3e-3f, 0.37f, 1.0f, 127.5f, 128.0f, 3000.0f, 2.5e35f};
  for (int64_t group : {1, 2, 3, 5}) {
    SCOPED_TRACE("group " + std::to_string(group));
    AttentionCase c;
    c.kvHeads = 2;
    c.heads = 2 * group;
    c.headDim = 44; // score tiles: 5 vectors and 4 columns; value strips: 32 and 12 columns
    c.blockSize = 8;
    const int len = 37; // positions 0..35 written here, 36 by the call
    const int64_t qW = c.heads * c.headDim;
    const std::vector<int32_t> table{3, 0, 4, 1, 2};
    PagedKVCache fp8(1, c.kvHeads, c.headDim, 5, c.blockSize, false, KVCacheDtype::Fp8E4M3);
    PagedKVCache f32(1, c.kvHeads, c.headDim, 5, c.blockSize, false, KVCacheDtype::F32);
    std::mt19937 rng{uint32_t(group)};
    int code = 0;
    for (int pos = 0; pos + 1 < len; ++pos)
      for (int h = 0; h < c.kvHeads; ++h) {
        const int64_t slot = int64_t(table[pos / c.blockSize]) * c.blockSize + pos % c.blockSize;
        for (std::byte *row : {fp8.keyHead(0, slot, h), fp8.valueHead(0, slot, h)}) {
          for (int64_t d = 0; d < c.headDim; ++d) {
            do
              code = (code + 1 + int(rng() % 5)) % 256;
            while ((code & 0x7F) == 0x7F); // every finite code, NaN codes aside
            row[d] = std::byte(code);
          }
          const float s = scales[rng() % std::size(scales)];
          std::memcpy(row + kvc::fp8ScaleOffset(c.headDim), &s, 4);
        }
        kvc::decodeHead(KVCacheDtype::Fp8E4M3, fp8.keyHead(0, slot, h), c.headDim,
                        f32.key(0, slot, h), kvc::Path::Reference);
        kvc::decodeHead(KVCacheDtype::Fp8E4M3, fp8.valueHead(0, slot, h), c.headDim,
                        f32.value(0, slot, h), kvc::Path::Reference);
      }
    auto [q, k, v] = randomQkv(c, len, 7, 1e-3f, 3.0f, 1.0f);
    std::vector<float> kr = represented(KVCacheDtype::Fp8E4M3, k, c.kvHeads, c.headDim);
    std::vector<float> vr = represented(KVCacheDtype::Fp8E4M3, v, c.kvHeads, c.headDim);
    std::vector<float> got = attend(c, fp8, false, q, k, v, len - 1, len, table);
    std::vector<float> want = attend(c, f32, false, q, kr, vr, len - 1, len, table);
    ASSERT_EQ(got.size(), size_t(qW));
    EXPECT_TRUE(sameBits(got.data(), want.data(), qW));
    for (float x : got)
      ASSERT_TRUE(std::isfinite(x));
  }
}

// A NaN code (0x7F / 0xFF) in a value row makes that column of its kv head's heads NaN, as the
// decoded row does.
TEST(KVAttentionTest, Fp8NaNCodesGiveNaN) {
  AttentionCase c;
  const int len = 6;
  auto [q, k, v] = randomQkv(c, len, 1, 1.0f, 1.0f, 1.0f);
  const std::vector<int32_t> table{0, 1};
  PagedKVCache fp8(1, c.kvHeads, c.headDim, 2, c.blockSize, false, KVCacheDtype::Fp8E4M3);
  attend(c, fp8, false, q, k, v, 0, len - 1, table);
  fp8.valueHead(0, 2, 1)[3] = std::byte(0xFF); // position 2, kv head 1, column 3
  fp8.valueHead(0, 3, 1)[9] = std::byte(0x7F); // position 3, kv head 1, column 9
  std::vector<float> out = attend(c, fp8, false, q, k, v, len - 1, len, table);
  const int64_t group = c.heads / c.kvHeads;
  for (int64_t h = 0; h < c.heads; ++h)
    for (int64_t d = 0; d < c.headDim; ++d)
      EXPECT_EQ(std::isnan(out[h * c.headDim + d]), h / group == 1 && (d == 3 || d == 9))
          << h << " " << d;
}

// The rope prologue rotates, then the row is encoded: the cache holds encode(rotated k), the
// rotation's bits being the f32 cache's.
TEST(KVAttentionTest, RopeRowsAreRotatedThenEncoded) {
  AttentionCase c;
  const int len = 9;
  auto [q, k, v] = randomQkv(c, len, 4, 2.0f, 3.0f, 1.0f);
  const std::vector<int32_t> table{1, 0, 2};
  PagedKVCache f32(1, c.kvHeads, c.headDim, 3, c.blockSize, false, KVCacheDtype::F32);
  attend(c, f32, true, q, k, v, 0, len, table);
  for (KVCacheDtype d : {KVCacheDtype::BF16, KVCacheDtype::Fp8E4M3}) {
    PagedKVCache quant(1, c.kvHeads, c.headDim, 3, c.blockSize, false, d);
    attend(c, quant, true, q, k, v, 0, len, table);
    std::vector<std::byte> want(kvc::headBytes(d, c.headDim));
    for (int pos = 0; pos < len; ++pos)
      for (int h = 0; h < c.kvHeads; ++h) {
        const int64_t slot = int64_t(table[pos / c.blockSize]) * c.blockSize + pos % c.blockSize;
        kvc::encodeHead(d, f32.key(0, slot, h), want.data(), c.headDim);
        EXPECT_EQ(std::memcmp(quant.keyHead(0, slot, h), want.data(), want.size()), 0) << slot;
        kvc::encodeHead(d, f32.value(0, slot, h), want.data(), c.headDim);
        EXPECT_EQ(std::memcmp(quant.valueHead(0, slot, h), want.data(), want.size()), 0) << slot;
      }
  }
}

// --- The executor's dtype ---------------------------------------------------------------------

std::unique_ptr<LoadedPlan> kvPlan(fb::DType dtype, const test::TempDir &dir) {
  test::TPlan p = test::tinyPlan(11, 8);
  p.kvLayers = 2;
  p.kvHeads = 1;
  p.headDim = 4;
  p.kvDtype = dtype;
  return LoadedPlan::load(test::writePlan(p, dir.path()).plan.string());
}

TEST(KVDtypeExecutorTest, ThePlanChoosesAndTheOptionOverrides) {
  test::TempDir dir;
  for (auto [planDtype, want] : {std::pair{fb::DType::F32, KVCacheDtype::F32},
                                 {fb::DType::BF16, KVCacheDtype::BF16},
                                 {fb::DType::FP8_E4M3, KVCacheDtype::Fp8E4M3}}) {
    auto plan = kvPlan(planDtype, dir);
    EXPECT_EQ(Executor(*plan).kvCache().dtype(), want);
    for (KVCacheDtype d : kAllDtypes)
      EXPECT_EQ(Executor(*plan, ExecutorOptions{.kvCacheDtype = d}).kvCache().dtype(), d);
  }
}

TEST(KVDtypeExecutorTest, RefusesADtypeTheBackendLacks) {
  test::TempDir dir;
  auto plan = kvPlan(fb::DType::F16, dir);
  expectError([&] { Executor ex(*plan); }, "KV cache dtype F16 is not supported by the CPU "
                                           "backend, expected F32, BF16 or FP8_E4M3");
  expectError([&] { Engine e(*plan, EngineConfig{.kvCacheBlocks = 0, .kvCacheMemory = 1 << 20}); },
              "KV cache dtype F16");
  // An override runs it.
  EXPECT_EQ(Executor(*plan, ExecutorOptions{.kvCacheDtype = KVCacheDtype::BF16}).kvCache().dtype(),
            KVCacheDtype::BF16);
  auto q8 = kvPlan(fb::DType::Q8_0, dir);
  expectError([&] { Executor ex(*q8); }, "KV cache dtype Q8_0");
}

// The memory budget buys blocks of the chosen dtype: 2 layers x (K + V) x 16 positions x a row of
// 4 values: 1024 bytes (f32), 512 (bf16), 2 x 2 x 16 x (4 + 4) = 512 (fp8 with its one scale).
TEST(KVDtypeExecutorTest, BudgetBuysBlocksOfTheDtype) {
  test::TempDir dir;
  auto plan = kvPlan(fb::DType::F32, dir);
  EngineConfig c;
  c.kvCacheMemory = 10 * 1024 + 100;
  EXPECT_EQ(Engine(*plan, c).numKvBlocks(), 10);
  c.kvCacheDtype = KVCacheDtype::BF16;
  EXPECT_EQ(Engine(*plan, c).numKvBlocks(), 20);
  c.kvCacheDtype = KVCacheDtype::Fp8E4M3;
  Engine fp8(*plan, c);
  EXPECT_EQ(fp8.numKvBlocks(), 20);
  EXPECT_EQ(fp8.executor().kvCache().bytes(), 20 * 512);
  auto bf16Plan = kvPlan(fb::DType::BF16, dir);
  EXPECT_EQ(Engine(*bf16Plan, EngineConfig{.kvCacheMemory = 10 * 1024 + 100}).numKvBlocks(), 20);
}

// --- --kv-cache-dtype ------------------------------------------------------------------------

std::optional<KVCacheDtype> parseFlag(std::vector<std::string> args) {
  CLI::App app;
  std::optional<KVCacheDtype> d = KVCacheDtype::Fp8E4M3; // overwritten by the option, if given
  tools::addKVCacheDtypeOption(&app, d);
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  app.parse(reversed);
  return d;
}

TEST(KVDtypeOptionTest, ParsesTheFlag) {
  EXPECT_EQ(parseFlag({"--kv-cache-dtype", "auto"}), std::nullopt);
  EXPECT_EQ(parseFlag({"--kv-cache-dtype", "f32"}), KVCacheDtype::F32);
  EXPECT_EQ(parseFlag({"--kv-cache-dtype=bf16"}), KVCacheDtype::BF16);
  EXPECT_EQ(parseFlag({"--kv-cache-dtype", "fp8_e4m3"}), KVCacheDtype::Fp8E4M3);
  EXPECT_EQ(parseFlag({"--kv-cache-dtype", "fp8"}), KVCacheDtype::Fp8E4M3);
  EXPECT_EQ(parseFlag({}), KVCacheDtype::Fp8E4M3); // untouched when absent
  try {
    parseFlag({"--kv-cache-dtype", "fp16"});
    ADD_FAILURE() << "fp16 accepted";
  } catch (const CLI::ValidationError &e) {
    EXPECT_NE(std::string(e.what()).find("expected auto (the plan's), f32, bf16 or fp8_e4m3"),
              std::string::npos)
        << e.what();
  }
  expectError([] { parseKVCacheDtype("auto"); }, "expected f32, bf16 or fp8_e4m3");
  EXPECT_EQ(planDType(parseKVCacheDtype("fp8_e4m3")), fb::DType::FP8_E4M3);
}

} // namespace
} // namespace llmrt
