// Quantized weight formats: the block layouts a plan's quantized weights are stored in, and their
// reference quantizers and dequantizers. Shared by llmc (which quantizes or copies blocks when it
// writes a plan) and llmrt (whose kernels read the blocks), so both agree on every byte.
//
// Every format splits each weight row (K elements, K a multiple of the format's block size: 32, or
// 256 for the k-quants) into blocks and stores a row as consecutive blocks; rows follow each other
// ("row_blocks" layout). The blocks of q8_0, q4_0, q4_1 and the k-quants are bit-for-bit those of
// ggml / GGUF:
//   q8_0: {f16 d; int8 q[32]}                    x = d * q
//   q4_0: {f16 d; u8 qs[16]}                     x = d * (q - 8)
//   q4_1: {f16 d; f16 m; u8 qs[16]}              x = d * q + m
// with element i < 16 in the low nibble of qs[i] and element 16 + i in its high nibble.
//   q5_0: {f16 d; u8 qh[4]; u8 qs[16]}               x = d * (q - 16)
//   q5_1: {f16 d; f16 m; u8 qh[4]; u8 qs[16]}        x = d * q + m
// q5 nibbles as q4's, plus the 5th bit of element i (0..31) in bit i of qh (read as a
// little-endian uint32). llama.cpp stores them for rows that are not whole 256-element super-blocks
// (a Q4_K_M file of a model with hidden size 576), so they are the bulk of such files.
//   w8 (int8 per output channel): a row is {f32 d; int8 q[K]}, x = d * q, d = max|row| / 127
// (its blocks are the row's 32-element runs of q, after the row's scale).
// The k-quants (ggml's block_q4_K, block_q5_K, block_q6_K) hold 256 elements per super-block, in
// 32-element sub-blocks j = 0..7 (q6_k: scales per 16 elements):
//   q4_k: {f16 d; f16 dmin; u8 scales[12]; u8 qs[128]}          x = (d * sc_j) * q - dmin * m_j
//   q5_k: {f16 d; f16 dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]} the same, q has 5 bits
//   q6_k: {u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d}         x = (d * sc_k) * (q - 32)
// with sc_j, m_j the 6-bit pairs of ggml's get_scale_min_k4 (kScaleMin below). The k-quants have no
// quantizer here (gguf.quants only dequantizes them): they are kept from GGUF files.
// int4 group-wise (G = 32, 64 or 128 elements per group; rows of whole groups), one group per
// block, the group's scale (and zero) in front of its nibbles:
//   w4gG:  {f16 d; u8 zero (= 8); u8 pad; u8 qs[G / 2]}   x = d * (q - 8)          (symmetric)
//   w4gGa: {f16 d; u8 zero;       u8 pad; u8 qs[G / 2]}   x = d * (q - zero)       (asymmetric)
// q in 0..15, zero in 0..15; within a group, each 32-element run r has its 16 nibble bytes at
// qs[16 r ...] in q4_0's order (element i < 16 low nibble, 16 + i high nibble). The asymmetric form
// (an f16 scale and an integer zero point per group) is the one GPTQ and AWQ checkpoints store, so
// their tensors map onto it without requantizing. Symmetric blocks store zero = 8 too, so one
// kernel serves both.
// NOTE: scales interleaved with the nibbles (not a row's scales first): the kernels walk each
// row's groups in order, one 32-element activation block at a time, so every weight row is one
// sequential stream and a group's scale arrives in the cache line of its nibbles; the 4-byte
// header keeps the nibbles 2-byte aligned and makes a group 20 / 36 / 68 bytes (4.5 to 5 bits
// per weight).
// The quantizers are AWQ's pseudo_quantize_tensor (llm-awq / AutoAWQ) round to nearest, with the
// scale rounded to f16 before q is computed (so q is exact for the stored scale):
//   symmetric:  d = f16(max|x| / 7);                         q = clamp(rne(x / d), -8, 7) + 8
//   asymmetric: d = f16(max(max x - min x, 1e-5) / 15); zero = clamp(-rne(min x / d), 0, 15);
//               q = clamp(rne(x / d) + zero, 0, 15)
// (rne: round half to even, as torch.round; d = 0 gives q = 8). tools/fixtures/make_w4_fp8_fixtures.py
// is the reference (torch), and these functions match it bit for bit (tested).
//   fp8 (e4m3fn per output channel): a row is {f32 s; u8 code[K]}, x = s * e4m3(code),
// s = max|row| / 448 (1 for an all-zero row), code = e4m3fn(clamp(x / s, -448, 448)) rounded to
// nearest even (torch's float8_e4m3fn cast; saturating as vLLM's fp8 quantization does). Its
// blocks, as w8's, are the row's 32-element runs of codes after the scale.
// NOTE: the quantizers and dequantizers reproduce the `gguf` Python package (gguf.quants) bit for
// bit, which reproduces ggml's reference code; QuantFormat.cpp is compiled without FMA contraction
// for that reason.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace llm::quant {

