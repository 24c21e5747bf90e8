// The KV cache manager: block tables, prefix caching, eviction order, copy-on-write, transactional
// allocation. Requests come from a factory; no model.
#include "engine/KVCacheManager.h"
#include "support/Error.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <list>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <random>
#include <vector>

namespace llmrt {
namespace {

KVCacheConfig kvConfig(int numBlocks, int blockSize = 16, bool prefixCaching = true) {
  KVCacheConfig c;
  c.numBlocks = numBlocks;
  c.blockSize = blockSize;
  c.enablePrefixCaching = prefixCaching;
  return c;
}

std::vector<int32_t> iota(int n, int32_t first = 100) {
  std::vector<int32_t> v(n);
  std::iota(v.begin(), v.end(), first);
  return v;
}

Request makeRequest(std::string id, std::vector<int32_t> prompt) {
  return Request(std::move(id), std::move(prompt));
}

// Admits a request (prefix lookup + allocation for `n` tokens, or all) and pretends the step ran.
bool admit(KVCacheManager &kv, Request &r, int n = -1) {
  PrefixHit hit = kv.findCachedPrefix(r);
  if (n < 0)
    n = r.numTokens() - hit.numTokens;
  std::vector<BlockCopy> copies;
  if (!kv.allocateSlots(r, n, copies, hit))
    return false;
  r.numComputedTokens = hit.numTokens + n;
  kv.cacheComputedBlocks(r);
  return true;
}

// Appends a token and computes it (a decode step). Returns the copies it needed.
std::optional<std::vector<BlockCopy>> decode(KVCacheManager &kv, Request &r, int32_t token) {
  r.tokens.push_back(token);
  std::vector<BlockCopy> copies;
  if (!kv.allocateSlots(r, r.numTokens() - r.numComputedTokens, copies)) {
    r.tokens.pop_back();
    return std::nullopt;
  }
  r.numComputedTokens = r.numTokens();
  kv.cacheComputedBlocks(r);
  return copies;
}

// Everything allocation may change, for bit-for-bit comparison.
struct Snapshot {
  std::vector<int> refs, fills;
  std::vector<std::optional<BlockHash>> hashes;
  std::vector<BlockId> freeList;
  int cached = 0;
  uint64_t evictions = 0, queries = 0, hits = 0;
  std::vector<BlockId> table;
  std::vector<BlockHash> requestHashes;
  int computed = 0, checked = 0, cachedTokens = 0;
  size_t copies = 0;
  bool operator==(const Snapshot &) const = default;
};

Snapshot snapshot(const KVCacheManager &kv, const Request &r, size_t copies) {
  Snapshot s;
  const BlockPool &pool = kv.pool();
  for (BlockId b = 0; b < pool.numBlocks(); ++b) {
    s.refs.push_back(pool.refCount(b));
    s.fills.push_back(pool.filledSlots(b));
    s.hashes.push_back(pool.hashOf(b));
  }
  s.freeList = pool.freeList();
  s.cached = pool.numCachedBlocks();
  s.evictions = pool.numEvictions();
  s.queries = kv.prefixQueryTokens();
  s.hits = kv.prefixHitTokens();
  s.table = r.blockTable;
  s.requestHashes = r.blockHashes;
  s.computed = r.numComputedTokens;
  s.checked = r.numCacheCheckedBlocks;
  s.cachedTokens = r.numCachedTokens;
  s.copies = copies;
  return s;
}

TEST(KVCacheManagerTest, RefusesBadConfigs) {
  EXPECT_THROW(KVCacheManager(kvConfig(0)), llm::Error);
  EXPECT_THROW(KVCacheManager(kvConfig(8, 0)), llm::Error);
  EXPECT_THROW(KVCacheManager(kvConfig(1 << 30, 16)), llm::Error); // positions overflow int
}

TEST(KVCacheManagerTest, BlockTablesGrowAndSlotsFollowTheLayout) {
  for (int bs : {8, 16, 32, 5}) {
    KVCacheManager kv(kvConfig(64, bs));
    Request a = makeRequest("a", iota(3 * bs + 1));
    Request b = makeRequest("b", iota(bs, 7));
    ASSERT_TRUE(admit(kv, a));
    ASSERT_TRUE(admit(kv, b));
    EXPECT_EQ(a.blockTable.size(), 4u);
    EXPECT_EQ(b.blockTable.size(), 1u);
    EXPECT_EQ(kv.numUsedBlocks(), 5);
    for (int pos : {0, 1, bs - 1, bs, 3 * bs})
      EXPECT_EQ(kv.slot(a, pos), int64_t(a.blockTable[pos / bs]) * bs + pos % bs);
    ASSERT_TRUE(decode(kv, b, 1)); // position bs starts a second block
    EXPECT_EQ(b.blockTable.size(), 2u);
    kv.free(a);
    kv.free(b);
    EXPECT_EQ(kv.numUsedBlocks(), 0);
    EXPECT_EQ(kv.pool().checkInvariants(), "");
  }
}

TEST(KVCacheManagerTest, SharedPrefixReusesFullBlocksButNeverTheLastToken) {
  KVCacheManager kv(kvConfig(32, 16));
  Request a = makeRequest("a", iota(40)); // blocks: [0,16) [16,32) [32,40)
  ASSERT_TRUE(admit(kv, a));
  EXPECT_EQ(kv.prefixQueryTokens(), 40u);
  EXPECT_EQ(kv.prefixHitTokens(), 0u);

  std::vector<int32_t> prompt = iota(32);
  prompt.push_back(9); // shares two full blocks, then differs
  prompt.push_back(9);
  Request b = makeRequest("b", prompt);
  ASSERT_TRUE(admit(kv, b));
  EXPECT_EQ(b.numCachedTokens, 32);
  EXPECT_EQ(b.blockTable[0], a.blockTable[0]);
  EXPECT_EQ(b.blockTable[1], a.blockTable[1]);
  EXPECT_NE(b.blockTable[2], a.blockTable[2]);
  EXPECT_EQ(kv.pool().refCount(a.blockTable[0]), 2);

  // Exactly two full blocks: the last token must be computed, so only the first block is reused.
  Request c = makeRequest("c", iota(32));
  ASSERT_TRUE(admit(kv, c));
  EXPECT_EQ(c.numCachedTokens, 16);
  EXPECT_EQ(c.blockTable[0], a.blockTable[0]);
  EXPECT_NE(c.blockTable[1], a.blockTable[1]);

  EXPECT_EQ(kv.prefixQueryTokens(), 40u + 34u + 32u);
  EXPECT_EQ(kv.prefixHitTokens(), 32u + 16u);
  EXPECT_EQ(kv.pool().checkInvariants(), "");
}

TEST(KVCacheManagerTest, HashesChainThroughTheParentAndTheSalt) {
  std::vector<int32_t> block = iota(8);
  BlockHash h0 = KVCacheManager::hashBlock(0, block, 0);
  EXPECT_EQ(h0, KVCacheManager::hashBlock(0, block, 0));
  EXPECT_NE(h0, KVCacheManager::hashBlock(1, block, 0));
  EXPECT_NE(h0, KVCacheManager::hashBlock(0, block, 5));
  block[3] = 0;
  EXPECT_NE(h0, KVCacheManager::hashBlock(0, block, 0));

  // Same second block after different first blocks: no reuse of the second.
  KVCacheManager kv(kvConfig(16, 4));
  std::vector<int32_t> p1 = {1, 2, 3, 4, 5, 6, 7, 8, 9}, p2 = {0, 2, 3, 4, 5, 6, 7, 8, 9};
  Request a = makeRequest("a", p1), b = makeRequest("b", p2);
  ASSERT_TRUE(admit(kv, a));
  ASSERT_TRUE(admit(kv, b));
  EXPECT_EQ(b.numCachedTokens, 0);
  // A different salt (e.g. another LoRA) shares nothing.
  Request c = makeRequest("c", p1);
  c.cacheSalt = 42;
  ASSERT_TRUE(admit(kv, c));
  EXPECT_EQ(c.numCachedTokens, 0);
  Request d = makeRequest("d", p1);
  ASSERT_TRUE(admit(kv, d));
  EXPECT_EQ(d.numCachedTokens, 8);
}

TEST(KVCacheManagerTest, PrefixCachingOffSharesNothing) {
  KVCacheManager kv(kvConfig(16, 4, false));
  Request a = makeRequest("a", iota(12)), b = makeRequest("b", iota(12));
  ASSERT_TRUE(admit(kv, a));
  ASSERT_TRUE(admit(kv, b));
  EXPECT_EQ(b.numCachedTokens, 0);
  EXPECT_EQ(kv.pool().numCachedBlocks(), 0);
  EXPECT_EQ(kv.prefixQueryTokens(), 0u);
}

TEST(KVCacheManagerTest, FreedBlocksStayReusableUntilEvictedTailFirst) {
  KVCacheManager kv(kvConfig(6, 4));
  Request a = makeRequest("a", iota(13)); // 3 full blocks + 1 partial
  ASSERT_TRUE(admit(kv, a));
  std::vector<BlockId> ta = a.blockTable; // 0 1 2 3
  kv.free(a);
  // Never-used blocks first, then a's blocks tail first.
  EXPECT_EQ(kv.pool().freeList(), (std::vector<BlockId>{4, 5, ta[3], ta[2], ta[1], ta[0]}));
  EXPECT_EQ(kv.pool().numCachedBlocks(), 3);

  // The same prompt again: its three full blocks come back by hash and leave the free list.
  Request b = makeRequest("b", iota(13));
  ASSERT_TRUE(admit(kv, b));
  EXPECT_EQ(b.numCachedTokens, 12);
  EXPECT_EQ(std::vector<BlockId>(b.blockTable.begin(), b.blockTable.begin() + 3),
            std::vector<BlockId>(ta.begin(), ta.begin() + 3));
  EXPECT_EQ(b.blockTable[3], 4); // the new one: the head of the free list
  EXPECT_EQ(kv.pool().freeList(), (std::vector<BlockId>{5, ta[3]}));
  kv.free(b);

  // Pressure: a new 5-block request evicts in order 5, ta[3], then b's tail ... its head last.
  Request c = makeRequest("c", iota(20, 1000));
  ASSERT_TRUE(admit(kv, c));
  EXPECT_EQ(c.blockTable, (std::vector<BlockId>{5, ta[3], 4, ta[2], ta[1]}));
  EXPECT_EQ(kv.pool().numEvictions(), 2u); // ta[2] and ta[1] lost their hashes
  EXPECT_EQ(kv.pool().freeList(), (std::vector<BlockId>{ta[0]}));
  EXPECT_TRUE(kv.pool().hashOf(ta[0]));
  // The head block still serves a prefix hit.
  kv.free(c);
  Request d = makeRequest("d", iota(13));
  EXPECT_EQ(kv.findCachedPrefix(d).numTokens, 4);
  EXPECT_EQ(kv.pool().checkInvariants(), "");
}

TEST(KVCacheManagerTest, LeastRecentlyFreedRequestIsEvictedFirst) {
  KVCacheManager kv(kvConfig(4, 4));
  Request a = makeRequest("a", iota(8, 0)), b = makeRequest("b", iota(8, 50));
  ASSERT_TRUE(admit(kv, a));
  ASSERT_TRUE(admit(kv, b));
  kv.free(a); // freed first: evicted first
  kv.free(b);
  Request c = makeRequest("c", iota(8, 900));
  ASSERT_TRUE(admit(kv, c));
  Request a2 = makeRequest("a2", iota(9, 0)), b2 = makeRequest("b2", iota(9, 50));
  EXPECT_EQ(kv.findCachedPrefix(a2).numTokens, 0);
  EXPECT_EQ(kv.findCachedPrefix(b2).numTokens, 8);
}

TEST(KVCacheManagerTest, FailedAllocationChangesNothing) {
  KVCacheManager kv(kvConfig(8, 4));
  Request a = makeRequest("a", iota(16)); // 4 blocks, cached
  ASSERT_TRUE(admit(kv, a));
  Request x = makeRequest("x", iota(7, 500));
  ASSERT_TRUE(admit(kv, x));
  kv.free(a); // a's blocks are free but cached
  Request filler = makeRequest("f", iota(8, 700));
  ASSERT_TRUE(admit(kv, filler)); // evicts two of them
  // 2 free blocks, both cached. A request reusing a's first block and needing 3 more fails.
  Request b = makeRequest("b", iota(17));
  PrefixHit hit = kv.findCachedPrefix(b);
  std::vector<BlockCopy> copies;
  Snapshot before = snapshot(kv, b, copies.size());
  EXPECT_FALSE(kv.allocateSlots(b, b.numTokens() - hit.numTokens, copies, hit));
  EXPECT_EQ(snapshot(kv, b, copies.size()), before);
  // A running request growing past the pool fails the same way.
  before = snapshot(kv, x, copies.size());
  EXPECT_FALSE(kv.allocateSlots(x, 20, copies));
  EXPECT_EQ(snapshot(kv, x, copies.size()), before);
  EXPECT_EQ(kv.pool().checkInvariants(), "");
}

TEST(KVCacheManagerTest, FreeHitBlocksDoNotCountAsRoomForNewOnes) {
  KVCacheManager kv(kvConfig(3, 4));
  Request a = makeRequest("a", iota(9));
  ASSERT_TRUE(admit(kv, a)); // 3 blocks, 2 cached
  kv.free(a);
  // 9 tokens again: hit 2 (both free), 1 new needed; 3 free minus 2 hits = 1: fits.
  Request b = makeRequest("b", iota(9));
  ASSERT_TRUE(admit(kv, b));
  kv.free(b);
  // 13 tokens: hit 2, 2 new needed; only 1 left once the hits are taken.
  Request c = makeRequest("c", iota(13));
  EXPECT_FALSE(admit(kv, c));
  EXPECT_TRUE(c.blockTable.empty());
  EXPECT_EQ(kv.numUsedBlocks(), 0);
}

TEST(KVCacheManagerTest, ForkSharesBlocksAndCopiesTheSharedTailOnWrite) {
  KVCacheManager kv(kvConfig(16, 4));
  Request parent = makeRequest("p", iota(10)); // blocks: full, full, 2 of 4
  ASSERT_TRUE(admit(kv, parent));
  Request child = makeRequest("c", {});
  child.tokens = parent.tokens;
  child.numPromptTokens = parent.numPromptTokens;
  child.numComputedTokens = parent.numComputedTokens;
  kv.fork(parent, child);
  EXPECT_EQ(child.blockTable, parent.blockTable);
  for (BlockId b : parent.blockTable)
    EXPECT_EQ(kv.pool().refCount(b), 2);

  BlockId tail = parent.blockTable[2];
  auto copies = decode(kv, child, 7);
  ASSERT_TRUE(copies);
  ASSERT_EQ(copies->size(), 1u);
  EXPECT_EQ(copies->front().src, tail);
  EXPECT_EQ(copies->front().dst, child.blockTable[2]);
  EXPECT_NE(child.blockTable[2], tail);
  EXPECT_EQ(kv.pool().refCount(tail), 1);
  EXPECT_EQ(child.blockTable[0], parent.blockTable[0]); // full blocks stay shared

  // The parent is now the only holder of its tail: no copy.
  copies = decode(kv, parent, 8);
  ASSERT_TRUE(copies);
  EXPECT_TRUE(copies->empty());
  EXPECT_EQ(parent.blockTable[2], tail);
}

TEST(KVCacheManagerTest, ForkAtABlockBoundaryNeedsNoCopy) {
  KVCacheManager kv(kvConfig(16, 4));
  Request parent = makeRequest("p", iota(8));
  ASSERT_TRUE(admit(kv, parent));
  Request child = parent;
  child.blockTable.clear();
  kv.fork(parent, child);
  auto copies = decode(kv, child, 1);
  ASSERT_TRUE(copies);
  EXPECT_TRUE(copies->empty());
  EXPECT_EQ(child.blockTable.size(), 3u);
}

TEST(KVCacheManagerTest, CopyOnWriteWithoutRoomFailsCleanly) {
  KVCacheManager kv(kvConfig(3, 4));
  Request parent = makeRequest("p", iota(10));
  ASSERT_TRUE(admit(kv, parent)); // all 3 blocks
  Request child = parent;
  child.blockTable.clear();
  kv.fork(parent, child);
  child.tokens.push_back(5);
  std::vector<BlockCopy> copies;
  Snapshot before = snapshot(kv, child, 0);
  EXPECT_FALSE(kv.allocateSlots(child, 1, copies));
  EXPECT_EQ(snapshot(kv, child, copies.size()), before);
}

TEST(KVCacheManagerTest, KvWasteCountsReservedSlotsWithoutTokens) {
  KVCacheManager kv(kvConfig(8, 16));
  EXPECT_EQ(kv.kvWaste(), 0.0);
  Request a = makeRequest("a", iota(20)); // 2 blocks, 20 of 32 slots
  ASSERT_TRUE(admit(kv, a));
  EXPECT_DOUBLE_EQ(kv.kvWaste(), 12.0 / 32.0);
  Request b = makeRequest("b", iota(17)); // shares block 0: 3 blocks, 20 + 1 of 48 slots
  ASSERT_TRUE(admit(kv, b));
  EXPECT_DOUBLE_EQ(kv.kvWaste(), 27.0 / 48.0);
  kv.free(a);
  kv.free(b);
  EXPECT_EQ(kv.kvWaste(), 0.0);
}

// ---------------------------------------------------------------------------------------------
// Randomized: admissions (with prefix hits), decode and chunk steps, forks, frees and cache resets
// against a model of the free list, with every invariant checked after every operation. A fake KV
// memory holds, per slot, an identity of the token's whole prefix: every request must always read
// its own prefix from its blocks (prefix hits and copy-on-write are right), and nothing writes
// into another request's block.

struct FakeKVMemory {
  int blockSize;
  std::vector<uint64_t> slots;
  FakeKVMemory(int numBlocks, int bs) : blockSize(bs), slots(size_t(numBlocks) * bs, 0) {}
  static uint64_t identity(const Request &r, int pos) {
    uint64_t h = 1469598103934665603ull ^ r.cacheSalt;
    for (int i = 0; i <= pos; ++i)
      h = (h ^ uint64_t(r.tokens[i])) * 1099511628211ull;
    return h;
  }
  void apply(const std::vector<BlockCopy> &copies) {
    for (const BlockCopy &c : copies)
      std::copy_n(slots.begin() + int64_t(c.src) * blockSize, blockSize,
                  slots.begin() + int64_t(c.dst) * blockSize);
  }
  void write(const KVCacheManager &kv, const Request &r, int start, int end) {
    for (int p = start; p < end; ++p)
      slots[kv.slot(r, p)] = identity(r, p);
  }
  bool holds(const KVCacheManager &kv, const Request &r) const {
    for (int p = 0; p < r.numComputedTokens; ++p)
      if (slots[kv.slot(r, p)] != identity(r, p))
        return false;
    return true;
  }
};

class RandomKVTest : public ::testing::TestWithParam<std::tuple<int, uint32_t>> {
protected:
  void SetUp() override {
    blockSize = std::get<0>(GetParam());
    rng.seed(std::get<1>(GetParam()));
    kv = std::make_unique<KVCacheManager>(kvConfig(kBlocks, blockSize));
    memory = std::make_unique<FakeKVMemory>(kBlocks, blockSize);
    for (BlockId b = 0; b < kBlocks; ++b)
      freeModel.push_back(b);
    for (int i = 0; i < 3; ++i) { // shared prefixes
      std::vector<int32_t> base(4 * blockSize);
      for (int32_t &t : base)
        t = rng() % 5;
      bases.push_back(base);
    }
  }

