// The block pool: reference counts, the free list in eviction order, the hash map of cached blocks.
#include "engine/BlockPool.h"
#include "support/Error.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <list>
#include <map>
#include <random>
#include <vector>

namespace llmrt {
namespace {

TEST(BlockPoolTest, StartsWithEveryBlockFreeInIdOrder) {
  BlockPool pool(5, 16);
  EXPECT_EQ(pool.numFreeBlocks(), 5);
  EXPECT_EQ(pool.numUsedBlocks(), 0);
  EXPECT_EQ(pool.freeList(), (std::vector<BlockId>{0, 1, 2, 3, 4}));
  EXPECT_EQ(pool.checkInvariants(), "");
}

TEST(BlockPoolTest, RefusesBadSizes) {
  EXPECT_THROW(BlockPool(0, 16), llm::Error);
  EXPECT_THROW(BlockPool(-3, 16), llm::Error);
  EXPECT_THROW(BlockPool(4, 0), llm::Error);
}

TEST(BlockPoolTest, AllocateTakesTheHeadAndReleaseAppendsAtTheTail) {
  BlockPool pool(4, 8);
  BlockId a = pool.allocate(), b = pool.allocate();
  EXPECT_EQ(a, 0);
  EXPECT_EQ(b, 1);
  EXPECT_EQ(pool.refCount(a), 1);
  EXPECT_EQ(pool.freeList(), (std::vector<BlockId>{2, 3}));
  pool.release(b);
  pool.release(a);
  // Least recently freed first: 2, 3 were never used, then b, then a.
  EXPECT_EQ(pool.freeList(), (std::vector<BlockId>{2, 3, 1, 0}));
  EXPECT_EQ(pool.checkInvariants(), "");
}

TEST(BlockPoolTest, SharedBlockIsFreedWhenItsLastHolderReleasesIt) {
  BlockPool pool(3, 8);
  BlockId a = pool.allocate();
  pool.touch(a);
  EXPECT_EQ(pool.refCount(a), 2);
  pool.release(a);
  EXPECT_EQ(pool.numFreeBlocks(), 2);
  pool.release(a);
  EXPECT_EQ(pool.numFreeBlocks(), 3);
  EXPECT_EQ(pool.freeList().back(), a);
}

TEST(BlockPoolTest, CachedFreeBlockIsTakenBackByTouchAndKeepsItsHash) {
  BlockPool pool(3, 4);
  BlockId a = pool.allocate();
  pool.fillTo(a, 4);
  ASSERT_TRUE(pool.cacheBlock(a, 0xabc));
  pool.release(a);
  EXPECT_EQ(pool.lookup(0xabc), a); // free but still cached
  pool.touch(a);
  EXPECT_EQ(pool.refCount(a), 1);
  EXPECT_EQ(pool.freeList(), (std::vector<BlockId>{1, 2}));
  EXPECT_EQ(pool.hashOf(a), BlockHash(0xabc));
  EXPECT_EQ(pool.usedFilledSlots(), 4);
  EXPECT_EQ(pool.checkInvariants(), "");
}

TEST(BlockPoolTest, AllocationEvictsTheHeadsHash) {
  BlockPool pool(2, 4);
  BlockId a = pool.allocate(), b = pool.allocate();
  pool.cacheBlock(a, 1);
  pool.cacheBlock(b, 2);
  pool.release(a);
  pool.release(b);
  EXPECT_EQ(pool.numCachedBlocks(), 2);
  BlockId c = pool.allocate();
  EXPECT_EQ(c, a);
  EXPECT_FALSE(pool.lookup(1));
  EXPECT_FALSE(pool.hashOf(c));
  EXPECT_EQ(pool.lookup(2), b);
  EXPECT_EQ(pool.numEvictions(), 1u);
  EXPECT_EQ(pool.filledSlots(c), 0);
  EXPECT_EQ(pool.checkInvariants(), "");
}

TEST(BlockPoolTest, OneBlockPerHash) {
  BlockPool pool(3, 4);
  BlockId a = pool.allocate(), b = pool.allocate();
  EXPECT_TRUE(pool.cacheBlock(a, 7));
  EXPECT_FALSE(pool.cacheBlock(b, 7)); // a duplicate stays uncached
  EXPECT_TRUE(pool.cacheBlock(a, 7));  // caching again is harmless
  EXPECT_EQ(pool.lookup(7), a);
  EXPECT_FALSE(pool.hashOf(b));
  pool.resetCache();
  EXPECT_FALSE(pool.lookup(7));
  EXPECT_FALSE(pool.hashOf(a));
  EXPECT_EQ(pool.checkInvariants(), "");
}

TEST(BlockPoolTest, FillCountsOnlyUsedBlocks) {
  BlockPool pool(3, 8);
  BlockId a = pool.allocate(), b = pool.allocate();
  pool.fillTo(a, 8);
  pool.fillTo(b, 3);
  pool.fillTo(b, 2); // never lowers
  EXPECT_EQ(pool.usedFilledSlots(), 11);
  pool.release(a);
  EXPECT_EQ(pool.usedFilledSlots(), 3);
  pool.touch(a);
  EXPECT_EQ(pool.usedFilledSlots(), 11);
  EXPECT_EQ(pool.checkInvariants(), "");
}

// A reference model of the pool (the obvious, slow data structures) driven by the same random
// operations; the pool must agree with it after every one.
struct PoolModel {
  std::vector<int> ref;
  std::list<BlockId> freeOrder;
  std::map<BlockHash, BlockId> hashes;
  std::map<BlockId, BlockHash> blockHash;

