// The tuning database: measured winners of kernel autotuning sweeps, per (target, kernel, shape,
// token-count bucket).
//
// Format (JSON, one file; `llmc tune` writes it, people may read, merge and commit it):
//   {
//     "format": "llmc-tuning-db", "version": 2,
//     "entries": [
//       {"target": "cpu-avx512", "kernel": "linear",
//        "shape": {"in_features": 576, "out_features": 1536},
//        "tokens": {"min": 2, "max": 8},
//        "params": {"block_cols": 32, "block_rows": 12},
//        "time_us": 41.5, "default_time_us": 47.0, "note": "free text, ignored"}
//     ]
//   }
// `shape` holds exactly the kernel's registry shape-key parameters; `params` only its tunables
// for the target's family, each one of the registered choices. `tokens` (version 2) is the range
// of rows per call the entry is for: a step's token count T, or its logit-row count R for kernels
// whose output has one row per requested logit row; no "max" means no upper bound; no "tokens"
// means every row count (all version 1 entries). Buckets of one (target, kernel, shape) must not
// overlap. `time_us`, `default_time_us` (the registry defaults' time) and `note` are informative.
// A later entry for the same key (tokens included) replaces an earlier one, so concatenating entry
// lists merges databases. Version 1 files (no "tokens") still load.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmc {

class TuningDB {
public:
  using Params = std::map<std::string, int64_t>;

  // Rows per call, [min, max]; max 0: no upper bound.
  struct TokenRange {
    int64_t min = 1;
    int64_t max = 0;
    bool contains(int64_t rows) const { return rows >= min && (max == 0 || rows <= max); }
    bool overlaps(const TokenRange &o) const;
    bool operator==(const TokenRange &) const = default;
    std::string str() const; // "1", "2-8", "513+"
  };

  struct Entry {
    std::string target, kernel;
    Params shape;
    std::optional<TokenRange> tokens; // absent: every row count
    Params params;
    double timeUs = 0;
    double defaultTimeUs = 0; // 0: not measured
    std::string note;
  };

  static constexpr int kVersion = 2;

  // Throws llm::Error naming the file, the entry index and what is wrong.
  static TuningDB load(const std::string &path);
  static TuningDB parse(std::string_view json, const std::string &source);

  // "in_features=576,out_features=1536": the shape key of a call, in registry order.
  static std::string shapeKey(std::string_view kernel, const Params &shape);

  // The entry for every row count (version 1 style), or null.
  const Params *lookup(std::string_view target, std::string_view kernel,
                       const std::string &shapeKey) const;
  // The bucketed entries of (target, kernel, shape), by ascending tokens.min.
  std::vector<const Entry *> buckets(std::string_view target, std::string_view kernel,
                                     const std::string &shapeKey) const;
  const Entry *find(std::string_view target, std::string_view kernel, const std::string &shapeKey,
                    const std::optional<TokenRange> &tokens) const;

  // Adds or replaces (same target, kernel, shape and tokens) an entry after checking it against
  // the registry; throws llm::Error when it is invalid or its bucket overlaps another.
  void add(Entry e, const std::string &where = "entry");

  const std::vector<Entry> &entries() const { return entries_; }
  size_t size() const { return entries_.size(); }

  // Version 2 JSON, one entry per line, entries in insertion order.
  std::string toJson() const;
  // Writes to a temporary file in the same folder, then renames it over `path`: a reader (or an
  // interrupted writer) sees the old file or the new one, never half of one.
  void save(const std::string &path) const;

private:
  std::vector<Entry> entries_;
};

} // namespace llmc
