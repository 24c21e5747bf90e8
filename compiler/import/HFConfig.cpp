#include "import/HFConfig.h"

#include "support/Error.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

namespace llmc {
namespace {

using json = nlohmann::json;

// Fields that do not change what the model computes at inference time.
const std::set<std::string> kInformationalFields = {
    "_name_or_path", "transformers_version", "initializer_range", "use_cache",
    "attention_dropout", "output_attentions", "output_hidden_states", "return_dict",
    "torchscript", "pad_token_id", "torch_dtype", "dtype", "architectures", "model_type",
    "bos_token_id", "eos_token_id", "tie_word_embeddings", "is_encoder_decoder",
    "use_return_dict", "chunk_size_feed_forward", "id2label", "label2id", "problem_type",
    "tokenizer_class", "prefix", "sep_token_id", "decoder_start_token_id", "task_specific_params",
    "finetuning_task", "add_cross_attention", "cross_attention_hidden_size", "is_decoder",
    "pruned_heads", "tf_legacy_loss", "use_bfloat16", "embedding_dropout", "residual_dropout",
    "quantization_config_ignore"};

// Fields this importer reads; anything else is refused.
const std::set<std::string> kModelFields = {
    "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
    "num_attention_heads", "num_key_value_heads", "head_dim", "max_position_embeddings",
    "rms_norm_eps", "hidden_act", "attention_bias", "mlp_bias", "rope_theta", "rope_scaling",
    "rope_parameters", "sliding_window", "use_sliding_window", "max_window_layers",
    "layer_types", "pretraining_tp", "partial_rotary_factor", "bos_token_id", "eos_token_id"};

struct Reader {
  const json &j;
  const std::string &source;

  bool has(const char *key) const { return j.contains(key) && !j.at(key).is_null(); }

