// GGUF (v3) files: metadata, tensor index, and conversion of F32/F16/BF16/Q8_0/Q4_0/Q4_1/Q5_0/
// Q5_1/Q4_K/Q5_K/Q6_K tensors to float32. Every count, offset, type and string length is checked against the file: a truncated
// or lying file is refused with llm::Error naming the file and what is wrong.
#pragma once

#include "support/MappedFile.h"

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace llmc {

// A metadata value. Integers of every width are widened (signed ones to int64_t, unsigned to
// uint64_t); `type` keeps the GGUF value type it was stored as.
struct GGUFValue {
  enum class Type : uint32_t {
    UInt8 = 0, Int8 = 1, UInt16 = 2, Int16 = 3, UInt32 = 4, Int32 = 5, Float32 = 6, Bool = 7,
    String = 8, Array = 9, UInt64 = 10, Int64 = 11, Float64 = 12
  };
  Type type = Type::UInt8;
  std::variant<uint64_t, int64_t, double, bool, std::string, std::vector<GGUFValue>> value;

  bool isInteger() const;
  // Throws llm::Error (naming `key`) when the value is not of the asked kind or out of range.
  int64_t asInt(std::string_view key) const;
  double asFloat(std::string_view key) const; // integers and floats
  bool asBool(std::string_view key) const;
  const std::string &asString(std::string_view key) const;
  const std::vector<GGUFValue> &asArray(std::string_view key) const;
};

// ggml tensor types this reader knows (numbering from ggml).
enum class GGMLType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9, Q2_K = 10,
  Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15, BF16 = 30,
  // Indexed (their block sizes are known) but not converted by toFloat32.
  IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22,
  IQ4_XS = 23, I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, TQ1_0 = 34,
  TQ2_0 = 35, MXFP4 = 39
};
std::string_view ggmlTypeName(GGMLType t); // "Q4_1"; "type N" for unknown ones
// Elements per block and bytes per block of a type ggml defines; false for unknown numbers.
bool ggmlTypeBlock(GGMLType t, uint64_t &blockSize, uint64_t &typeSize);

struct GGUFTensorInfo {
  std::string name;                 // as stored, e.g. blk.0.attn_q.weight
  std::vector<int64_t> dims;        // GGUF order: dims[0] is the contiguous (innermost) one
  GGMLType type = GGMLType::F32;
  uint64_t offset = 0;              // relative to the data section
  const uint8_t *data = nullptr;    // into the mapping
  size_t nbytes = 0;
  int64_t numel() const;
  bool convertible() const;         // toFloat32 supports its type
};

class GGUFFile {
public:
  static GGUFFile open(const std::string &path);
  // Same checks over bytes in memory (copied); `name` stands for the path in messages.
  static GGUFFile fromBytes(std::span<const uint8_t> bytes, const std::string &name);

  GGUFFile(GGUFFile &&) noexcept = default;
  GGUFFile &operator=(GGUFFile &&) noexcept = default;

  uint32_t version() const { return version_; }
  const std::string &path() const { return path_; }
  const std::map<std::string, GGUFValue, std::less<>> &metadata() const { return metadata_; }
  const GGUFValue *find(std::string_view key) const; // nullptr if absent
  const GGUFValue &get(std::string_view key) const;  // llm::Error naming the key if absent
  const std::vector<GGUFTensorInfo> &tensors() const { return tensors_; }
  const GGUFTensorInfo *findTensor(std::string_view name) const;

  // Dequantizes / converts into `out` (numel floats, GGUF element order). llm::Error for types
  // other than F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K.
  void toFloat32(const GGUFTensorInfo &t, std::span<float> out) const;

private:
  GGUFFile() = default;
  void parse(std::span<const uint8_t> bytes);

  llm::MappedFile map_;
  std::vector<uint8_t> owned_;
  std::string path_;
  uint32_t version_ = 0;
  std::map<std::string, GGUFValue, std::less<>> metadata_;
  std::vector<GGUFTensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensorIndex_;
};

} // namespace llmc
