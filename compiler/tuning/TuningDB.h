// The tuning database: measured winners of kernel autotuning sweeps, per (target, kernel, shape).
//
// Format (JSON, one file; `llmc tune` writes it, people may read, merge and commit it):
//   {
//     "format": "llmc-tuning-db", "version": 1,
//     "entries": [
//       {"target": "cpu-avx512", "kernel": "linear",
//        "shape": {"in_features": 576, "out_features": 1536},
//        "params": {"block_cols": 32, "block_rows": 12},
//        "time_us": 41.5, "note": "free text, ignored"}
//     ]
//   }
// `shape` holds exactly the kernel's registry shape-key parameters; `params` only its tunables
// for the target's family, each one of the registered choices. A later entry for the same key
// replaces an earlier one (so concatenating entry lists merges databases).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace llmc {

class TuningDB {
public:
  // Throws llm::Error naming the file, the entry index and what is wrong.
  static TuningDB load(const std::string &path);
  static TuningDB parse(std::string_view json, const std::string &source);

  using Params = std::map<std::string, int64_t>;
  // "in_features=576,out_features=1536": the shape key of a call, in registry order.
  static std::string shapeKey(std::string_view kernel, const Params &shape);

  const Params *lookup(std::string_view target, std::string_view kernel,
                       const std::string &shapeKey) const;
  size_t size() const { return entries_.size(); }

private:
  std::map<std::string, Params> entries_; // "target|kernel|shape" -> params
};

} // namespace llmc
