// The paged KV cache's memory: for every layer, num_blocks blocks of block_size key rows and as
// many value rows. The block pool (BlockPool, KVCacheManager) decides which block holds what; this
// class only stores rows and copies blocks.
//
// Layout: K and V are each [num_layers][num_blocks][block_size] rows; a row is num_kv_heads *
// head_dim values in the cache's dtype (f32, bf16, or fp8 e4m3 codes followed by one f32 scale per
// kv head: kvconvert::rowBytes, backends/cpu/KVConvert.h). A slot is block * block_size + offset,
// so one layer's rows are indexed by slot alone, and the rows of one block are contiguous (decode
// attention reads a block as one run of memory). bf16 rows take half the bytes of f32 rows, fp8
// rows a quarter plus 4 bytes per kv head, so a memory budget holds 2x / ~3.8x the blocks.
//
// NOTE: the memory is calloc'd: pages the OS hands out lazily cost nothing until a block is
// written, so a budget sized for the worst case does not commit memory up front. A server wants
// the opposite (prefault): every page touched at start, so the memory is committed before the
// first request (a shortage shows at start-up, not as an OOM kill under load) and no step pays
// page faults.
#pragma once

#include "plan/KVCacheDtype.h"

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace llmrt {

class PagedKVCache {
public:
  // Throws llm::Error when a dimension is out of range or the memory cannot be had.
  PagedKVCache(int64_t numLayers, int64_t numKvHeads, int64_t headDim, int64_t numBlocks,
               int64_t blockSize, bool prefault = false,
               KVCacheDtype dtype = KVCacheDtype::F32);

  // Bytes of K and V for one block over all layers (what a memory budget is divided by).
  static int64_t bytesPerBlock(int64_t numLayers, int64_t numKvHeads, int64_t headDim,
                               int64_t blockSize, KVCacheDtype dtype = KVCacheDtype::F32);

  int numLayers() const { return numLayers_; }
  int numKvHeads() const { return numKvHeads_; }
  int headDim() const { return headDim_; }
  int rowWidth() const { return rowWidth_; } // num_kv_heads * head_dim
  int numBlocks() const { return numBlocks_; }
  int blockSize() const { return blockSize_; }
  int64_t numSlots() const { return int64_t(numBlocks_) * blockSize_; }
  KVCacheDtype dtype() const { return dtype_; }
  int64_t rowBytes() const { return rowBytes_; } // one K (or V) row in the cache's dtype
  int64_t bytes() const { return 2 * numSlots() * numLayers_ * rowBytes_; }

  // A row of any dtype (its format: kvconvert, backends/cpu/KVConvert.h).
  std::byte *keyRow(int layer, int64_t slot) { return k_.get() + index(layer, slot); }
  std::byte *valueRow(int layer, int64_t slot) { return v_.get() + index(layer, slot); }
  const std::byte *keyRow(int layer, int64_t slot) const { return k_.get() + index(layer, slot); }
  const std::byte *valueRow(int layer, int64_t slot) const { return v_.get() + index(layer, slot); }

  // The rows of an f32 cache as floats.
  float *key(int layer, int64_t slot) { return floats(keyRow(layer, slot)); }
  float *value(int layer, int64_t slot) { return floats(valueRow(layer, slot)); }
  const float *key(int layer, int64_t slot) const { return floats(keyRow(layer, slot)); }
  const float *value(int layer, int64_t slot) const { return floats(valueRow(layer, slot)); }

  // Copies every layer's K and V rows of block src into block dst (copy-on-write).
  // Throws llm::Error when a block id is out of range.
  void copyBlock(int32_t src, int32_t dst);

private:
  struct FreeDeleter {
    void operator()(std::byte *p) const;
  };
  size_t index(int layer, int64_t slot) const {
    return (static_cast<size_t>(layer) * numSlots() + static_cast<size_t>(slot)) * rowBytes_;
  }
  float *floats(std::byte *row) const {
    assert(dtype_ == KVCacheDtype::F32);
    return reinterpret_cast<float *>(row);
  }
  const float *floats(const std::byte *row) const {
    assert(dtype_ == KVCacheDtype::F32);
    return reinterpret_cast<const float *>(row);
  }

  int numLayers_, numKvHeads_, headDim_, rowWidth_, numBlocks_, blockSize_;
  KVCacheDtype dtype_ = KVCacheDtype::F32;
  int64_t rowBytes_ = 0;
  std::unique_ptr<std::byte, FreeDeleter> k_, v_;
};

// The memory a KV cache may take when the user gives no byte budget: `fraction` of the memory the
// OS reports available (MemAvailable in /proc/meminfo). Throws llm::Error when it cannot be read
// or the fraction is outside (0, 1].
int64_t availableMemoryBudget(double fraction);

} // namespace llmrt