enum class Scheme : uint8_t {
  Q8_0,
  Q4_0,
  Q4_1,
  W8,
  Q4_K,
  Q5_K,
  Q6_K,
  W4G32,
  W4G64,
  W4G128,
  W4G32A,
  W4G64A,
  W4G128A,
  FP8,
  Q5_0,
  Q5_1
};

// The activation block size of every kernel, and the block size of q8_0, q4_0, q4_1 and w8.
inline constexpr int64_t kBlockElems = 32;
// The super-block size of the k-quants.
inline constexpr int64_t kSuperBlockElems = 256;
// The plan layouts of quantized weights (WeightEntry.layout, kplan.weight's layout): every
// format has row_blocks; q8_0, q4_0, q4_1, q5_0, q5_1, the k-quants and w4g* also have
// rows8_blocks (see "Tiles" below).
inline constexpr std::string_view kRowBlocksLayout = "row_blocks";
inline constexpr std::string_view kRows8Layout = "rows8_blocks";
enum class Layout : uint8_t { RowBlocks, Rows8 };

struct BlockQ8_0 {
  uint16_t d;
  int8_t q[32];
};
struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[16];
};
struct BlockQ4_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qs[16];
};
struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qs[128];
};
struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qh[32];
  uint8_t qs[128];
};
struct BlockQ6_K {
  uint8_t ql[128];
  uint8_t qh[64];
  int8_t scales[16];
  uint16_t d;
};
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[16];
};
struct BlockQ5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[16];
};
static_assert(sizeof(BlockQ8_0) == 34 && sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22 && sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ4_K) == 144 && sizeof(BlockQ5_K) == 176 && sizeof(BlockQ6_K) == 210);
// The header of an int4 group (w4g*): its nibbles follow, G / 2 bytes.
struct W4GroupHeader {
  uint16_t d;
  uint8_t zero;
  uint8_t pad; // 0
};
static_assert(sizeof(W4GroupHeader) == 4);

// Sub-block j's (j < 8) 6-bit scale and min of a q4_k / q5_k super-block (get_scale_min_k4).
struct ScaleMin {
  uint8_t scale, min;
};
inline ScaleMin kScaleMin(const uint8_t scales[12], int j) {
  if (j < 4)
    return {static_cast<uint8_t>(scales[j] & 63), static_cast<uint8_t>(scales[j + 4] & 63)};
  return {static_cast<uint8_t>((scales[j + 4] & 0x0f) | ((scales[j - 4] >> 6) << 4)),
          static_cast<uint8_t>((scales[j + 4] >> 4) | ((scales[j] >> 6) << 4))};
}
// The 32 quants (0..15 or 0..31) of sub-block j of a q4_k / q5_k super-block, and the 32 quants
// (0..63, before subtracting 32) of sub-block j of a q6_k one.
void kQuants(const BlockQ4_K &b, int j, uint8_t q[32]);
void kQuants(const BlockQ5_K &b, int j, uint8_t q[32]);
void kQuants(const BlockQ6_K &b, int j, uint8_t q[32]);
// The 32 quants (0..31) of a q5_0 / q5_1 block: nibble of qs plus bit i of qh as 16.
void q5Quants(const uint8_t qh[4], const uint8_t qs[16], uint8_t q[32]);

