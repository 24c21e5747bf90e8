// The attention kernels over a paged KV cache: against the contiguous one-sequence path (a
// KVCache, slot = position) and the double-precision reference, with shuffled, non-contiguous
// block tables; bitwise batch invariance (other sequences, chunking, thread count); block copies.
#include "TestPlanWriter.h"
#include "backends/cpu/CpuKernels.h"
#include "engine/KVCache.h"
#include "engine/PagedKVCache.h"
#include "support/Error.h"
#include "support/ThreadPool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

namespace llmrt::cpu {
namespace {

using test::randomFloats;

struct Case {
  int64_t heads, kvHeads, headDim, window;
  bool packed; // attention_qkv with a rope prologue, else attention on separate q, k, v
};

KernelParams params(const Case &c, int layer) {
  KernelParams p;
  p.setInt("layer", layer).setInt("num_heads", c.heads).setInt("num_kv_heads", c.kvHeads);
  p.setInt("head_dim", c.headDim).setFloat("scale", 0.3).setInt("sliding_window", c.window);
  if (c.packed) {
    std::vector<float> invFreq;
    for (int64_t i = 0; i < c.headDim / 2; ++i)
      invFreq.push_back(std::pow(0.1f, float(i)));
    p.setFloatArray("inv_freq", invFreq).setFloat("attention_factor", 1.0);
  }
  return p;
}

// One sequence's inputs: a packed [q | k | v] row per position (split for unpacked attention).
struct Sequence {
  std::vector<float> qkv; // positions x (qWidth + 2 kvWidth)
  int length = 0;
};

Sequence makeSequence(const Case &c, int length, uint64_t seed) {
  int64_t width = (c.heads + 2 * c.kvHeads) * c.headDim;
  return {randomFloats(length * width, seed, 2.0f), length};
}

// Runs rows [begin, end) of each listed sequence as one kernel call. Returns the outputs, rows of
// the step in order.
struct Part {
  const Sequence *seq;
  int begin, end;
  std::vector<int32_t> table; // the sequence's block table (paged); empty: a KVCache
};

std::vector<float> runStep(const Case &c, int layer, PagedKVCache &kv, const std::vector<Part> &parts) {
  int64_t qW = c.heads * c.headDim, kvW = c.kvHeads * c.headDim, packedW = qW + 2 * kvW;
  std::vector<float> qkv, q, k, v;
  std::vector<int32_t> positions, queryStart{0}, tables;
  std::vector<int64_t> slots;
  size_t stride = 1;
  for (const Part &p : parts)
    stride = std::max(stride, p.table.size());
  for (const Part &p : parts) {
    for (int pos = p.begin; pos < p.end; ++pos) {
      const float *row = p.seq->qkv.data() + pos * packedW;
      qkv.insert(qkv.end(), row, row + packedW);
      q.insert(q.end(), row, row + qW);
      k.insert(k.end(), row + qW, row + qW + kvW);
      v.insert(v.end(), row + qW + kvW, row + packedW);
      positions.push_back(pos);
      int bs = kv.blockSize();
      slots.push_back(p.table.empty() ? pos : int64_t(p.table[pos / bs]) * bs + pos % bs);
    }
    queryStart.push_back(static_cast<int32_t>(positions.size()));
    std::vector<int32_t> t = p.table;
    t.resize(stride, 0);
    tables.insert(tables.end(), t.begin(), t.end());
  }
  int64_t T = static_cast<int64_t>(positions.size());
  AttentionBatch batch{static_cast<int64_t>(parts.size()), queryStart.data(), tables.data(),
                       static_cast<int64_t>(stride), slots.data()};
  bool single = parts.size() == 1 && parts[0].table.empty();
  KernelParams p = params(c, layer);
  std::vector<const void *> inputs;
  if (c.packed)
    inputs = {qkv.data()};
  else
    inputs = {q.data(), k.data(), v.data()};
  std::vector<float> out(T * qW);
  std::vector<void *> outputs{out.data()};
  const CpuKernelFn *kernel = findCpuKernel(c.packed ? "attention_qkv" : "attention");
  kernel->shapes(p, 0);
  KernelArgs args{p,    inputs.data(),    nullptr, out.data(), outputs.data(),
                  T,    0,                positions.data(), &kv, single ? nullptr : &batch};
  kernel->run(args);
  return out;
}

// A shuffled table of `blocks` distinct block ids out of `numBlocks`, from `pool` (taken ids are
// removed).
std::vector<int32_t> takeBlocks(std::vector<int32_t> &pool, int blocks) {
  std::vector<int32_t> t(pool.end() - blocks, pool.end());
  pool.resize(pool.size() - blocks);
  return t;
}

std::vector<int32_t> shuffledPool(int numBlocks, uint64_t seed) {
  std::vector<int32_t> pool(numBlocks);
  std::iota(pool.begin(), pool.end(), 0);
  std::shuffle(pool.begin(), pool.end(), std::mt19937_64(seed));
  return pool;
}

// Double-precision reference of one token's attention (rope applied to q and k as the kernel
// does when packed; none when not).
std::vector<double> reference(const Case &c, const Sequence &s, int pos) {
  int64_t qW = c.heads * c.headDim, kvW = c.kvHeads * c.headDim, packedW = qW + 2 * kvW;
  int64_t group = c.heads / c.kvHeads, half = c.packed ? c.headDim / 2 : 0;
  auto rot = [&](const float *x, int p, int64_t d) -> double {
    if (!c.packed)
      return x[d];
    int64_t i = d % half;
    double angle = double(p) * std::pow(0.1f, float(i));
    double cs = std::cos(angle), sn = std::sin(angle);
    return d < half ? x[d] * cs - x[d + half] * sn : x[d] * cs + x[d - half] * sn;
  };
  std::vector<double> out(qW, 0.0);
  int lo = c.window > 0 ? std::max<int>(0, pos - int(c.window) + 1) : 0;
  for (int64_t h = 0; h < c.heads; ++h) {
    const float *q = s.qkv.data() + pos * packedW + h * c.headDim;
    int64_t kvh = h / group;
    std::vector<double> scores;
    for (int j = lo; j <= pos; ++j) {
      const float *k = s.qkv.data() + j * packedW + qW + kvh * c.headDim;
      double dot = 0;
      for (int64_t d = 0; d < c.headDim; ++d)
        dot += rot(q, pos, d) * rot(k, j, d);
      scores.push_back(dot * 0.3);
    }
    double m = *std::max_element(scores.begin(), scores.end()), z = 0;
    for (double &x : scores)
      z += (x = std::exp(x - m));
    for (int j = lo; j <= pos; ++j) {
      const float *v = s.qkv.data() + j * packedW + qW + kvW + kvh * c.headDim;
      for (int64_t d = 0; d < c.headDim; ++d)
        out[h * c.headDim + d] += scores[j - lo] / z * v[d];
    }
  }
  return out;
}

const Case kCases[] = {
    {2, 2, 8, 0, false},  // full causal
    {8, 2, 12, 0, false}, // grouped-query
    {4, 2, 16, 5, false}, // sliding window
    {4, 1, 16, 0, true},  // packed with rope, multi-query
    {6, 3, 8, 7, true},   // packed with rope and a window
};

class PagedAttention : public ::testing::TestWithParam<Case> {};

// Several sequences of different lengths, each alone through the contiguous path in one step, and
// all together through shuffled block tables over three steps of uneven chunks: the same bits, and
// close to the double-precision reference.
TEST_P(PagedAttention, MatchesContiguousPathAndReference) {
  const Case c = GetParam();
  const int blockSize = 4, layer = 1;
  const std::vector<int> lengths = {1, 5, 9, 16, 23};
  std::vector<Sequence> seqs;
  for (size_t i = 0; i < lengths.size(); ++i)
    seqs.push_back(makeSequence(c, lengths[i], 50 + i));
  PagedKVCache paged(2, c.kvHeads, c.headDim, 40, blockSize);
  std::vector<int32_t> pool = shuffledPool(40, 7);
  std::vector<std::vector<int32_t>> tables;
  for (int len : lengths)
    tables.push_back(takeBlocks(pool, (len + blockSize - 1) / blockSize));
  // Chunks: step 1 takes [0, len/3), step 2 up to 2 len/3, step 3 the rest (empty parts skipped).
  int64_t qW = c.heads * c.headDim;
  std::vector<std::vector<float>> got(seqs.size());
  for (int stepIndex = 0; stepIndex < 3; ++stepIndex) {
    std::vector<Part> parts;
    std::vector<size_t> owners;
    for (size_t i = 0; i < seqs.size(); ++i) {
      int b = lengths[i] * stepIndex / 3, e = lengths[i] * (stepIndex + 1) / 3;
      if (b < e) {
        parts.push_back({&seqs[i], b, e, tables[i]});
        owners.push_back(i);
      }
    }
    std::vector<float> out = runStep(c, layer, paged, parts);
    size_t row = 0;
    for (size_t pi = 0; pi < parts.size(); ++pi)
      for (int pos = parts[pi].begin; pos < parts[pi].end; ++pos, ++row)
        got[owners[pi]].insert(got[owners[pi]].end(), out.begin() + row * qW,
                               out.begin() + (row + 1) * qW);
  }
  for (size_t i = 0; i < seqs.size(); ++i) {
    SCOPED_TRACE("sequence of " + std::to_string(lengths[i]));
    KVCache contiguous(2, c.kvHeads, c.headDim, 32);
    std::vector<float> want = runStep(c, layer, contiguous, {{&seqs[i], 0, lengths[i], {}}});
    ASSERT_EQ(got[i].size(), want.size());
    EXPECT_EQ(0, std::memcmp(got[i].data(), want.data(), want.size() * sizeof(float)));
    for (int pos = 0; pos < lengths[i]; ++pos) {
      std::vector<double> ref = reference(c, seqs[i], pos);
      for (int64_t d = 0; d < qW; ++d)
        ASSERT_NEAR(got[i][pos * qW + d], ref[d], 1e-4 * std::max(1.0, std::fabs(ref[d])))
            << "position " << pos << " element " << d;
    }
  }
}

// A sequence's rows are the same bits alone, next to other sequences (before or after it), in
// decode-sized or prefill-sized chunks, and with 1, 2 or 3 threads.
TEST_P(PagedAttention, BatchInvariant) {
  const Case c = GetParam();
  const int blockSize = 8, length = 19;
  int64_t qW = c.heads * c.headDim;
  Sequence target = makeSequence(c, length, 90);
  Sequence other1 = makeSequence(c, 30, 91), other2 = makeSequence(c, 11, 92);
  auto runTarget = [&](int chunk, int threads, bool withOthers) {
    llmrt::ThreadPool::global().setThreads(threads);
    PagedKVCache kv(1, c.kvHeads, c.headDim, 24, blockSize);
    std::vector<int32_t> pool = shuffledPool(24, 3 + chunk + threads);
    std::vector<int32_t> t = takeBlocks(pool, 3), t1 = takeBlocks(pool, 4), t2 = takeBlocks(pool, 2);
    std::vector<float> rows;
    int o1 = 0, o2 = 0;
    for (int b = 0; b < length; b += chunk) {
      int e = std::min(length, b + chunk);
      std::vector<Part> parts;
      if (withOthers && o1 < 30) {
        parts.push_back({&other1, o1, std::min(30, o1 + 7), t1});
        o1 = std::min(30, o1 + 7);
      }
      parts.push_back({&target, b, e, t});
      size_t targetIndex = parts.size() - 1;
      if (withOthers && o2 < 11) {
        parts.push_back({&other2, o2, o2 + 1, t2});
        ++o2;
      }
      std::vector<float> out = runStep(c, 0, kv, parts);
      size_t row = 0;
      for (size_t i = 0; i < targetIndex; ++i)
        row += parts[i].end - parts[i].begin;
      rows.insert(rows.end(), out.begin() + row * qW, out.begin() + (row + e - b) * qW);
    }
    return rows;
  };
  int saved = llmrt::ThreadPool::global().threads();
  std::vector<float> alone = runTarget(length, 1, false);
  for (int chunk : {1, 4, length})
    for (int threads : {1, 2, 3})
      for (bool others : {false, true}) {
        std::vector<float> got = runTarget(chunk, threads, others);
        ASSERT_EQ(0, std::memcmp(got.data(), alone.data(), alone.size() * sizeof(float)))
            << "chunk " << chunk << ", threads " << threads << ", others " << others;
      }
  llmrt::ThreadPool::global().setThreads(saved);
}

INSTANTIATE_TEST_SUITE_P(Cases, PagedAttention, ::testing::ValuesIn(kCases));

// Contexts longer than an attention partition (256 positions: a token's positions are split and
// the partitions merged): close to the double-precision reference, and the same bits whether a
// token is computed alone (decode), in chunks or in one prefill step, on 1, 2 or 3 threads. Also a
// window longer than a partition and a head size that is not whole 32-column strips.
TEST(PagedAttentionLong, PartitionedContextsMatchReferenceAndAreBatchInvariant) {
  const Case cases[] = {{9, 3, 64, 0, true}, {4, 2, 40, 300, false}};
  const int length = 600, blockSize = 16, blocks = (length + blockSize - 1) / blockSize;
  int saved = llmrt::ThreadPool::global().threads();
  for (const Case &c : cases) {
    SCOPED_TRACE("head_dim " + std::to_string(c.headDim) + " window " + std::to_string(c.window));
    const int64_t qW = c.heads * c.headDim;
    Sequence seq = makeSequence(c, length, 77);
    auto run = [&](int chunk, int threads) {
      llmrt::ThreadPool::global().setThreads(threads);
      PagedKVCache kv(1, c.kvHeads, c.headDim, blocks, blockSize);
      std::vector<int32_t> pool = shuffledPool(blocks, 11);
      std::vector<int32_t> table = takeBlocks(pool, blocks);
      std::vector<float> rows;
      for (int b = 0; b < length; b += chunk) {
        std::vector<float> out = runStep(c, 0, kv, {{&seq, b, std::min(length, b + chunk), table}});
        rows.insert(rows.end(), out.begin(), out.end());
      }
      return rows;
    };
    std::vector<float> all = run(length, 2);
    for (int pos : {0, 255, 256, 257, 511, 512, 599}) {
      std::vector<double> ref = reference(c, seq, pos);
      for (int64_t d = 0; d < qW; ++d)
        ASSERT_NEAR(all[pos * qW + d], ref[d], 1e-4 * std::max(1.0, std::fabs(ref[d])))
            << "position " << pos << " element " << d;
    }
    for (auto [chunk, threads] : {std::pair{1, 2}, {1, 1}, {100, 3}, {length, 1}}) {
      std::vector<float> got = run(chunk, threads);
      ASSERT_EQ(0, std::memcmp(got.data(), all.data(), all.size() * sizeof(float)))
          << "chunk " << chunk << ", threads " << threads;
    }
  }
  llmrt::ThreadPool::global().setThreads(saved);
}

TEST(PagedKVCacheTest, CopyBlockCopiesEveryLayer) {
  PagedKVCache kv(3, 2, 4, 5, 4);
  auto key = [&](int layer, int64_t slot, int i) -> float & {
    return kv.key(layer, slot, i / kv.headDim())[i % kv.headDim()];
  };
  auto value = [&](int layer, int64_t slot, int i) -> float & {
    return kv.value(layer, slot, i / kv.headDim())[i % kv.headDim()];
  };
  for (int layer = 0; layer < 3; ++layer)
    for (int64_t slot = 0; slot < kv.numSlots(); ++slot)
      for (int i = 0; i < kv.rowWidth(); ++i) {
        key(layer, slot, i) = float(layer * 1000 + slot * 10 + i);
        value(layer, slot, i) = -float(layer * 1000 + slot * 10 + i);
      }
  kv.copyBlock(3, 1);
  for (int layer = 0; layer < 3; ++layer)
    for (int off = 0; off < 4; ++off)
      for (int i = 0; i < kv.rowWidth(); ++i) {
        EXPECT_EQ(key(layer, 4 + off, i), float(layer * 1000 + (12 + off) * 10 + i));
        EXPECT_EQ(value(layer, 4 + off, i), -float(layer * 1000 + (12 + off) * 10 + i));
        // Neighbours untouched.
        EXPECT_EQ(key(layer, 8 + off, i), float(layer * 1000 + (8 + off) * 10 + i));
      }
  EXPECT_THROW(kv.copyBlock(0, 5), llm::Error);
  EXPECT_THROW(kv.copyBlock(-1, 0), llm::Error);
  EXPECT_EQ(PagedKVCache::bytesPerBlock(3, 2, 4, 4), 2 * 3 * 2 * 4 * 4 * 4);
  EXPECT_EQ(kv.bytes(), 5 * PagedKVCache::bytesPerBlock(3, 2, 4, 4));
  EXPECT_THROW(PagedKVCache(1, 1, 8, 0, 16), llm::Error);
  EXPECT_THROW(PagedKVCache(1, 1, 8, 4, 0), llm::Error);
}

TEST(PagedKVCacheTest, AttentionRefusesBadSlotsAndMissingTables) {
  Case c{2, 1, 8, 0, false};
  Sequence s = makeSequence(c, 3, 5);
  PagedKVCache kv(1, 1, 8, 4, 4);
  // A paged cache of several blocks needs block tables.
  EXPECT_THROW(runStep(c, 0, kv, {{&s, 0, 3, {}}}), llm::Error);
  // A table entry that puts a slot past the cache.
  EXPECT_THROW(runStep(c, 0, kv, {{&s, 0, 3, {4}}, {&s, 0, 1, {0}}}), llm::Error);
}

} // namespace
} // namespace llmrt::cpu
