// The rows8 layout of float32 weight matrices (WeightEntry.layout / kplan.weight's layout
// "rows8"): the CPU float GEMV's and GEMM's preferred order, chosen by llm-select-kernels and
// written by emission; row_major is the other float layout.
//
// A matrix of R x C floats, R and C multiples of 8, is stored as R / 8 groups of 8 rows; group g
// holds C / 8 chunks, and chunk c holds columns [8c, 8c + 8) of rows 8g .. 8g + 7, row after row:
// element (r, col) is at (r / 8) * 8C + (col / 8) * 64 + (r % 8) * 8 + col % 8. The bytes are a
// permutation of row_major's, so a plan's size does not change.
//
// NOTE: why: a decode step reads every weight once, and the GEMV is bound by how fast a thread
// streams them. In row_major a thread's 8-row register tile reads 8 rows at once: 8 streams, 2.3 KB
// apart for the default model's 576 columns, which the hardware prefetchers follow poorly; in
// rows8 the same tile reads one contiguous stream (README "Float weights in tiles"). A kernel
// reading 8 floats of row r at column 8c finds them at the address above, so each dot keeps its
// order of operations and its bits: a rows8 plan gives the row_major plan's logits exactly.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace llm::floattiles {

inline constexpr std::string_view kRowMajorLayout = "row_major";
inline constexpr std::string_view kRows8Layout = "rows8";
// Rows per group, and columns per chunk.
inline constexpr int64_t kTileRows = 8;
inline constexpr int64_t kChunk = 8;

// Whether an R x C matrix can be stored rows8.
inline bool fitsRows8(int64_t rows, int64_t cols) {
  return rows > 0 && cols > 0 && rows % kTileRows == 0 && cols % kChunk == 0;
}

// Where row r starts (its first chunk), and the distance between its consecutive chunks, in
// floats.
inline int64_t rowStart(int64_t r, int64_t cols) {
  return (r / kTileRows) * kTileRows * cols + (r % kTileRows) * kChunk;
}
inline constexpr int64_t kChunkStride = kTileRows * kChunk;

// row_major -> rows8 (fitsRows8(rows, cols) holds).
inline void toRows8(const float *rowMajor, int64_t rows, int64_t cols, float *out) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; c += kChunk)
      std::memcpy(out + rowStart(r, cols) + (c / kChunk) * kChunkStride, rowMajor + r * cols + c,
                  kChunk * sizeof(float));
}

// Row r of a rows8 matrix, as cols contiguous floats.
inline void rowFromRows8(const float *rows8, int64_t cols, int64_t r, float *out) {
  const float *at = rows8 + rowStart(r, cols);
  for (int64_t c = 0; c < cols; c += kChunk, at += kChunkStride)
    std::memcpy(out + c, at, kChunk * sizeof(float));
}

// rows8 -> row_major.
inline void fromRows8(const float *rows8, int64_t rows, int64_t cols, float *rowMajor) {
  for (int64_t r = 0; r < rows; ++r)
    rowFromRows8(rows8, cols, r, rowMajor + r * cols);
}

} // namespace llm::floattiles