  explicit PoolModel(int n) : ref(n, 0) {
    for (BlockId b = 0; b < n; ++b)
      freeOrder.push_back(b);
  }
  void uncache(BlockId b) {
    if (auto it = blockHash.find(b); it != blockHash.end()) {
      hashes.erase(it->second);
      blockHash.erase(it);
    }
  }
};

TEST(BlockPoolTest, RandomOperationsAgreeWithAReferenceModel) {
  constexpr int kBlocks = 24;
  for (uint32_t seed : {1u, 2u, 3u}) {
    std::mt19937 rng(seed);
    BlockPool pool(kBlocks, 4);
    PoolModel model(kBlocks);
    std::vector<BlockId> held; // one entry per reference
    for (int op = 0; op < 4000; ++op) {
      int kind = rng() % 10;
      if (kind < 3 && pool.numFreeBlocks() > 0) { // allocate
        BlockId b = pool.allocate();
        ASSERT_EQ(b, model.freeOrder.front()) << "op " << op;
        model.freeOrder.pop_front();
        model.uncache(b);
        model.ref[b] = 1;
        held.push_back(b);
      } else if (kind < 6 && !held.empty()) { // release one reference
        size_t i = rng() % held.size();
        BlockId b = held[i];
        held.erase(held.begin() + i);
        pool.release(b);
        if (--model.ref[b] == 0)
          model.freeOrder.push_back(b);
      } else if (kind < 8) { // touch a used block, or a cached free one
        BlockId b = rng() % kBlocks;
        if (model.ref[b] == 0 && !model.blockHash.count(b))
          continue;
        pool.touch(b);
        if (model.ref[b]++ == 0)
          model.freeOrder.remove(b);
        held.push_back(b);
      } else if (kind < 9 && !held.empty()) { // cache a used block under a small hash
        BlockId b = held[rng() % held.size()];
        BlockHash h = rng() % 40;
        bool expected = model.blockHash.count(b) ? model.blockHash[b] == h : !model.hashes.count(h);
        if (model.blockHash.count(b) && model.blockHash[b] != h)
          continue; // a block's hash never changes
        ASSERT_EQ(pool.cacheBlock(b, h), expected);
        if (expected) {
          model.hashes[h] = b;
          model.blockHash[b] = h;
        }
      } else if (rng() % 50 == 0) {
        pool.resetCache();
        model.hashes.clear();
        model.blockHash.clear();
      }
      ASSERT_EQ(pool.checkInvariants(), "") << "op " << op;
      ASSERT_EQ(pool.freeList(),
                std::vector<BlockId>(model.freeOrder.begin(), model.freeOrder.end()))
          << "op " << op;
      ASSERT_EQ(pool.numFreeBlocks() + pool.numUsedBlocks(), kBlocks);
      for (BlockId b = 0; b < kBlocks; ++b) {
        ASSERT_EQ(pool.refCount(b), model.ref[b]);
        auto it = model.blockHash.find(b);
        ASSERT_EQ(pool.hashOf(b),
                  it == model.blockHash.end() ? std::nullopt : std::optional(it->second));
      }
    }
  }
}

} // namespace
} // namespace llmrt
