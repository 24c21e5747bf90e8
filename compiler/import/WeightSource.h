// A checkpoint's tensors under their Hugging Face names, whatever the file format (safetensors
// folder, GGUF file). Recipes and emission read weights only through this interface.
#pragma once

#include "import/QuantizationConfig.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace llmc {

struct SourceTensor {
  std::string name;            // Hugging Face name, e.g. model.layers.0.self_attn.q_proj.weight
  std::vector<int64_t> shape;  // Hugging Face (PyTorch) order: [out_features, in_features]
  std::string dtype;           // as stored: F32, BF16, Q4_1, ...
  std::string file;            // where it is stored, for messages
  bool convertible = false;    // readFloat32 can produce it
  int64_t numel() const;
};

class WeightSource {
public:
  virtual ~WeightSource() = default;
  // nullptr if absent.
  virtual const SourceTensor *find(std::string_view name) const = 0;
  // Writes the tensor as float32 (converted, dequantized, and with any storage-specific permutation
  // undone) into `out`, which holds numel() floats. Throws llm::Error naming the tensor.
  virtual void readFloat32(std::string_view name, std::span<float> out) const = 0;
  // When the tensor is stored in the block format `dtype` ("Q4_1": ggml's name) with
  // out.size() bytes, writes those blocks as stored, with any storage-specific row permutation
  // undone (rows are whole blocks), and returns true; otherwise false and `out` is untouched.
  virtual bool readBlocks(std::string_view name, std::string_view dtype,
                          std::span<uint8_t> out) const {
    (void)name, (void)dtype, (void)out;
    return false;
  }
  // The folder or file, for messages.
  virtual std::string location() const = 0;
  // The storage type holding most elements ("BF16", "Q4_1"), for plan metadata.
  virtual std::string dominantDType() const = 0;
};

// Safetensors folders (single file or sharded); throws llm::Error as WeightSet::openFolder does.
// With a GPTQ / AWQ `quantization`, each quantized linear's `<prefix>.qweight`, `.qzeros`,
// `.scales` (and `.g_idx`) stand for one tensor `<prefix>.weight` [out, in] of dtype "W4G32A" (or
// 64 / 128: the group size): readBlocks("W4G{G}A") repacks it (PackedInt4.h), readFloat32 gives
// scale * (q - zero); the packed parts themselves are not listed. Shapes and dtypes of the parts
// are checked here (llm::Error naming the tensor).
std::unique_ptr<WeightSource>
openSafetensorsFolder(const std::string &dir,
                      const std::optional<QuantizationConfig> &quantization = std::nullopt);

} // namespace llmc
