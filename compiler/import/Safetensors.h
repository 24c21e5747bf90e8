// Reader of safetensors weight files and of Hugging Face model folders holding them.
//
// A safetensors file is: an 8-byte little-endian u64 header length N, N bytes of JSON
//   {"__metadata__": {str: str}, "name": {"dtype": "F32", "shape": [..], "data_offsets": [b, e]}, ...}
// and then the data region; offsets are relative to the first byte after the header.
//
// The reader is strict: every malformed header, offset, shape or dtype is an llm::Error naming the
// file (and the tensor) and what was expected. Tensor data is not copied: TensorInfo::data points
// into a read-only memory map owned by the SafetensorsFile (and so by the WeightSet), and may be
// unaligned (read it with memcpy or toFloat32).
#pragma once

#include "support/MappedFile.h"

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace llmc {

// Element types, named as the format names them ("F32", "BF16", "F8_E4M3", ...).
enum class TensorDType { F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL, F8_E4M3, F8_E5M2 };

size_t dtypeSize(TensorDType dtype);
std::string_view dtypeName(TensorDType dtype);
// True for F32, F16, BF16, F64, F8_E4M3 and F8_E5M2.
bool isFloating(TensorDType dtype);
// Parses a format name ("F16"); returns false if the name is not one of the above.
bool parseDType(std::string_view name, TensorDType &out);

struct TensorInfo {
  std::string name;
  TensorDType dtype = TensorDType::F32;
  std::vector<int64_t> shape;
  const uint8_t *data = nullptr; // into the owning file's mapping; not necessarily aligned
  size_t nbytes = 0;
  std::string file; // path of the file holding the tensor
  int64_t numel() const;
};

class SafetensorsFile {
public:
  // Maps and validates the file; throws llm::Error naming the path on any problem.
  static SafetensorsFile open(const std::string &path);
  // Same validation over bytes in memory (copied into the returned object); `name` stands for the
  // path in messages and in TensorInfo::file. Used by tests and the fuzz target.
  static SafetensorsFile fromBytes(std::span<const uint8_t> bytes, const std::string &name);

  SafetensorsFile(SafetensorsFile &&) noexcept = default;
  SafetensorsFile &operator=(SafetensorsFile &&) noexcept = default;
  SafetensorsFile(const SafetensorsFile &) = delete;
  SafetensorsFile &operator=(const SafetensorsFile &) = delete;

  // In the order of their data offsets.
  const std::vector<TensorInfo> &tensors() const { return tensors_; }
  const std::map<std::string, std::string> &metadata() const { return metadata_; }
  const std::string &path() const { return path_; }
  // nullptr if absent.
  const TensorInfo *find(std::string_view name) const;

private:
  SafetensorsFile() = default;
  void parse(std::span<const uint8_t> bytes);

  llm::MappedFile map_;
  std::vector<uint8_t> owned_; // fromBytes only
  std::string path_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

// All tensors of a Hugging Face model folder: model.safetensors, or else
// model.safetensors.index.json ({"weight_map": {tensor name: shard file}}) and its shards.
class WeightSet {
public:
  // Throws llm::Error if neither file exists, if a shard the index lists is missing or invalid, if
  // a tensor the index lists is not in the shard it names, or if a tensor name appears twice.
  // Tensors present in a shard but not listed in the index are kept.
  static WeightSet openFolder(const std::string &dir);

  WeightSet(WeightSet &&) noexcept = default;
  WeightSet &operator=(WeightSet &&) noexcept = default;

  const TensorInfo *find(std::string_view name) const; // nullptr if absent
  const TensorInfo &get(std::string_view name) const;  // llm::Error if absent
  std::vector<std::string> names() const;              // sorted
  size_t size() const { return byName_.size(); }
  const std::vector<SafetensorsFile> &files() const { return files_; }
  const std::string &dir() const { return dir_; }
  // The floating dtype holding the most elements ("BF16"), for plan metadata; "" if none.
  std::string_view dominantDType() const;

private:
  WeightSet() = default;

  std::string dir_;
  std::vector<SafetensorsFile> files_;
  // Points into files_' tensor vectors, which do not move when files_ grows or is moved.
  std::map<std::string, const TensorInfo *, std::less<>> byName_;
};

// Converts a floating tensor (F32, F16, BF16) to float32, exactly, into `out` (numel floats).
// Other dtypes, or an `out` of the wrong size: llm::Error naming the tensor.
void toFloat32(const TensorInfo &t, std::span<float> out);

// Exact scalar conversions (IEEE binary16 and bfloat16 bit patterns to float).
float halfToFloat(uint16_t bits);
float bfloat16ToFloat(uint16_t bits);

} // namespace llmc