  std::vector<int32_t> randomPrompt() {
    std::vector<int32_t> p;
    if (rng() % 4 != 0) {
      const auto &base = bases[rng() % bases.size()];
      p.assign(base.begin(), base.begin() + rng() % base.size());
    }
    for (int n = 1 + rng() % (2 * blockSize); n > 0; --n)
      p.push_back(rng() % 3);
    return p;
  }

  int refsFromModel(BlockId b) const {
    int n = 0;
    for (const auto &r : live)
      n += std::count(r->blockTable.begin(), r->blockTable.end(), b);
    return n;
  }

  // The blocks that allocation took for new contents must be the free list's head, in order.
  void takeFromModel(const std::vector<BlockId> &hitBlocks, const std::vector<BlockId> &taken) {
    for (BlockId b : hitBlocks)
      freeModel.remove(b); // no-op for hit blocks that were in use
    for (BlockId b : taken) {
      ASSERT_FALSE(freeModel.empty());
      ASSERT_EQ(b, freeModel.front());
      freeModel.pop_front();
    }
  }

  // Allocates n tokens for r (a hit for admissions), checks the transaction and the model, and
  // "runs" the step on the fake memory. Returns false when there was no room.
  bool step(Request &r, int n, const PrefixHit &hit) {
    std::vector<BlockCopy> copies;
    std::vector<BlockId> before = r.blockTable;
    Snapshot snap = snapshot(*kv, r, 0);
    if (!kv->allocateSlots(r, n, copies, hit)) {
      EXPECT_EQ(snapshot(*kv, r, copies.size()), snap);
      return false;
    }
    std::vector<BlockId> taken;
    for (const BlockCopy &c : copies) { // the shared, partially filled block being written
      size_t index = r.numComputedTokens / blockSize;
      EXPECT_EQ(before.at(index), c.src);
      EXPECT_EQ(r.blockTable.at(index), c.dst);
      taken.push_back(c.dst);
      ++copiesSeen;
    }
    for (size_t i = before.size() + hit.blocks.size(); i < r.blockTable.size(); ++i)
      taken.push_back(r.blockTable[i]);
    takeFromModel(hit.blocks, taken);
    int start = r.numComputedTokens + hit.numTokens;
    memory->apply(copies);
    memory->write(*kv, r, start, start + n);
    r.numComputedTokens = start + n;
    kv->cacheComputedBlocks(r);
    return true;
  }

