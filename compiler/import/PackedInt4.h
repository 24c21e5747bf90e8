// Repacking of GPTQ and AWQ 4-bit linears into llmc's w4g{G}a rows (runtime/plan/QuantFormat.h),
// in integer form: the nibbles, zeros and f16 scales are moved, never recomputed, so the plan
// holds exactly the checkpoint's weights x = scale * (q - zero).
//
// A linear with in_features K, out_features N and groups of G input elements (K % G == 0,
// N % 8 == 0) stores, little-endian:
//   GPTQ (checkpoint_format gptq, "v1"):
//     qweight int32 [K / 8, N]: word (i, n) holds q(k = 8 i + j, n) in bits 4 j .. 4 j + 3
//       (low nibble first, eight consecutive input features per word);
//     qzeros  int32 [K / G, N / 8]: word (g, c) holds zero(g, n = 8 c + j) in bits 4 j, stored
//       as the whole word of (zero - 1) nibbles: adding 0x11111111 to the word (mod 2^32, carries
//       included) gives the zeros, 0..15 (the exact inverse of the v1 writer's word subtraction);
//     scales  f16 [K / G, N];
//     g_idx   int32 [K] (optional): group of input feature k; only the identity grouping
//       g_idx[k] = k / G is supported (act-order checkpoints permute it: refused).
//   AWQ (version gemm):
//     qweight int32 [K, N / 8]: word (k, c) holds q(k, n = 8 c + kAWQOrder[i]) in bits 4 i;
//     qzeros  int32 [K / G, N / 8]: the same order, zero(g, n) stored as is;
//     scales  f16 [K / G, N].
// Output: N rows (one per output feature) of K / G groups {f16 d; u8 zero; u8 0; G / 2 bytes},
// tensorBytes(W4G{G}A, N, K) bytes; symmetric GPTQ checkpoints come out with zero 8 everywhere.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace llmc {

// Output feature 8 c + kAWQOrder[i] sits in nibble i of an AWQ word.
inline constexpr int kAWQOrder[8] = {0, 2, 4, 6, 1, 3, 5, 7};

struct PackedInt4 {
  int64_t inFeatures = 0;  // K
  int64_t outFeatures = 0; // N
  int64_t groupSize = 0;   // G: 32, 64 or 128
  // Raw little-endian tensor bytes (not necessarily aligned); gIdx empty when absent.
  std::span<const uint8_t> qweight, qzeros, scales, gIdx;
};

// Write the w4g{G}a rows into `out` (tensorBytes(W4G{G}A, N, K) bytes). Throw llm::Error naming
// `what` (the linear) on a size mismatch or, for GPTQ, a g_idx that is not the identity grouping.
void repackGPTQv1(const PackedInt4 &t, std::span<uint8_t> out, std::string_view what);
void repackAWQGemm(const PackedInt4 &t, std::span<uint8_t> out, std::string_view what);

} // namespace llmc
