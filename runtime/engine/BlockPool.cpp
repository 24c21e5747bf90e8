#include "engine/BlockPool.h"

#include "support/Error.h"

#include <cassert>
#include <limits>

namespace llmrt {

BlockPool::BlockPool(int numBlocks, int blockSize) : numBlocks_(numBlocks), blockSize_(blockSize) {
  if (numBlocks < 1 || numBlocks == std::numeric_limits<int>::max())
    llm::fail("KV block pool: number of blocks must be in [1, 2^31-2], got {}", numBlocks);
  if (blockSize < 1)
    llm::fail("KV block pool: block size must be at least 1, got {}", blockSize);
  blocks_.resize(static_cast<size_t>(numBlocks) + 1);
  BlockId sentinel = numBlocks_;
  blocks_[sentinel].prev = blocks_[sentinel].next = sentinel;
  // Initially every block is free, in id order.
  for (BlockId b = 0; b < numBlocks_; ++b)
    pushBack(b);
}

std::optional<BlockHash> BlockPool::hashOf(BlockId b) const {
  if (!blocks_[b].cached)
    return std::nullopt;
  return blocks_[b].hash;
}

std::optional<BlockId> BlockPool::lookup(BlockHash hash) const {
  auto it = hashToBlock_.find(hash);
  if (it == hashToBlock_.end())
    return std::nullopt;
  return it->second;
}

BlockId BlockPool::allocate() {
  assert(numFree_ > 0 && "allocate() from an empty free list: callers check numFreeBlocks()");
  BlockId b = blocks_[numBlocks_].next;
  unlink(b);
  if (blocks_[b].cached) {
    uncache(b);
    ++numEvictions_;
  }
  blocks_[b].refCount = 1;
  blocks_[b].filled = 0;
  return b;
}

void BlockPool::touch(BlockId b) {
  Block &block = blocks_[b];
  if (block.refCount == 0) {
    unlink(b);
    usedFilled_ += block.filled;
  }
  ++block.refCount;
}

void BlockPool::release(BlockId b) {
  Block &block = blocks_[b];
  assert(block.refCount > 0 && "release() of a free block");
  if (--block.refCount == 0) {
    usedFilled_ -= block.filled;
    pushBack(b);
  }
}

bool BlockPool::cacheBlock(BlockId b, BlockHash hash) {
  Block &block = blocks_[b];
  if (block.cached) {
    // Already cached (e.g. a block shared by fork, cached by its other holder first).
    assert(block.hash == hash && "a block's contents, and so its hash, never change");
    return true;
  }
  auto [it, inserted] = hashToBlock_.emplace(hash, b);
  if (!inserted)
    return false;
  block.cached = true;
  block.hash = hash;
  return true;
}

void BlockPool::resetCache() {
  for (auto [hash, b] : hashToBlock_)
    blocks_[b].cached = false;
  hashToBlock_.clear();
}

void BlockPool::fillTo(BlockId b, int slots) {
  assert(slots >= 0 && slots <= blockSize_);
  Block &block = blocks_[b];
  if (slots <= block.filled)
    return;
  if (block.refCount > 0)
    usedFilled_ += slots - block.filled;
  block.filled = slots;
}

std::vector<BlockId> BlockPool::freeList() const {
  std::vector<BlockId> order;
  order.reserve(numFree_);
  for (BlockId b = blocks_[numBlocks_].next; b != numBlocks_; b = blocks_[b].next)
    order.push_back(b);
  return order;
}

void BlockPool::unlink(BlockId b) {
  Block &block = blocks_[b];
  blocks_[block.prev].next = block.next;
  blocks_[block.next].prev = block.prev;
  block.prev = block.next = -1;
  --numFree_;
}

void BlockPool::pushBack(BlockId b) {
  BlockId sentinel = numBlocks_;
  BlockId tail = blocks_[sentinel].prev;
  blocks_[b].prev = tail;
  blocks_[b].next = sentinel;
  blocks_[tail].next = b;
  blocks_[sentinel].prev = b;
  ++numFree_;
}

void BlockPool::uncache(BlockId b) {
  auto it = hashToBlock_.find(blocks_[b].hash);
  assert(it != hashToBlock_.end() && it->second == b);
  hashToBlock_.erase(it);
  blocks_[b].cached = false;
}

std::string BlockPool::checkInvariants() const {
  std::vector<char> inList(numBlocks_, 0);
  int listed = 0;
  BlockId sentinel = numBlocks_;
  for (BlockId b = blocks_[sentinel].next, prev = sentinel; b != sentinel;
       prev = b, b = blocks_[b].next) {
    if (b < 0 || b >= numBlocks_)
      return fmt::format("free list holds an invalid id {}", b);
    if (inList[b])
      return fmt::format("block {} is in the free list twice", b);
    if (blocks_[b].prev != prev)
      return fmt::format("block {}'s prev link is {}, expected {}", b, blocks_[b].prev, prev);
    inList[b] = 1;
    ++listed;
  }
  if (listed != numFree_)
    return fmt::format("free list has {} blocks but the free count is {}", listed, numFree_);
  int64_t filled = 0;
  for (BlockId b = 0; b < numBlocks_; ++b) {
    const Block &block = blocks_[b];
    if (block.refCount < 0)
      return fmt::format("block {} has a negative reference count", b);
    if ((block.refCount == 0) != (inList[b] != 0))
      return fmt::format("block {} has reference count {} but is {}in the free list", b,
                         block.refCount, inList[b] ? "" : "not ");
    if (block.filled < 0 || block.filled > blockSize_)
      return fmt::format("block {} has {} filled slots", b, block.filled);
    if (block.refCount > 0)
      filled += block.filled;
    if (block.cached) {
      auto it = hashToBlock_.find(block.hash);
      if (it == hashToBlock_.end() || it->second != b)
        return fmt::format("block {} is cached but the hash map does not name it", b);
    }
  }
  for (auto [hash, b] : hashToBlock_)
    if (b < 0 || b >= numBlocks_ || !blocks_[b].cached || blocks_[b].hash != hash)
      return fmt::format("hash map names block {} which does not hold that hash", b);
  if (filled != usedFilled_)
    return fmt::format("used blocks fill {} slots but the count says {}", filled, usedFilled_);
  return {};
}

} // namespace llmrt
