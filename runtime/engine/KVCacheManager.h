// The KV cache manager: per-request block tables over one block pool, prefix caching by chained
// block hashes, copy-on-write of shared blocks, transactional allocation for a step.
//
// Prefix caching: full blocks are named by hash(parent block's hash, the block's token ids, the
// request's cache salt); the first block's parent is the configured seed. A new request reuses the
// longest run of its leading full blocks that are cached — never the block holding its last token,
// since at least one token must be computed for logits to exist. A block is cached once it is full
// and computed (cacheComputedBlocks, after the step that computed it), and stays cached while free
// until allocate() takes it for new contents.
//
// Eviction order: free() releases a request's blocks tail first, so its tail blocks reach the free
// list first and are evicted first; the head of a prompt, the part most likely shared, lasts
// longest.
//
// Copy-on-write: fork() makes a child share all of its parent's blocks. A request that is about to
// write a position into a block other tables also hold (a partially filled shared tail) gets a
// fresh block and a BlockCopy{src, dst} that the executor must perform before the step.
//
// NOTE: allocateSlots() is transactional: it computes everything it needs first and changes
// nothing (pool, reference counts, hash map, free-list order, the request) unless it succeeds.
#pragma once

#include "engine/BlockPool.h"
#include "engine/Request.h"

#include <cstdint>
#include <span>
#include <vector>

namespace llmrt {

struct KVCacheConfig {
  int numBlocks = 0;  // the caller computes it from a memory budget
  int blockSize = 16; // positions per block
  bool enablePrefixCaching = true;
  BlockHash hashSeed = 0; // the first block's parent hash
};

// The executor copies every layer's K and V rows of block src into block dst before the step.
struct BlockCopy {
  BlockId src = -1, dst = -1;
  bool operator==(const BlockCopy &) const = default;
};

// Cached blocks found for a request's leading full blocks.
struct PrefixHit {
  std::vector<BlockId> blocks;
  int numTokens = 0; // blocks.size() * block_size
};

class KVCacheManager {
public:
  // Throws llm::Error on numBlocks < 1 or blockSize < 1.
  explicit KVCacheManager(KVCacheConfig config);

  int blockSize() const { return config_.blockSize; }
  int numBlocks() const { return pool_.numBlocks(); }
  int64_t capacityTokens() const { return int64_t(numBlocks()) * blockSize(); }
  bool prefixCachingEnabled() const { return config_.enablePrefixCaching; }

  // The cached prefix of a request that holds no blocks: changes no pool state (it fills the
  // request's block hashes). Empty when prefix caching is off.
  PrefixHit findCachedPrefix(Request &request);

  // Reserves slots for tokens [start, start + numNewTokens), start = numComputedTokens +
  // hit.numTokens (a hit only for a request that holds no blocks and has computed nothing). On
  // success appends the hit's blocks and the new blocks to the request's table, appends any
  // copy-on-write to `copies`, and returns true; the caller then counts the hit's tokens as
  // computed. On failure returns false and changes nothing, `copies` included.
  // The first allocation of a request (its admission) counts as a prefix-cache query.
  bool allocateSlots(Request &request, int numNewTokens, std::vector<BlockCopy> &copies,
                     const PrefixHit &hit = {});

  // Caches the request's full, computed blocks not cached yet. Call after the step that computed
  // them ran (so that no request reuses a block that is still being written).
  void cacheComputedBlocks(Request &request);

  // The child (holding no blocks) shares every block of the parent, and its block hashes.
  void fork(const Request &parent, Request &child);

  // Returns the request's blocks to the pool, tail first; cached blocks stay reusable.
  void free(Request &request);

  // Forgets every cached hash (e.g. after a weight reload).
  void resetPrefixCache() { pool_.resetCache(); }

  // The KV slot of a position: block_table[pos / block_size] * block_size + pos % block_size.
  int64_t slot(const Request &request, int position) const;

  // The chained block hash (XXH3-64 over the parent hash, the salt and the token ids).
  static BlockHash hashBlock(BlockHash parent, std::span<const int32_t> tokens, uint64_t salt);

  // --- Counters (plain getters for benchmarks and metrics).
  uint64_t prefixQueryTokens() const { return prefixQueryTokens_; } // tokens of admitted requests
  uint64_t prefixHitTokens() const { return prefixHitTokens_; }     // of those, found cached
  int numUsedBlocks() const { return pool_.numUsedBlocks(); }
  int numFreeBlocks() const { return pool_.numFreeBlocks(); }
  uint64_t numEvictions() const { return pool_.numEvictions(); }
  // Reserved slots not holding a token (nor reserved for one this step) / reserved slots; 0 when
  // no block is in use.
  double kvWaste() const;

  const BlockPool &pool() const { return pool_; }

private:
  void updateBlockHashes(Request &request) const;
  bool needsCopyOnWrite(const Request &request, int start, int numNewTokens) const;
  void markFilled(const Request &request, int start, int end);

  KVCacheConfig config_;
  BlockPool pool_;
  uint64_t prefixQueryTokens_ = 0;
  uint64_t prefixHitTokens_ = 0;
};

} // namespace llmrt