// "q8_0" | "q4_0" | "q4_1" | "w8" | "q4_k" | "q5_k" | "q6_k" | "w4g32" | "w4g64" | "w4g128" |
// "w4g32a" | "w4g64a" | "w4g128a" | "fp8" | "q5_0" | "q5_1" (the names of --quant, the `quant`
// attribute and `weight_format`).
std::string_view schemeName(Scheme s);
std::optional<Scheme> parseScheme(std::string_view name);
// All schemes, and the ones quantize() / quantizeRows() can write (not the k-quants).
inline constexpr Scheme kAllSchemes[] = {
    Scheme::Q8_0,  Scheme::Q4_0,   Scheme::Q4_1,  Scheme::W8,    Scheme::Q4_K,
    Scheme::Q5_K,  Scheme::Q6_K,   Scheme::W4G32, Scheme::W4G64, Scheme::W4G128,
    Scheme::W4G32A, Scheme::W4G64A, Scheme::W4G128A, Scheme::FP8, Scheme::Q5_0, Scheme::Q5_1};
bool hasQuantizer(Scheme s);
// int4 group-wise (w4g*): the group size (32, 64, 128), and whether zeros are per group (the
// `a` forms); 0 / false for other schemes.
int64_t w4GroupElems(Scheme s);
bool w4Asymmetric(Scheme s);
// Elements per block: 32; 256 for the k-quants; the group size for w4g*. A row's length must be
// a multiple of it.
int64_t blockElems(Scheme s);
// Bytes of one block (w8, fp8: of one 32-element run of their values only).
size_t blockBytes(Scheme s);
// Bytes of a row of cols elements, and where its first block starts (w8, fp8: after the scale).
uint64_t rowBytes(Scheme s, int64_t cols);
size_t rowHeaderBytes(Scheme s);
// Bytes of a rows x cols weight; cols must be a multiple of blockElems(s).
uint64_t tensorBytes(Scheme s, int64_t rows, int64_t cols);
// llm::Error naming `what` unless rows of cols elements are whole blocks of s.
void checkRowLength(Scheme s, int64_t cols, std::string_view what);

