// The HF config parser: both dialects (transformers 4.x rope_theta/rope_scaling, 5.x
// rope_parameters), per-layer sliding windows, and refusals that name the field.
#include "ConfigErrors.h"
#include "import/HFConfig.h"
#include "support/Error.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace {

using nlohmann::json;
using llmc::RopeConfig;

json llama() {
  return json::parse(R"({
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 256,
    "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
    "num_attention_heads": 4, "num_key_value_heads": 2, "rms_norm_eps": 1e-5,
    "max_position_embeddings": 256, "hidden_act": "silu", "tie_word_embeddings": false,
    "eos_token_id": [2, 3], "bos_token_id": 1, "transformers_version": "5.0.0"})");
}

std::string errorOf(const json &j) { return llmtest::configError(j); }

TEST(HFConfig, DefaultsAndDerivedFields) {
  auto c = llmc::parseModelConfig(llama(), "config.json");
  EXPECT_EQ(c.architecture, "LlamaForCausalLM");
  EXPECT_EQ(c.headDim, 16);
  EXPECT_EQ(c.numKVHeads, 2);
  EXPECT_EQ(c.rope.kind, RopeConfig::Kind::Default);
  EXPECT_DOUBLE_EQ(c.rope.theta, 10000.0);
  EXPECT_EQ(c.slidingWindow, (std::vector<int64_t>{0, 0}));
  EXPECT_EQ(c.eosTokenIds, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(c.bosTokenId, 1);
  EXPECT_FALSE(c.attentionBias);
}

TEST(HFConfig, BothRopeDialectsParseTheSame) {
  json v4 = llama();
  v4["rope_theta"] = 500000.0;
  v4["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                        {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 8192}};
  json v5 = llama();
  v5["rope_parameters"] = {{"rope_type", "llama3"}, {"rope_theta", 500000.0}, {"factor", 8.0},
                           {"low_freq_factor", 1.0}, {"high_freq_factor", 4.0},
                           {"original_max_position_embeddings", 8192}};
  for (const json &j : {v4, v5}) {
    auto c = llmc::parseModelConfig(j, "config.json");
    EXPECT_EQ(c.rope.kind, RopeConfig::Kind::Llama3);
    EXPECT_DOUBLE_EQ(c.rope.theta, 500000.0);
    EXPECT_DOUBLE_EQ(c.rope.factor, 8.0);
    EXPECT_EQ(c.rope.originalMaxPositions, 8192);
  }
  json old = llama();
  old["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}}; // the oldest spelling
  EXPECT_EQ(llmc::parseModelConfig(old, "c").rope.kind, RopeConfig::Kind::Linear);
}

TEST(HFConfig, Qwen2SlidingWindowRules) {
  json q = llama();
  q["architectures"] = {"Qwen2ForCausalLM"};
  q["sliding_window"] = 4;
  q["max_window_layers"] = 1;
  q["use_sliding_window"] = false;
  auto off = llmc::parseModelConfig(q, "c");
  EXPECT_EQ(off.slidingWindow, (std::vector<int64_t>{0, 0})) << "use_sliding_window false";
  EXPECT_TRUE(off.attentionBias) << "Qwen2 always has q/k/v biases";
  q["use_sliding_window"] = true;
  EXPECT_EQ(llmc::parseModelConfig(q, "c").slidingWindow, (std::vector<int64_t>{0, 4}));
  q["layer_types"] = {"sliding_attention", "full_attention"}; // explicit wins
  EXPECT_EQ(llmc::parseModelConfig(q, "c").slidingWindow, (std::vector<int64_t>{4, 0}));
}

TEST(HFConfig, MistralWindowOnEveryLayer) {
  json m = llama();
  m["architectures"] = {"MistralForCausalLM"};
  m["sliding_window"] = 4096;
  EXPECT_EQ(llmc::parseModelConfig(m, "c").slidingWindow, (std::vector<int64_t>{4096, 4096}));
  m["sliding_window"] = nullptr;
  EXPECT_EQ(llmc::parseModelConfig(m, "c").slidingWindow, (std::vector<int64_t>{0, 0}));
}

TEST(HFConfig, RefusalsNameTheField) {
  json j = llama();
  j["architectures"] = {"FalconForCausalLM"};
  EXPECT_NE(errorOf(j).find("architecture 'FalconForCausalLM' is not supported"),
            std::string::npos);
  j = llama();
  j["use_alibi"] = true;
  EXPECT_NE(errorOf(j).find("config field 'use_alibi'"), std::string::npos);
  j = llama();
  j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
  EXPECT_NE(errorOf(j).find("rope_type 'yarn' is not supported"), std::string::npos);
  j = llama();
  j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}};
  EXPECT_NE(errorOf(j).find("original_max_position_embeddings"), std::string::npos);
  j = llama();
  j["num_key_value_heads"] = 3;
  EXPECT_NE(errorOf(j).find("must be a multiple of num_key_value_heads (3)"), std::string::npos);
  j = llama();
  j["hidden_size"] = "64";
  EXPECT_NE(errorOf(j).find("field 'hidden_size' is \"64\", expected a positive integer"),
            std::string::npos);
  j = llama();
  j.erase("vocab_size");
  EXPECT_NE(errorOf(j).find("required field 'vocab_size' is missing"), std::string::npos);
  j = llama();
  j["hidden_act"] = "relu";
  EXPECT_NE(errorOf(j).find("hidden_act 'relu' is not supported"), std::string::npos);
  j = llama();
  j["rope_parameters"] = {{"full_attention", {{"rope_type", "default"}}},
                          {"sliding_attention", {{"rope_type", "default"}}}};
  EXPECT_NE(errorOf(j).find("per-layer-type rope_parameters"), std::string::npos);
  j = llama();
  j["layer_types"] = {"full_attention"};
  EXPECT_NE(errorOf(j).find("layer_types must list 2 entries"), std::string::npos);
  j = llama();
  j["sliding_window"] = 128;
  EXPECT_NE(errorOf(j).find("LlamaForCausalLM has no sliding-window attention"),
            std::string::npos);
  j = llama();
  j["quantization_config"] = {{"quant_method", "gptq"}};
  EXPECT_NE(errorOf(j).find("quantization_config"), std::string::npos);
  EXPECT_NE(errorOf(json::array()).find("expected a JSON object"), std::string::npos);
}

TEST(HFConfig, GenerationDefaults) {
  auto g = llmc::parseGenerationConfig(
      json::parse(R"({"do_sample": true, "temperature": 0.6, "top_p": 0.9, "eos_token_id": 7})"),
      "generation_config.json");
  EXPECT_TRUE(g.doSample);
  EXPECT_FLOAT_EQ(g.temperature, 0.6f);
  EXPECT_FLOAT_EQ(g.topP, 0.9f);
  EXPECT_EQ(g.eosTokenIds, (std::vector<int64_t>{7}));
  EXPECT_THROW(llmc::parseGenerationConfig(json::parse(R"({"top_p": 1.5})"), "g"), llm::Error);
}

} // namespace
