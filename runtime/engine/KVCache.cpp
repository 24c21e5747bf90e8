#include "engine/KVCache.h"

#include "support/Error.h"

namespace llmrt {

KVCache::KVCache(int numLayers, int numKvHeads, int headDim, int capacity)
    : numLayers_(numLayers), numKvHeads_(numKvHeads), headDim_(headDim),
      rowWidth_(numKvHeads * headDim), capacity_(capacity) {
  if (numLayers < 0 || numKvHeads < 0 || headDim < 0 || capacity <= 0)
    llm::fail("KV cache: invalid shape ({} layers, {} kv heads, head dim {}, {} positions)",
              numLayers, numKvHeads, headDim, capacity);
  size_t elems = static_cast<size_t>(numLayers) * capacity * rowWidth_;
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
