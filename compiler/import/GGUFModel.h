// A GGUF file as a model: its metadata mapped to the ModelConfig that a Hugging Face config.json
// would give, and its tensors under Hugging Face names and shapes.
//
// Supported `general.architecture` values: llama (LlamaForCausalLM; MistralForCausalLM when the
// file sets llama.attention.sliding_window, since llama.cpp stores Mistral checkpoints as llama)
// and qwen2 (Qwen2ForCausalLM). Metadata under the architecture's prefix that llmc does not
// implement is refused with a message naming the key; so are tensors that are not part of the
// supported architectures (e.g. rope_freqs.weight of Llama 3 rope scaling).
//
// llama.cpp's converter reorders the rows of q_proj and k_proj of llama-architecture checkpoints
// within each head (HF rotate-half rope -> ggml's interleaved rope). The weight source undoes
// that, so readFloat32 gives exactly the Hugging Face tensors.
#pragma once

#include "import/HFConfig.h"
#include "import/WeightSource.h"

#include <memory>
#include <string>

namespace llmc {

struct GGUFModel {
  ModelConfig config;
  GenerationConfig generation;
  std::unique_ptr<WeightSource> weights;
  std::string chatTemplate; // tokenizer.chat_template; empty if absent
};

// Throws llm::Error naming the file and the key or tensor at fault.
GGUFModel openGGUFModel(const std::string &path);

class GGUFFile;
// The same over an already parsed file (taken over); `GGUFModel::weights` owns it.
GGUFModel ggufModelFromFile(GGUFFile file);

} // namespace llmc