// Tiles: the rows8_blocks layout, the CPU kernels' preferred layout for q8_0, q4_0, q4_1, q5_0,
// q5_1, q4_k, q5_k, q6_k and the int4 group formats w4g32 .. w4g128a (llmc repacks at compile
// time; the bytes are a permutation of row_blocks, the size is the same). Rows go in groups of
// kTileRows = 8 (the row count must be a multiple of 8); a group stores one tile per block
// position b, in order, and tile b holds block b (w4g*: group b; k-quants: super-block b) of the
// group's 8 rows r = 0..7:
//   the 8 scales d (f16; at 2 r), q4_1, q5_1: then the 8 mins m (f16; at 16 + 2 r), q4_k, q5_k:
//   then the 8 dmin (f16; at 16 + 2 r) and the 12 packed 6-bit scale bytes, byte f of row r at
//   32 + 8 f + r, q6_k: then its 16 int8 scales, scale f of row r at 16 + 8 f + r, w4g*: then
//   the 8 zeros (u8; at 16 + r) and the 8 pad bytes (0; at 24 + r), then the quants in 4-byte
//   chunks: chunk c holds bytes 4 c .. 4 c + 3 of row r's qs (q4, w4g*, q4_k), q (q8_0), qh then
//   qs (q5, q5_k) or ql then qh (q6_k) at H + 32 c + 4 r, H = 16 (q8_0, q4_0, q5_0), 32 (q4_1,
//   q5_1, w4g*), 128 (q4_k, q5_k) or 144 (q6_k) (4 chunks for q4, 8 for q8_0, 5 for q5, G / 8
//   for w4g*, 32 for q4_k, 40 for q5_k, 48 for q6_k).
// So one 32-byte load gives 4 quant bytes of each of 8 rows, and one 16-byte load 8 scales: an
// AVX2 kernel computes the 8 rows' dot products in the 8 lanes of a register, with no horizontal
// sums and no scale gathers (QuantDot.h). A w4g* group's 32-element run j is chunks 4 j .. 4 j + 3,
// laid out as a q4_0 tile's quants. A q5 tile's chunk 0 holds the 8 rows' qh words (row r's
// uint32 at H + 4 r) and chunks 1 .. 4 its nibbles, laid out as a q4_0 tile's quants. A q4_k
// tile's chunks 8 p .. 8 p + 7 are qs bytes 32 p .. 32 p + 31 of each row: their low nibbles are
// sub-block 2 p, their high nibbles sub-block 2 p + 1, 4 elements per chunk; a q5_k tile's chunks
// 0 .. 7 hold its qh bytes (bit j of byte i: the 5th bit of element i of sub-block j), chunks
// 8 .. 39 its qs as q4_k's; a q6_k tile's chunks 0 .. 31 its ql bytes and 32 .. 47 its qh bytes.
// The 8 rows' scale bytes side by side unpack into the 8 rows' 6-bit scales and mins with a few
// vector operations. Each row's arithmetic is that of row_blocks.
inline constexpr int64_t kTileRows = 8;
bool hasRows8Layout(Scheme s);
// The schemes hasRows8Layout accepts, for error messages (kept beside it: one list to extend).
inline constexpr std::string_view kRows8Schemes =
    "q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k, w4g32 .. w4g128a";
// std::nullopt for a name that is neither layout.
std::optional<Layout> parseLayout(std::string_view name);
std::string_view layoutName(Layout l);
// Bytes of one tile (8 blocks; w4g*: 8 groups) of a rows8_blocks scheme.
inline size_t tileBytes(Scheme s) { return kTileRows * blockBytes(s); }
// rows x cols elements of s (rows a multiple of 8) from row_blocks into rows8_blocks, and back.
void toRows8(Scheme s, const uint8_t *rowBlocks, int64_t rows, int64_t cols, uint8_t *out);
void fromRows8(Scheme s, const uint8_t *rows8, int64_t rows, int64_t cols, uint8_t *out);
// Row `row` of a rows8_blocks tensor whose rows hold cols elements, as row_blocks bytes
// (rowBytes(s, cols) of them).
void rowFromRows8(Scheme s, const uint8_t *rows8, int64_t cols, int64_t row, uint8_t *out);

// IEEE half <-> float. floatToHalf rounds to nearest even, as numpy's astype(float16) does.
float halfToFloat(uint16_t h);
uint16_t floatToHalf(float f);
// float8 e4m3fn <-> float. fp8FromFloat rounds to nearest even and saturates at +-448 (NaN gives
// 0x7f with the sign). fp8ToFloat is exact for every code but 0x7f / 0xff (NaN), which it reads
// as +-480 (the kernels' bit decoding; llmc never writes them): see QuantDot.h.
uint8_t fp8FromFloat(float f);
float fp8ToFloat(uint8_t code);

// Quantizes rows x cols floats (cols a multiple of 32) into rowBytes(s, cols) bytes per row;
// llm::Error for a scheme without a quantizer.
void quantizeRows(Scheme s, const float *x, int64_t rows, int64_t cols, uint8_t *out);
// Dequantizes rows x cols elements.
void dequantizeRows(Scheme s, const uint8_t *in, int64_t rows, int64_t cols, float *out);
// The same for one run of n elements (a multiple of blockElems(s)) of a block format (not w8,
// whose scale belongs to a whole row): n / blockElems(s) blocks.
void quantize(Scheme s, const float *x, int64_t n, uint8_t *out);
void dequantize(Scheme s, const uint8_t *in, int64_t n, float *out);

} // namespace llm::quant