  int64_t positiveInt(const char *key) const {
    if (!has(key))
      llm::fail("{}: required field '{}' is missing (expected a positive integer)", source, key);
    const json &v = j.at(key);
    if (!v.is_number_integer() || v.get<int64_t>() <= 0)
      llm::fail("{}: field '{}' is {}, expected a positive integer", source, key, v.dump());
    return v.get<int64_t>();
  }
  int64_t positiveInt(const char *key, int64_t fallback) const {
    return has(key) ? positiveInt(key) : fallback;
  }
  double number(const char *key, double fallback) const {
    if (!has(key))
      return fallback;
    const json &v = j.at(key);
    if (!v.is_number())
      llm::fail("{}: field '{}' is {}, expected a number", source, key, v.dump());
    return v.get<double>();
  }
  bool boolean(const char *key, bool fallback) const {
    if (!has(key))
      return fallback;
    const json &v = j.at(key);
    if (!v.is_boolean())
      llm::fail("{}: field '{}' is {}, expected true or false", source, key, v.dump());
    return v.get<bool>();
  }
  std::string string(const char *key, const std::string &fallback) const {
    if (!has(key))
      return fallback;
    const json &v = j.at(key);
    if (!v.is_string())
      llm::fail("{}: field '{}' is {}, expected a string", source, key, v.dump());
    return v.get<std::string>();
  }
  // An id or a list of ids (eos_token_id is either).
  std::vector<int64_t> ids(const char *key) const {
    std::vector<int64_t> out;
    if (!has(key))
      return out;
    const json &v = j.at(key);
    auto one = [&](const json &x) {
      if (!x.is_number_integer() || x.get<int64_t>() < 0)
        llm::fail("{}: field '{}' holds {}, expected non-negative token ids", source, key,
                  x.dump());
      out.push_back(x.get<int64_t>());
    };
    if (v.is_array())
      for (const json &x : v)
        one(x);
    else
      one(v);
    return out;
  }
};

std::string normalizeActivation(const std::string &act, const std::string &source) {
  if (act == "silu" || act == "swish")
    return "silu";
  if (act == "gelu")
    return "gelu";
  if (act == "gelu_pytorch_tanh" || act == "gelu_new" || act == "gelu_fast")
    return "gelu_tanh";
  llm::fail("{}: hidden_act '{}' is not supported (expected silu, gelu or gelu_pytorch_tanh)",
            source, act);
}

// One rope dict of either dialect: {rope_type|type, factor, ...} (+ rope_theta in 5.x).
RopeConfig parseRopeDict(const json &d, double theta, const std::string &source,
                         const char *field) {
  if (!d.is_object())
    llm::fail("{}: '{}' is {}, expected an object", source, field, d.dump());
  std::string where = fmt::format("{} '{}'", source, field);
  Reader r{d, where};
  RopeConfig rope;
  rope.theta = r.number("rope_theta", theta);
  std::string type = r.string("rope_type", r.string("type", "default"));
  for (auto &[key, value] : d.items()) {
    static const std::set<std::string> known = {
        "rope_type", "type", "rope_theta", "factor", "low_freq_factor", "high_freq_factor",
        "original_max_position_embeddings", "partial_rotary_factor"};
    if (!known.count(key))
      llm::fail("{}: rope field '{}' is not supported (rope_type '{}')", where, key, type);
  }
  if (d.contains("partial_rotary_factor") && r.number("partial_rotary_factor", 1.0) != 1.0)
    llm::fail("{}: partial_rotary_factor {} is not supported (expected 1.0)", where,
              d["partial_rotary_factor"].dump());
  if (type == "default") {
    rope.kind = RopeConfig::Kind::Default;
  } else if (type == "linear") {
    rope.kind = RopeConfig::Kind::Linear;
    rope.factor = r.number("factor", 0);
    if (!(rope.factor > 0))
      llm::fail("{}: linear rope scaling needs a positive 'factor'", where);
  } else if (type == "llama3") {
    rope.kind = RopeConfig::Kind::Llama3;
    rope.factor = r.number("factor", 0);
    rope.lowFreqFactor = r.number("low_freq_factor", 0);
    rope.highFreqFactor = r.number("high_freq_factor", 0);
    rope.originalMaxPositions = r.positiveInt("original_max_position_embeddings");
    if (!(rope.factor > 0) || !(rope.lowFreqFactor > 0) ||
        !(rope.highFreqFactor > rope.lowFreqFactor))
      llm::fail("{}: llama3 rope scaling needs factor > 0 and high_freq_factor > "
                "low_freq_factor > 0",
                where);
  } else {
    llm::fail("{}: rope_type '{}' is not supported (expected default, linear or llama3)", where,
              type);
  }
  if (!(rope.theta > 0))
    llm::fail("{}: rope_theta must be positive", where);
  return rope;
}

RopeConfig parseRope(const Reader &r) {
  double theta = r.number("rope_theta", 10000.0);
  if (r.has("rope_parameters")) {
    const json &p = r.j.at("rope_parameters");
    // Nested per layer type (e.g. {"full_attention": {...}, "sliding_attention": {...}}) is a
    // Gemma-3-style layout that none of the supported architectures uses.
    if (p.is_object() && !p.contains("rope_type") && !p.contains("type") && !p.empty() &&
        p.begin()->is_object())
      llm::fail("{}: per-layer-type rope_parameters are not supported for {}", r.source,
                r.string("model_type", "this model"));
    return parseRopeDict(p, theta, r.source, "rope_parameters");
  }
  if (r.has("rope_scaling"))
    return parseRopeDict(r.j.at("rope_scaling"), theta, r.source, "rope_scaling");
  RopeConfig rope;
  rope.theta = theta;
  if (!(theta > 0))
    llm::fail("{}: rope_theta must be positive", r.source);
  return rope;
}

// Per-layer sliding windows: explicit `layer_types` (transformers 5), else the 4.x fields.
std::vector<int64_t> parseSlidingWindows(const Reader &r, const ModelConfig &m) {
  std::vector<int64_t> windows(m.numLayers, 0);
  int64_t window = r.has("sliding_window") ? r.positiveInt("sliding_window") : 0;
  bool isQwen2 = m.architecture == "Qwen2ForCausalLM";
  if (r.has("layer_types")) {
    const json &types = r.j.at("layer_types");
    if (!types.is_array() || (int64_t)types.size() != m.numLayers)
      llm::fail("{}: layer_types must list {} entries (num_hidden_layers)", r.source, m.numLayers);
    for (int64_t i = 0; i < m.numLayers; ++i) {
      std::string t = types[i].is_string() ? types[i].get<std::string>() : types[i].dump();
      if (t == "sliding_attention") {
        if (window == 0)
          llm::fail("{}: layer_types[{}] is sliding_attention but sliding_window is not set",
                    r.source, i);
        windows[i] = window;
      } else if (t != "full_attention") {
        llm::fail("{}: layer_types[{}] is '{}', expected full_attention or sliding_attention",
                  r.source, i, t);
      }
    }
    return windows;
  }
  if (isQwen2) {
    // Qwen2 (4.x): sliding only when use_sliding_window, for layers >= max_window_layers.
    if (!r.boolean("use_sliding_window", false) || window == 0)
      return windows;
    int64_t first = r.has("max_window_layers") ? r.j.at("max_window_layers").get<int64_t>() : 0;
    for (int64_t i = std::max<int64_t>(first, 0); i < m.numLayers; ++i)
      windows[i] = window;
    return windows;
  }
  if (m.architecture == "LlamaForCausalLM" && window != 0)
    llm::fail("{}: sliding_window is set, but LlamaForCausalLM has no sliding-window attention",
              r.source);
  std::fill(windows.begin(), windows.end(), window);
  return windows;
}

void checkFields(const json &config, const std::string &source) {
  for (auto &[key, value] : config.items()) {
    if (kModelFields.count(key) || kInformationalFields.count(key))
      continue;
    if (key == "quantization_config")
      continue; // parseQuantizationConfig
    llm::fail("{}: config field '{}' (= {}) is not supported by llmc; remove it if it does not "
              "change the model's computation",
              source, key, value.dump().substr(0, 80));
  }
}

} // namespace

const std::vector<std::string> &supportedArchitectures() {
  static const std::vector<std::string> archs = {"LlamaForCausalLM", "MistralForCausalLM",
                                                 "Qwen2ForCausalLM"};
  return archs;
}

ModelConfig parseModelConfig(const json &config, const std::string &source) {
  if (!config.is_object())
    llm::fail("{}: expected a JSON object", source);
  Reader r{config, source};
  ModelConfig m;
  if (!config.contains("architectures") || !config["architectures"].is_array() ||
      config["architectures"].size() != 1 || !config["architectures"][0].is_string())
    llm::fail("{}: 'architectures' must list exactly one architecture name", source);
  m.architecture = config["architectures"][0].get<std::string>();
  const auto &archs = supportedArchitectures();
  if (std::find(archs.begin(), archs.end(), m.architecture) == archs.end())
    llm::fail("{}: architecture '{}' is not supported (supported: {})", source, m.architecture,
              fmt::join(archs, ", "));
  checkFields(config, source);
  m.modelType = r.string("model_type", "");
  m.vocabSize = r.positiveInt("vocab_size");
  m.hiddenSize = r.positiveInt("hidden_size");
  m.intermediateSize = r.positiveInt("intermediate_size");
  m.numLayers = r.positiveInt("num_hidden_layers");
  m.numHeads = r.positiveInt("num_attention_heads");
  m.numKVHeads = r.positiveInt("num_key_value_heads", m.numHeads);
  if (m.numHeads % m.numKVHeads != 0)
    llm::fail("{}: num_attention_heads ({}) must be a multiple of num_key_value_heads ({})",
              source, m.numHeads, m.numKVHeads);
  if (!r.has("head_dim") && m.hiddenSize % m.numHeads != 0)
    llm::fail("{}: hidden_size ({}) is not divisible by num_attention_heads ({}) and head_dim "
              "is not given",
              source, m.hiddenSize, m.numHeads);
  m.headDim = r.positiveInt("head_dim", m.hiddenSize / m.numHeads);
  if (m.headDim % 2 != 0)
    llm::fail("{}: head_dim {} must be even for rotary embeddings", source, m.headDim);
  m.maxPositions = r.positiveInt("max_position_embeddings", 4096);
  m.rmsNormEps = r.number("rms_norm_eps", 1e-6);
  if (!(m.rmsNormEps > 0))
    llm::fail("{}: rms_norm_eps must be positive", source);
  m.hiddenAct = normalizeActivation(r.string("hidden_act", "silu"), source);
  m.tieWordEmbeddings = r.boolean("tie_word_embeddings", false);
  // Qwen2 always has q/k/v biases; Llama and Mistral have them when attention_bias says so.
  m.attentionBias = m.architecture == "Qwen2ForCausalLM" ? true : r.boolean("attention_bias", false);
  m.mlpBias = r.boolean("mlp_bias", false);
  if (r.has("pretraining_tp") && r.j.at("pretraining_tp") != 1)
    llm::fail("{}: pretraining_tp {} is not supported (expected 1)", source,
              r.j.at("pretraining_tp").dump());
  if (r.has("partial_rotary_factor") && r.number("partial_rotary_factor", 1.0) != 1.0)
    llm::fail("{}: partial_rotary_factor is not supported (expected 1.0)", source);
  m.rope = parseRope(r);
  m.slidingWindow = parseSlidingWindows(r, m);
  m.sourceDType = r.string("torch_dtype", r.string("dtype", ""));
  m.bosTokenId = r.ids("bos_token_id").empty() ? -1 : r.ids("bos_token_id").front();
  m.eosTokenIds = r.ids("eos_token_id");
  if (r.has("quantization_config"))
    m.quantization = parseQuantizationConfig(config.at("quantization_config"), source);
  return m;
}

GenerationConfig parseGenerationConfig(const json &config, const std::string &source) {
  if (!config.is_object())
    llm::fail("{}: expected a JSON object", source);
  Reader r{config, source};
  GenerationConfig g;
  g.doSample = r.boolean("do_sample", false);
  g.temperature = static_cast<float>(r.number("temperature", 1.0));
  g.topK = static_cast<int>(r.number("top_k", 0));
  g.topP = static_cast<float>(r.number("top_p", 1.0));
  g.maxNewTokens = static_cast<int>(r.number("max_new_tokens", 0));
  if (g.temperature < 0 || g.topK < 0 || !(g.topP > 0 && g.topP <= 1))
    llm::fail("{}: sampling defaults out of range (temperature >= 0, top_k >= 0, 0 < top_p <= 1)",
              source);
  g.bosTokenId = r.ids("bos_token_id").empty() ? -1 : r.ids("bos_token_id").front();
  g.eosTokenIds = r.ids("eos_token_id");
  return g;
}

static json readJson(const std::filesystem::path &path) {
  std::ifstream in(path);
  if (!in)
    llm::fail("cannot read '{}'", path.string());
  json j = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded())
    llm::fail("'{}' is not valid JSON", path.string());
  return j;
}

ModelConfig loadModelConfig(const std::string &dir) {
  std::filesystem::path path = std::filesystem::path(dir) / "config.json";
  if (!std::filesystem::exists(path))
    llm::fail("'{}' has no config.json (expected a Hugging Face model folder)", dir);
  return parseModelConfig(readJson(path), path.string());
}

GenerationConfig loadGenerationConfig(const std::string &dir, const ModelConfig &model) {
  std::filesystem::path path = std::filesystem::path(dir) / "generation_config.json";
  GenerationConfig g;
  if (std::filesystem::exists(path))
    g = parseGenerationConfig(readJson(path), path.string());
  // A model's own ids fill in what the generation config leaves out.
  if (g.bosTokenId < 0)
    g.bosTokenId = model.bosTokenId;
  if (g.eosTokenIds.empty())
    g.eosTokenIds = model.eosTokenIds;
  // Greedy unless the checkpoint asks to sample: do_sample false means temperature 0.
  if (!g.doSample)
    g.temperature = 0.0f;
  return g;
}

} // namespace llmc
