// The KV cache of one sequence: a paged KV cache of a single block that holds every position, so
// a slot is the position itself.
//
// Layout: K and V are each [num_layers][capacity][num_kv_heads * head_dim] f32, contiguous (the
// PagedKVCache layout with one block). Attention kernels given no block tables treat their cache
// this way: slot = position, one sequence.
//
// Invariant: positions [0, length()) hold rows written by attention calls; rows at or past
// length() hold garbage (the memory is not cleared on reset).
#pragma once

#include "engine/PagedKVCache.h"

#include <cstdint>

namespace llmrt {

class KVCache : public PagedKVCache {
public:
  // Throws llm::Error when a dimension is out of range or the memory cannot be had.
  KVCache(int64_t numLayers, int64_t numKvHeads, int64_t headDim, int64_t capacity)
      : PagedKVCache(numLayers, numKvHeads, headDim, 1, capacity) {}

  int capacity() const { return blockSize(); } // positions per layer
  int length() const { return length_; }       // positions filled so far

  // Records that positions [0, newLength) are filled.
  void setLength(int newLength) { length_ = newLength; }
  // Forgets the sequence; the memory stays allocated for the next one.
  void reset() { length_ = 0; }

private:
  int length_ = 0;
};

} // namespace llmrt
