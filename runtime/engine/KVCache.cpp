#include "engine/KVCache.h"

#include "support/Error.h"

#include <cstdint>

namespace llmrt {

namespace {
// Each dimension, and a row (kv heads x head dim), fits an int.
constexpr int64_t kMaxDim = int64_t{1} << 24;
} // namespace

KVCache::KVCache(int64_t numLayers, int64_t numKvHeads, int64_t headDim, int64_t capacity) {
  if (numLayers < 0 || numKvHeads < 0 || headDim < 0 || capacity <= 0 || numLayers > kMaxDim ||
      numKvHeads > kMaxDim || headDim > kMaxDim || capacity > kMaxDim ||
      numKvHeads * headDim > kMaxDim)
    llm::fail("KV cache: invalid shape ({} layers, {} kv heads, head dim {}, {} positions)",
              numLayers, numKvHeads, headDim, capacity);
  numLayers_ = static_cast<int>(numLayers);
  numKvHeads_ = static_cast<int>(numKvHeads);
  headDim_ = static_cast<int>(headDim);
  rowWidth_ = static_cast<int>(numKvHeads * headDim);
  capacity_ = static_cast<int>(capacity);
  size_t elems = 0;
  if (__builtin_mul_overflow(static_cast<size_t>(numLayers) * capacity, size_t(rowWidth_),
                             &elems) ||
      elems > (SIZE_MAX / 2) / sizeof(float))
    llm::fail("KV cache: {} layers x {} positions x {} floats does not fit in memory", numLayers,
              capacity, rowWidth_);
  if (elems == 0)
    return; // a plan without attention needs no cache
  // calloc: large blocks come zeroed from the OS lazily, so untouched positions cost no memory.
  k_.reset(static_cast<float *>(std::calloc(elems, sizeof(float))));
  v_.reset(static_cast<float *>(std::calloc(elems, sizeof(float))));
  if (!k_ || !v_)
    llm::fail("KV cache: cannot allocate 2 x {} bytes ({} layers x {} positions x {} floats)",
              elems * sizeof(float), numLayers, capacity, rowWidth_);
}

} // namespace llmrt
