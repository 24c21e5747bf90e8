// The KV cache of one sequence: for every layer, one key row and one value row per position.
//
// Layout: K and V are each [num_layers][capacity][num_kv_heads * head_dim] f32, contiguous. Kernels
// reach rows only through key()/value(), so a paged cache (block tables instead of one slab) can
// replace this class without touching them.
//
// Invariant: positions [0, length()) hold rows written by attention calls; rows at or past
// length() hold garbage (the memory is not cleared on reset).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>

namespace llmrt {

class KVCache {
public:
  // Throws llm::Error when a dimension is out of range or the memory cannot be had.
  KVCache(int64_t numLayers, int64_t numKvHeads, int64_t headDim, int64_t capacity);

  int numLayers() const { return numLayers_; }
  int numKvHeads() const { return numKvHeads_; }
  int headDim() const { return headDim_; }
  int rowWidth() const { return rowWidth_; } // num_kv_heads * head_dim
  int capacity() const { return capacity_; } // positions per layer
  int length() const { return length_; }     // positions filled so far

  float *key(int layer, int pos) { return k_.get() + index(layer, pos); }
  float *value(int layer, int pos) { return v_.get() + index(layer, pos); }
  const float *key(int layer, int pos) const { return k_.get() + index(layer, pos); }
  const float *value(int layer, int pos) const { return v_.get() + index(layer, pos); }

  // Records that positions [0, newLength) are filled (the executor calls it after a step).
  void setLength(int newLength) { length_ = newLength; }
  // Forgets the sequence; the memory stays allocated for the next one.
  void reset() { length_ = 0; }

private:
  struct FreeDeleter {
    void operator()(float *p) const { std::free(p); }
  };
  size_t index(int layer, int pos) const {
    return (static_cast<size_t>(layer) * capacity_ + pos) * rowWidth_;
  }

  int numLayers_, numKvHeads_, headDim_, rowWidth_, capacity_;
  int length_ = 0;
  std::unique_ptr<float, FreeDeleter> k_, v_;
};

} // namespace llmrt