  void freeRequest(size_t i) {
    Request &r = *live[i];
    std::vector<BlockId> table = r.blockTable;
    kv->free(r);
    live.erase(live.begin() + i);
    std::map<BlockId, int> refs;
    for (BlockId b : table)
      refs[b] = refsFromModel(b);
    // Tail first: a block joins the free list when its last holder lets go.
    for (auto it = table.rbegin(); it != table.rend(); ++it)
      if (refs[*it] == 0 && std::find(freeModel.begin(), freeModel.end(), *it) == freeModel.end())
        freeModel.push_back(*it);
  }

  void checkEverything(int op) {
    const BlockPool &pool = kv->pool();
    ASSERT_EQ(pool.checkInvariants(), "") << "op " << op;
    ASSERT_EQ(pool.numFreeBlocks() + pool.numUsedBlocks(), kBlocks);
    ASSERT_EQ(pool.freeList(), std::vector<BlockId>(freeModel.begin(), freeModel.end()))
        << "op " << op;
    std::vector<int> filled(kBlocks, 0);
    for (BlockId b = 0; b < kBlocks; ++b)
      ASSERT_EQ(pool.refCount(b), refsFromModel(b)) << "block " << b << " op " << op;
    for (const auto &r : live) {
      ASSERT_EQ(r->blockTable.size(), size_t((r->numComputedTokens + blockSize - 1) / blockSize));
      ASSERT_TRUE(memory->holds(*kv, *r)) << r->id << " op " << op;
      for (int i = 0; i < r->numCacheCheckedBlocks; ++i) {
        BlockHash parent = i == 0 ? 0 : r->blockHashes[i - 1];
        std::span<const int32_t> tokens(r->tokens);
        ASSERT_EQ(r->blockHashes[i],
                  KVCacheManager::hashBlock(parent, tokens.subspan(i * blockSize, blockSize), 0));
        if (auto h = pool.hashOf(r->blockTable[i])) {
          ASSERT_EQ(*h, r->blockHashes[i]);
        }
      }
      for (size_t i = 0; i < r->blockTable.size(); ++i) {
        int inBlock = std::clamp(r->numComputedTokens - int(i) * blockSize, 0, blockSize);
        filled[r->blockTable[i]] = std::max(filled[r->blockTable[i]], inBlock);
      }
    }
    int64_t used = 0;
    for (BlockId b = 0; b < kBlocks; ++b)
      if (pool.refCount(b) > 0)
        used += filled[b];
    ASSERT_EQ(pool.usedFilledSlots(), used) << "op " << op;
  }

