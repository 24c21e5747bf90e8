#include "engine/KVCacheManager.h"

#include "support/Error.h"

#include <xxhash.h>

#include <algorithm>
#include <cassert>
#include <cstring>
#include <limits>

namespace llmrt {
namespace {

int ceilDiv(int64_t a, int b) { return static_cast<int>((a + b - 1) / b); }

// Checked before the pool allocates its blocks.
const KVCacheConfig &checked(const KVCacheConfig &config) {
  if (config.numBlocks >= 1 && config.blockSize >= 1 &&
      int64_t(config.numBlocks) * config.blockSize > std::numeric_limits<int>::max())
    llm::fail("KV cache: {} blocks of {} positions exceed 2^31-1 positions", config.numBlocks,
              config.blockSize);
  return config;
}

} // namespace

KVCacheManager::KVCacheManager(KVCacheConfig config)
    : config_(checked(config)), pool_(config.numBlocks, config.blockSize) {}

BlockHash KVCacheManager::hashBlock(BlockHash parent, std::span<const int32_t> tokens,
                                    uint64_t salt) {
  // One contiguous buffer: parent, salt, then the token ids (at most a few hundred bytes).
  std::vector<unsigned char> bytes(2 * sizeof(uint64_t) + tokens.size_bytes());
  std::memcpy(bytes.data(), &parent, sizeof parent);
  std::memcpy(bytes.data() + sizeof parent, &salt, sizeof salt);
  if (!tokens.empty())
    std::memcpy(bytes.data() + 2 * sizeof(uint64_t), tokens.data(), tokens.size_bytes());
  return XXH3_64bits(bytes.data(), bytes.size());
}

void KVCacheManager::updateBlockHashes(Request &request) const {
  const int bs = blockSize();
  const size_t numFull = static_cast<size_t>(request.numTokens() / bs);
  std::span<const int32_t> tokens(request.tokens);
  for (size_t i = request.blockHashes.size(); i < numFull; ++i) {
    BlockHash parent = i == 0 ? config_.hashSeed : request.blockHashes[i - 1];
    request.blockHashes.push_back(hashBlock(parent, tokens.subspan(i * bs, bs), request.cacheSalt));
  }
}

PrefixHit KVCacheManager::findCachedPrefix(Request &request) {
  assert(request.blockTable.empty() && request.numComputedTokens == 0);
  PrefixHit hit;
  if (!config_.enablePrefixCaching || request.numTokens() == 0)
    return hit;
  updateBlockHashes(request);
  // NOTE: never the block holding the last token: at least one token is computed, so the step
  // yields logits.
  const size_t maxBlocks = static_cast<size_t>((request.numTokens() - 1) / blockSize());
  for (size_t i = 0; i < maxBlocks; ++i) {
    std::optional<BlockId> b = pool_.lookup(request.blockHashes[i]);
    if (!b)
      break;
    hit.blocks.push_back(*b);
  }
  hit.numTokens = static_cast<int>(hit.blocks.size()) * blockSize();
  return hit;
}

bool KVCacheManager::needsCopyOnWrite(const Request &request, int start, int numNewTokens) const {
  // Only a partially filled block can be written and shared at once: full blocks are never
  // written again, and a write at a block boundary starts a new block.
  if (numNewTokens == 0 || start % blockSize() == 0)
    return false;
  size_t index = static_cast<size_t>(start / blockSize());
  return index < request.blockTable.size() && pool_.refCount(request.blockTable[index]) > 1;
}

bool KVCacheManager::allocateSlots(Request &request, int numNewTokens,
                                   std::vector<BlockCopy> &copies, const PrefixHit &hit) {
  assert(numNewTokens >= 0);
  assert(hit.blocks.empty() || (request.blockTable.empty() && request.numComputedTokens == 0));
  const bool admission = request.blockTable.empty() && request.numComputedTokens == 0;
  const int start = request.numComputedTokens + hit.numTokens;
  const int end = start + numNewTokens;
  const int held = static_cast<int>(request.blockTable.size() + hit.blocks.size());
  const int newBlocks = std::max(0, ceilDiv(end, blockSize()) - held);
  const bool copyOnWrite = needsCopyOnWrite(request, start, numNewTokens);

  // Check: free hit blocks leave the free list when touched, so they are not free for new ones.
  int freeHits = 0;
  for (BlockId b : hit.blocks)
    freeHits += pool_.refCount(b) == 0;
  if (newBlocks + int(copyOnWrite) > pool_.numFreeBlocks() - freeHits)
    return false;

  // Act: nothing below can fail.
  for (BlockId b : hit.blocks) {
    pool_.touch(b);
    request.blockTable.push_back(b);
  }
  if (copyOnWrite) {
    BlockId &entry = request.blockTable[start / blockSize()];
    BlockId src = entry, dst = pool_.allocate();
    pool_.fillTo(dst, pool_.filledSlots(src));
    pool_.release(src); // still held by the other tables, so it stays off the free list
    entry = dst;
    copies.push_back({src, dst});
  }
  for (int i = 0; i < newBlocks; ++i)
    request.blockTable.push_back(pool_.allocate());
  markFilled(request, start, end);
  if (admission) {
    request.numCacheCheckedBlocks = static_cast<int>(hit.blocks.size());
    request.numCachedTokens = hit.numTokens;
    if (config_.enablePrefixCaching) {
      prefixQueryTokens_ += request.numTokens();
      prefixHitTokens_ += hit.numTokens;
    }
  }
  return true;
}

void KVCacheManager::markFilled(const Request &request, int start, int end) {
  const int bs = blockSize();
  for (int index = start / bs; index * bs < end; ++index)
    pool_.fillTo(request.blockTable[index], std::min(bs, end - index * bs));
}

void KVCacheManager::cacheComputedBlocks(Request &request) {
  if (!config_.enablePrefixCaching)
    return;
  updateBlockHashes(request);
  const int numFull = std::min<int>(request.numComputedTokens / blockSize(),
                                    static_cast<int>(request.blockTable.size()));
  for (int i = request.numCacheCheckedBlocks; i < numFull; ++i)
    pool_.cacheBlock(request.blockTable[i], request.blockHashes[i]);
  request.numCacheCheckedBlocks = std::max(request.numCacheCheckedBlocks, numFull);
}

void KVCacheManager::fork(const Request &parent, Request &child) {
  assert(child.blockTable.empty());
  for (BlockId b : parent.blockTable)
    pool_.touch(b);
  child.blockTable = parent.blockTable;
  child.blockHashes = parent.blockHashes;
  child.numCacheCheckedBlocks = parent.numCacheCheckedBlocks;
}

void KVCacheManager::free(Request &request) {
  // NOTE: tail first, so the tail reaches the free list first and is evicted first.
  for (auto it = request.blockTable.rbegin(); it != request.blockTable.rend(); ++it)
    pool_.release(*it);
  request.blockTable.clear();
  request.numCacheCheckedBlocks = 0;
}

int64_t KVCacheManager::slot(const Request &request, int position) const {
  const int bs = blockSize();
  assert(position >= 0 && static_cast<size_t>(position / bs) < request.blockTable.size());
  return int64_t(request.blockTable[position / bs]) * bs + position % bs;
}

double KVCacheManager::kvWaste() const {
  const int64_t reserved = int64_t(pool_.numUsedBlocks()) * blockSize();
  if (reserved == 0)
    return 0;
  return double(reserved - pool_.usedFilledSlots()) / double(reserved);
}

} // namespace llmrt
