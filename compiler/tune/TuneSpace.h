// The search space of `llmc tune`: which tunable settings of a kernel call are worth measuring
// for a problem (the call's shape at a given row count), and which token-count buckets a sweep
// fills.
//
// The registry declares each tunable's registered choices; the space is their cross product
// pruned by constraints that make a setting invalid on the target or equivalent to another one
// for this problem (so each distinct behaviour is measured once):
//  - CPU GEMMs: a column block wider than the output (rounded up to the 4-column register tile)
//    behaves like the smallest such block; a row block of at least the problem's rows behaves like
//    the smallest such block.
//  - CUDA GEMMs: the tile's shared-memory footprint ((block_m + block_n) * block_k * num_stages
//    fp16 elements) fits the architecture's per-block limit; every warp owns at least 4 x 32
//    output elements (block_m * block_n >= 128 * num_warps); block_m is at most the problem's
//    rows rounded up to a power of two (16 at least).
//  - CUDA attention: block_kv * head_dim fp16 K and V tiles, twice buffered, fit shared memory.
// NOTE: the registry defaults are always the first candidate (the reference and the baseline),
// even where a constraint would prune them.
#pragma once

#include "registry/KernelRegistry.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace llmc::tune {

using Params = std::map<std::string, int64_t>;

// The registry defaults of the kernel's tunables for the family.
Params defaultTunables(const llm::registry::KernelSpec &kernel,
                       const llm::registry::TargetInfo &target);

// Candidates for a call with integer parameters `shape` (at least the shape key) computing `rows`
// rows, defaults first, then the pruned cross product in registry order (deterministic).
std::vector<Params> enumerateSpace(const llm::registry::KernelSpec &kernel,
                                   const llm::registry::TargetInfo &target, const Params &shape,
                                   int64_t rows);

// The size of the cross product before pruning.
size_t fullSpaceSize(const llm::registry::KernelSpec &kernel,
                     const llm::registry::TargetInfo &target);

// A token-count bucket and the row count it is measured at.
struct Bucket {
  int64_t min = 1, max = 0; // max 0: no upper bound
  int64_t measureRows = 1;
};
// Buckets from measurement points p1 < ... < pn (sorted and deduplicated here; llm::Error for a
// point < 1 or an empty list): bucket i covers (p(i-1), p(i)], the last one is open-ended, and
// each is measured at its point. 1,8,64,512 -> 1 | 2-8 | 9-64 | 65+ (measured at 512).
std::vector<Bucket> bucketsFromPoints(std::vector<int64_t> points);

} // namespace llmc::tune
