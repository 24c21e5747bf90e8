// The Hugging Face config.json of a decoder-only model, normalized into one struct.
//
// Real checkpoints come in two dialects: transformers 4.x writes `rope_theta` and `rope_scaling`
// (`type` or `rope_type`); transformers 5.x writes one `rope_parameters` dict. Both parse to the same
// RopeConfig. Every field is accounted for: a field that changes the computation and that llmc does
// not implement is refused with a message naming it, never silently ignored.
#pragma once

#include "import/QuantizationConfig.h"

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace llmc {

struct RopeConfig {
  enum class Kind { Default, Linear, Llama3 };
  Kind kind = Kind::Default;
  double theta = 10000.0;
  double factor = 1.0;             // linear, llama3
  double lowFreqFactor = 1.0;      // llama3
  double highFreqFactor = 4.0;     // llama3
  int64_t originalMaxPositions = 0; // llama3
};

struct ModelConfig {
  std::string architecture; // e.g. LlamaForCausalLM
  std::string modelType;    // e.g. llama
  int64_t vocabSize = 0;
  int64_t hiddenSize = 0;
  int64_t intermediateSize = 0;
  int64_t numLayers = 0;
  int64_t numHeads = 0;
  int64_t numKVHeads = 0;
  int64_t headDim = 0;
  int64_t maxPositions = 0;
  double rmsNormEps = 1e-6;
  std::string hiddenAct = "silu"; // silu | gelu | gelu_tanh (normalized)
  bool tieWordEmbeddings = false;
  bool attentionBias = false;     // q, k, v projections carry a bias
  bool mlpBias = false;
  RopeConfig rope;
  std::vector<int64_t> slidingWindow; // per layer; 0 = full causal attention
  std::string sourceDType;            // torch_dtype / dtype as written, informational
  int64_t bosTokenId = -1;
  std::vector<int64_t> eosTokenIds;
  // A GPTQ / AWQ checkpoint (quantization_config); absent for float checkpoints.
  std::optional<QuantizationConfig> quantization;
};

// Sampling defaults from generation_config.json (absent file: all defaults).
struct GenerationConfig {
  float temperature = 1.0f;
  int topK = 0;
  float topP = 1.0f;
  bool doSample = false;
  int maxNewTokens = 0;
  int64_t bosTokenId = -1;
  std::vector<int64_t> eosTokenIds;
};

// The architectures llmc imports from Hugging Face folders.
const std::vector<std::string> &supportedArchitectures();

// Throws llm::Error naming `source` (the file) and the offending field.
ModelConfig parseModelConfig(const nlohmann::json &config, const std::string &source);
GenerationConfig parseGenerationConfig(const nlohmann::json &config, const std::string &source);

// Reads and parses <dir>/config.json (required) and <dir>/generation_config.json (optional).
ModelConfig loadModelConfig(const std::string &dir);
GenerationConfig loadGenerationConfig(const std::string &dir, const ModelConfig &model);

} // namespace llmc
