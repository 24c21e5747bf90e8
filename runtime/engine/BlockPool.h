// The block pool: the paged KV cache's blocks as bookkeeping (ids, reference counts, cached
// hashes), never their memory. A block holds the K and V rows of block_size consecutive positions
// of one sequence in every layer; the executor owns the memory and addresses it by block id.
//
// A block is either used (reference count > 0: one or more requests' block tables hold it) or
// free. A free block may still be cached: it keeps the hash of its contents, so a later request
// with the same prefix can take it back (touch) instead of recomputing it. Free blocks form one
// list in eviction order: allocate() takes the head (least recently freed first) and drops its
// hash; release() appends at the tail.
//
// NOTE: invariants, checked by checkInvariants():
//  - a block is in the free list if and only if its reference count is 0;
//  - numFreeBlocks() + numUsedBlocks() == numBlocks();
//  - hash map[h] == b if and only if block b is cached with hash h (one block per hash);
//  - usedFilledSlots() is the sum of filledSlots(b) over used blocks.
// All operations are O(1) (average, for the hash map).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace llmrt {

using BlockId = int32_t;
using BlockHash = uint64_t;

class BlockPool {
public:
  // Throws llm::Error when numBlocks < 1 or numBlocks is too large; blockSize is only used for
  // the fill-count checks.
  BlockPool(int numBlocks, int blockSize);

  int numBlocks() const { return numBlocks_; }
  int blockSize() const { return blockSize_; }
  int numFreeBlocks() const { return numFree_; } // cached or not: what allocate() can take
  int numUsedBlocks() const { return numBlocks_ - numFree_; }
  int numCachedBlocks() const { return static_cast<int>(hashToBlock_.size()); }
  uint64_t numEvictions() const { return numEvictions_; } // cached blocks reused for new content

  int refCount(BlockId b) const { return blocks_[b].refCount; }
  std::optional<BlockHash> hashOf(BlockId b) const;
  // The cached block holding contents with this hash, used or free.
  std::optional<BlockId> lookup(BlockHash hash) const;

  // Takes the head of the free list for new contents: reference count 1, no hash (its map entry
  // is removed: the old contents will be overwritten), 0 filled slots. Precondition: a free block.
  BlockId allocate();
  // One more table holds b; a free (cached) block leaves the free list.
  void touch(BlockId b);
  // One table fewer holds b; at 0 it joins the free list's tail (evicted last) keeping its hash.
  void release(BlockId b);

  // Caches a full, computed block under hash. Returns false (and leaves b uncached) when another
  // block already holds that hash: one block per hash keeps eviction simple; b still works.
  bool cacheBlock(BlockId b, BlockHash hash);
  // Forgets every hash (used and free blocks): nothing is reused by prefix after this.
  void resetCache();

  // How many leading slots of b hold a token (or are reserved for one this step): KV waste.
  int filledSlots(BlockId b) const { return blocks_[b].filled; }
  void fillTo(BlockId b, int slots); // raises the count to slots (never lowers it)
  int64_t usedFilledSlots() const { return usedFilled_; }

  // The free list from head (next to be evicted) to tail.
  std::vector<BlockId> freeList() const;

  // Empty when every invariant above holds, else a sentence naming the first violation. O(n):
  // for tests and debugging.
  std::string checkInvariants() const;

private:
  struct Block {
    int32_t refCount = 0;
    int32_t filled = 0;
    bool cached = false;
    BlockHash hash = 0;
    BlockId prev = -1, next = -1; // free-list links; meaningful only while refCount == 0
  };

  void unlink(BlockId b);
  void pushBack(BlockId b);
  void uncache(BlockId b);

  int numBlocks_, blockSize_;
  int numFree_ = 0;
  int64_t usedFilled_ = 0;
  uint64_t numEvictions_ = 0;
  // blocks_[numBlocks_] is the free list's sentinel: its next is the head, its prev the tail.
  std::vector<Block> blocks_;
  std::unordered_map<BlockHash, BlockId> hashToBlock_;
};

} // namespace llmrt
