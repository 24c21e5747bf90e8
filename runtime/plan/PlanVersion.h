// Plan schema version and weight-file format, shared by the writer (llmc) and the reader (llmrt).
#pragma once
#include <cstdint>

namespace llmrt {
inline constexpr uint16_t kPlanSchemaMajor = 1;
// 1.2: KernelCall.buckets; 1.3: Q8_0/Q4_0/Q4_1 weights; 1.4: FP8_E4M3 (KV cache dtype);
// 1.5: Q4_K/Q5_K/Q6_K weights; 1.6: W4G32..W4G128A (int4 group-wise) and WFP8 weights;
// 1.7: Q5_0/Q5_1 weights; 1.8: the rows8_blocks weight layout (tiles, plan/QuantFormat.h);
// 1.9: the rows8 layout of F32 weights (plan/FloatTiles.h); 1.10: rows8_blocks for Q4_K / Q5_K
inline constexpr uint16_t kPlanSchemaMinor = 10;

// A weight file starts with a 4 KiB header page: magic, format version, the plan id it belongs to.
inline constexpr char kWeightFileMagic[8] = {'L', 'L', 'M', 'W', 'E', 'I', 'G', 'T'};
inline constexpr uint32_t kWeightFileVersion = 1;
inline constexpr uint64_t kWeightAlignment = 4096;

struct WeightFileHeader {
  char magic[8];
  uint32_t version;
  uint32_t reserved;
  uint64_t plan_id;
  uint64_t file_size;
};
} // namespace llmrt
