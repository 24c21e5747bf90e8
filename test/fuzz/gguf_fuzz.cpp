// libFuzzer target for the GGUF reader. Any input must either parse or be refused with llm::Error;
// every other exception, crash, sanitizer report or out-of-memory is a bug. Whatever parses is
// read in full: every tensor's bytes, every convertible tensor through toFloat32 (tensors of more
// than 2^24 elements are skipped to keep runs fast; their bounds were checked like the others'),
// and the model importer over the parsed file.
//
// Not wired into CMake (the project builds with GCC); build by hand with clang, e.g.
//   clang++-14 -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Icompiler -Iruntime \
//     test/fuzz/gguf_fuzz.cpp compiler/import/GGUF.cpp compiler/import/GGUFModel.cpp \
//     compiler/import/WeightSource.cpp compiler/import/Safetensors.cpp \
//     runtime/support/MappedFile.cpp -lfmt -o gguf_fuzz
//   ./gguf_fuzz -max_total_time=60 -rss_limit_mb=2048 CORPUS_DIR test/fixtures/gguf
#include "import/GGUF.h"
#include "import/GGUFModel.h"

#include "support/Error.h"

#include <cstddef>
#include <cstdint>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  try {
    llmc::GGUFFile file = llmc::GGUFFile::fromBytes(std::span<const uint8_t>(data, size), "fuzz");
    for (const auto &[key, value] : file.metadata()) {
      (void)value.isInteger();
      try {
        (void)value.asFloat(key);
      } catch (const llm::Error &) {
      }
    }
    for (const llmc::GGUFTensorInfo &t : file.tensors()) {
      volatile uint8_t sink = 0;
      for (size_t i = 0; i < t.nbytes; ++i)
        sink = sink ^ t.data[i];
      if (t.convertible() && t.numel() <= (int64_t(1) << 24)) {
        std::vector<float> out(static_cast<size_t>(t.numel()));
        file.toFloat32(t, out);
      }
    }
    llmc::GGUFModel model = llmc::ggufModelFromFile(std::move(file));
    (void)model.weights->dominantDType();
    // The tensors with a storage permutation to undo, and one without.
    for (const char *name :
         {"model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.k_proj.weight",
          "model.layers.0.self_attn.q_proj.bias", "model.layers.0.self_attn.k_proj.bias",
          "model.embed_tokens.weight"}) {
      const llmc::SourceTensor *t = model.weights->find(name);
      if (t && t->convertible && t->numel() <= (int64_t(1) << 24)) {
        std::vector<float> out(static_cast<size_t>(t->numel()));
        model.weights->readFloat32(name, out);
      }
    }
  } catch (const llm::Error &) {
  }
  return 0;
}