  static constexpr int kBlocks = 40;
  int blockSize = 0;
  std::mt19937 rng;
  std::unique_ptr<KVCacheManager> kv;
  std::unique_ptr<FakeKVMemory> memory;
  std::list<BlockId> freeModel;
  std::vector<std::vector<int32_t>> bases;
  std::vector<std::unique_ptr<Request>> live;
  int nextId = 0;
  int failures = 0, copiesSeen = 0, hitTokens = 0;
};

TEST_P(RandomKVTest, InvariantsHoldAfterEveryOperation) {
  for (int op = 0; op < 3000; ++op) {
    int kind = rng() % 100;
    if (kind < 25 || live.empty()) { // admit a new request, maybe only a chunk of its prompt
      auto r = std::make_unique<Request>(makeRequest(fmt::format("r{}", nextId++), randomPrompt()));
      PrefixHit hit = kv->findCachedPrefix(*r);
      ASSERT_LT(hit.numTokens, r->numTokens());
      hitTokens += hit.numTokens;
      int rest = r->numTokens() - hit.numTokens;
      int n = rng() % 2 ? rest : 1 + rng() % rest;
      if (step(*r, n, hit))
        live.push_back(std::move(r));
      else
        ++failures;
    } else if (kind < 65) { // a step of a live request: the rest of its prompt, or a decode
      Request &r = *live[rng() % live.size()];
      if (r.numComputedTokens == r.numTokens())
        r.tokens.push_back(rng() % 3);
      int rest = r.numTokens() - r.numComputedTokens;
      if (!step(r, 1 + rng() % rest, {}))
        ++failures;
    } else if (kind < 75) { // fork
      const Request &parent = *live[rng() % live.size()];
      auto child = std::make_unique<Request>(parent);
      child->id = fmt::format("r{}", nextId++);
      child->blockTable.clear();
      kv->fork(parent, *child);
      live.push_back(std::move(child));
    } else if (kind < 97) { // free (finish, abort or preempt)
      freeRequest(rng() % live.size());
    } else if (kind < 98) {
      kv->resetPrefixCache();
    }
    if (HasFailure())
      return;
    checkEverything(op);
    if (HasFailure())
      return;
  }
  // The run went through the interesting paths.
  EXPECT_GT(failures, 0);
  EXPECT_GT(hitTokens, 0);
  EXPECT_GT(kv->pool().numEvictions(), 0u);
  if (blockSize > 1) { // with one position per block no block is ever partially filled
    EXPECT_GT(copiesSeen, 0);
  }
  while (!live.empty())
    freeRequest(live.size() - 1);
  checkEverything(-1);
  EXPECT_EQ(kv->numUsedBlocks(), 0);
}

INSTANTIATE_TEST_SUITE_P(BlockSizesAndSeeds, RandomKVTest,
                         ::testing::Combine(::testing::Values(1, 3, 8, 16),
                                            ::testing::Values(11u, 12u, 13u)));

} // namespace
} // namespace llmrt
