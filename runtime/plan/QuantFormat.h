// Quantized weight formats: the block layouts a plan's quantized weights are stored in, and their
// reference quantizers and dequantizers. Shared by llmc (which quantizes or copies blocks when it
// writes a plan) and llmrt (whose kernels read the blocks), so both agree on every byte.
//
// Every format splits each weight row (K elements, K a multiple of 32) into blocks of 32 elements
// and stores a row as K / 32 consecutive blocks; rows follow each other ("row_blocks" layout). The
// blocks of q8_0, q4_0 and q4_1 are bit-for-bit those of ggml / GGUF:
//   q8_0: {f16 d; int8 q[32]}                    x = d * q
//   q4_0: {f16 d; u8 qs[16]}                     x = d * (q - 8)
//   q4_1: {f16 d; f16 m; u8 qs[16]}              x = d * q + m
// with element i < 16 in the low nibble of qs[i] and element 16 + i in its high nibble.
//   w8 (int8 per output channel): a row is {f32 d; int8 q[K]}, x = d * q, d = max|row| / 127
// (its blocks are the row's 32-element runs of q, after the row's scale).
// NOTE: the quantizers reproduce the `gguf` Python package (gguf.quants) bit for bit, which
// reproduces ggml's reference quantizers; QuantFormat.cpp is compiled without FMA contraction
// for that reason.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace llm::quant {

enum class Scheme : uint8_t { Q8_0, Q4_0, Q4_1, W8 };

inline constexpr int64_t kBlockElems = 32;
// The plan layout of every quantized weight (WeightEntry.layout, kplan.weight's layout).
inline constexpr std::string_view kRowBlocksLayout = "row_blocks";

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
static_assert(sizeof(BlockQ8_0) == 34 && sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20);

// "q8_0" | "q4_0" | "q4_1" | "w8" (the names of --quant, the `quant` attribute and
// `weight_format`).
std::string_view schemeName(Scheme s);
std::optional<Scheme> parseScheme(std::string_view name);
// Bytes of one 32-element block (w8: of its int8 values only).
size_t blockBytes(Scheme s);
// Bytes of a row of cols elements, and where its first block starts (w8: after the scale).
uint64_t rowBytes(Scheme s, int64_t cols);
size_t rowHeaderBytes(Scheme s);
// Bytes of a rows x cols weight; cols must be a multiple of 32.
uint64_t tensorBytes(Scheme s, int64_t rows, int64_t cols);

// IEEE half <-> float. floatToHalf rounds to nearest even, as numpy's astype(float16) does.
float halfToFloat(uint16_t h);
uint16_t floatToHalf(float f);

// Quantizes rows x cols floats (cols a multiple of 32) into rowBytes(s, cols) bytes per row.
void quantizeRows(Scheme s, const float *x, int64_t rows, int64_t cols, uint8_t *out);
// Dequantizes rows x cols elements.
void dequantizeRows(Scheme s, const uint8_t *in, int64_t rows, int64_t cols, float *out);
// The same for one run of n elements (a multiple of 32) of a block format (not w8, whose scale
// belongs to a whole row): n / 32 blocks.
void quantize(Scheme s, const float *x, int64_t n, uint8_t *out);
void dequantize(Scheme s, const uint8_t *in, int64_t n, float *out);

} // namespace llm::quant
