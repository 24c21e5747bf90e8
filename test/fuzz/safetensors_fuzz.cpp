// libFuzzer target for the safetensors header parser. Any input must either parse or be refused
// with llm::Error; every other exception, crash or sanitizer report is a bug.
//
// Not wired into CMake (the project builds with GCC); build by hand with clang, e.g.
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Icompiler -Iruntime \
//     test/fuzz/safetensors_fuzz.cpp compiler/import/Safetensors.cpp \
//     runtime/support/MappedFile.cpp -lfmt -o safetensors_fuzz
#include "import/Safetensors.h"

#include "support/Error.h"

#include <cstddef>
#include <cstdint>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  try {
    llmc::SafetensorsFile file =
        llmc::SafetensorsFile::fromBytes(std::span<const uint8_t>(data, size), "fuzz");
    // Whatever parsed must be safe to read in full.
    for (const llmc::TensorInfo &t : file.tensors()) {
      volatile uint8_t sink = 0;
      for (size_t i = 0; i < t.nbytes; ++i)
        sink = sink ^ t.data[i];
      if (t.dtype == llmc::TensorDType::F32 || t.dtype == llmc::TensorDType::F16 ||
          t.dtype == llmc::TensorDType::BF16) {
        std::vector<float> out(static_cast<size_t>(t.numel()));
        llmc::toFloat32(t, out);
      }
    }
  } catch (const llm::Error &) {
  }
  return 0;
}
