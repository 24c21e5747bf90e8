#include "engine/PagedKVCache.h"

#include "backends/cpu/KVConvert.h"
#include "support/AvailableMemory.h"
#include "support/Error.h"

#include <cstring>
#include <string>

namespace llmrt {

namespace {
// Each dimension, a row (kv heads x head dim) and a layer's slot count fit an int.
constexpr int64_t kMaxDim = int64_t{1} << 24;
constexpr int64_t kMaxSlots = int64_t{1} << 30;
} // namespace

int64_t PagedKVCache::bytesPerBlock(int64_t numLayers, int64_t numKvHeads, int64_t headDim,
                                    int64_t blockSize, KVCacheDtype dtype) {
  return 2 * numLayers * blockSize * numKvHeads * kvconvert::headBytes(dtype, headDim);
}

PagedKVCache::PagedKVCache(int64_t numLayers, int64_t numKvHeads, int64_t headDim,
                           int64_t numBlocks, int64_t blockSize, bool prefault,
                           KVCacheDtype dtype) {
  if (numLayers < 0 || numKvHeads < 0 || headDim < 0 || numBlocks <= 0 || blockSize <= 0 ||
      numLayers > kMaxDim || numKvHeads > kMaxDim || headDim > kMaxDim || blockSize > kMaxDim ||
      numKvHeads * headDim > kMaxDim || numBlocks > kMaxSlots / blockSize)
    llm::fail("KV cache: invalid shape ({} layers, {} kv heads, head dim {}, {} blocks of {} "
              "positions)",
              numLayers, numKvHeads, headDim, numBlocks, blockSize);
  numLayers_ = static_cast<int>(numLayers);
  numKvHeads_ = static_cast<int>(numKvHeads);
  headDim_ = static_cast<int>(headDim);
  rowWidth_ = static_cast<int>(numKvHeads * headDim);
  numBlocks_ = static_cast<int>(numBlocks);
  blockSize_ = static_cast<int>(blockSize);
  dtype_ = dtype;
  headBytes_ = kvconvert::headBytes(dtype, headDim);
  size_t bytes = 0;
  if (__builtin_mul_overflow(static_cast<size_t>(numLayers) * size_t(numSlots()),
                             size_t(rowBytes()), &bytes) ||
      bytes > SIZE_MAX / 2)
    llm::fail("KV cache: {} layers x {} slots x {} bytes does not fit in memory", numLayers,
              numSlots(), rowBytes());
  if (bytes == 0)
    return; // a plan without attention needs no cache
  try {
    k_ = llm::PageMemory::allocate(bytes, "KV cache keys");
    v_ = llm::PageMemory::allocate(bytes, "KV cache values");
  } catch (const llm::Error &e) {
    llm::fail("KV cache: cannot allocate 2 x {} bytes ({} layers x {} blocks of {} positions x {} "
              "bytes of {} values): {}",
              bytes, numLayers, numBlocks, blockSize, rowBytes(), kvCacheDtypeName(dtype),
              e.what());
  }
  // One write per 4 KiB page commits it, whether or not the system gave huge pages (volatile: a
  // compiler may drop a store of zero to memory it knows is zero).
  if (prefault)
    for (std::byte *buffer : {k_.data(), v_.data()})
      for (size_t at = 0; at < bytes; at += 4096)
        static_cast<volatile char *>(static_cast<void *>(buffer))[at] = 0;
}

void PagedKVCache::copyBlock(int32_t src, int32_t dst) {
  if (src < 0 || src >= numBlocks_ || dst < 0 || dst >= numBlocks_)
    llm::fail("KV cache: block copy {} -> {} names a block outside [0, {})", src, dst, numBlocks_);
  if (src == dst || !k_.data())
    return;
  // A block is one run of memory per layer: its kv heads' head rows.
  const size_t blockBytes = static_cast<size_t>(blockSize_) * size_t(rowBytes());
  for (int layer = 0; layer < numLayers_; ++layer) {
    std::memcpy(keyHead(layer, int64_t(dst) * blockSize_, 0),
                keyHead(layer, int64_t(src) * blockSize_, 0), blockBytes);
    std::memcpy(valueHead(layer, int64_t(dst) * blockSize_, 0),
                valueHead(layer, int64_t(src) * blockSize_, 0), blockBytes);
  }
}

int64_t availableMemoryBudget(double fraction) {
  if (!(fraction > 0 && fraction <= 1))
    llm::fail("KV cache memory fraction is {}, expected a number in (0, 1]", fraction);
  if (std::optional<uint64_t> bytes = llm::availableMemoryBytes())
    return static_cast<int64_t>(static_cast<double>(*bytes) * fraction);
  llm::fail("KV cache: cannot read MemAvailable from /proc/meminfo; give the KV cache a memory "
            "budget in bytes");
}

} // namespace llmrt
