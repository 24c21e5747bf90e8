// The paged KV cache's memory: for every layer, num_blocks blocks of block_size key rows and as
// many value rows. The block pool (BlockPool, KVCacheManager) decides which block holds what; this
// class only stores rows and copies blocks.
//
// Layout: K and V are each [num_layers][num_blocks][num_kv_heads][block_size] head rows; a head
// row is one token's head_dim values of one kv head in the cache's dtype (f32, bf16, or fp8 e4m3
// codes followed by the head's f32 scale: kvconvert::headBytes, backends/cpu/KVConvert.h). A slot
// is block * block_size + offset; within a layer, slot s of kv head h is head row
// headRow(s) + h * block_size. Attention works on one kv head at a time, and head-major blocks make
// a head's rows of a block one run of memory (block_size x head_dim values; a single-sequence
// cache is one block, so a whole layer's head is one run): hardware prefetchers stream it, where
// token-major rows (all heads of a token together) made every head's read strided, and decode
// attention ran 1.7x slower on such rows (README "KV cache layout"). bf16 rows take half the bytes
// of f32 rows, fp8 rows a quarter plus 4 bytes per head, so a memory budget holds 2x / ~3.8x the
// blocks.
//
// NOTE: the memory is anonymous and zero, in 2 MiB transparent huge pages where the system allows
// them (attention streams it every step: decode attention ran 1.10x faster than on 4 KiB pages).
// The OS hands pages out lazily: they cost nothing until a block in them is written (a 2 MiB page
// at a time), so a budget sized for the worst case does not commit memory up front. A server
// wants the opposite (prefault): every page touched at start, so the memory is committed before
// the first request (a shortage shows at start-up, not as an OOM kill under load) and no step pays
// page faults.
#pragma once

#include "plan/KVCacheDtype.h"
#include "support/PageMemory.h"

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
  int64_t headBytes() const { return headBytes_; } // one head row in the cache's dtype
  int64_t rowBytes() const { return headBytes_ * numKvHeads_; } // one token's K (or V), all heads
  int64_t bytes() const { return 2 * numSlots() * numLayers_ * rowBytes(); }

  // Within a layer: the index of slot's head row of kv head 0 (kv head h: + h * blockSize()).
  int64_t headRow(int64_t slot) const {
    return slot / blockSize_ * (int64_t(numKvHeads_) * blockSize_) + slot % blockSize_;
  }
  // A head row of any dtype (its format: kvconvert, backends/cpu/KVConvert.h). headRow(0) is 0,
  // so keyHead(layer, s, h) = keyHead(layer, 0, h) + headRow(s) * headBytes() (attention walks a
  // kv head's rows that way).
  std::byte *keyHead(int layer, int64_t slot, int head) {
    return k_.data() + index(layer, slot, head);
  }
  std::byte *valueHead(int layer, int64_t slot, int head) {
    return v_.data() + index(layer, slot, head);
  }
  const std::byte *keyHead(int layer, int64_t slot, int head) const {
    return k_.data() + index(layer, slot, head);
  }
  const std::byte *valueHead(int layer, int64_t slot, int head) const {
    return v_.data() + index(layer, slot, head);
  }
  // The head rows of an f32 cache as floats.
  float *key(int layer, int64_t slot, int head) { return floats(keyHead(layer, slot, head)); }
  float *value(int layer, int64_t slot, int head) { return floats(valueHead(layer, slot, head)); }
  const float *key(int layer, int64_t slot, int head) const {
    return floats(keyHead(layer, slot, head));
  }
  const float *value(int layer, int64_t slot, int head) const {
    return floats(valueHead(layer, slot, head));
  }

  // Copies every layer's K and V rows of block src into block dst (copy-on-write).
  // Throws llm::Error when a block id is out of range.
  void copyBlock(int32_t src, int32_t dst);

private:
  size_t layerIndex(int layer) const {
    return static_cast<size_t>(layer) * size_t(numSlots()) * size_t(rowBytes());
  }
  size_t index(int layer, int64_t slot, int head) const {
    return layerIndex(layer) +
           static_cast<size_t>(headRow(slot) + int64_t(head) * blockSize_) * size_t(headBytes_);
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
  int64_t headBytes_ = 0;
  llm::PageMemory k_, v_; // in huge pages where the system allows (support/PageMemory.h)
};

// The memory a KV cache may take when the user gives no byte budget: `fraction` of the memory the
// OS reports available (MemAvailable in /proc/meminfo). Throws llm::Error when it cannot be read
// or the fraction is outside (0, 1].
int64_t availableMemoryBudget(double fraction);

} // namespace llmrt
