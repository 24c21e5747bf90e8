#include "import/GGUFModel.h"

#include "import/GGUF.h"
#include "support/Error.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <optional>
#include <set>

namespace llmc {
namespace {

// What llmc does with one GGUF key under the architecture's prefix ("llama.block_count" ->
// "block_count"). Keys not listed here are refused: they may change the computation.
const std::set<std::string, std::less<>> kArchKeys = {
    "block_count",
    "context_length",
    "embedding_length",
    "feed_forward_length",
    "vocab_size",
    "attention.head_count",
    "attention.head_count_kv",
    "attention.key_length",
    "attention.value_length",
    "attention.layer_norm_rms_epsilon",
    "attention.sliding_window",
    "rope.freq_base",
    "rope.dimension_count",
    "rope.scale_linear", // older files: the linear scaling factor
    "rope.scaling.type",
    "rope.scaling.factor",
    "rope.scaling.original_context_length",
    "rope.scaling.finetuned", // informational
    "expert_count",           // accepted only as 0
    "expert_used_count",      // accepted only as 0
};

// Sizes in a config beyond this are corrupt, not large (and keep products of two in int64_t).
constexpr int64_t kMaxDimension = (int64_t(1) << 31) - 1;

struct Meta {
  const GGUFFile &file;
  std::string arch;

  std::string what() const { return fmt::format("GGUF file '{}'", file.path()); }
  std::string key(std::string_view k) const { return arch + "." + std::string(k); }

  const GGUFValue *find(std::string_view k) const { return file.find(key(k)); }

  int64_t positive(std::string_view k, std::optional<int64_t> fallback = std::nullopt) const {
    const std::string full = key(k);
    const GGUFValue *v = file.find(full);
    if (!v) {
      if (fallback)
        return *fallback;
      llm::fail("{}: required metadata key '{}' is missing (expected a positive integer)", what(),
                full);
    }
    if (!v->isInteger())
      llm::fail("{}: metadata key '{}' is not an integer (expected a positive integer)", what(),
                full);
    const int64_t n = v->asInt(full);
    if (n <= 0)
      llm::fail("{}: metadata key '{}' is {}, expected a positive integer", what(), full, n);
    if (n > kMaxDimension)
      llm::fail("{}: metadata key '{}' is {}, more than the limit of {}", what(), full, n,
                kMaxDimension);
    return n;
  }

  double number(std::string_view k, std::optional<double> fallback = std::nullopt) const {
    const std::string full = key(k);
    const GGUFValue *v = file.find(full);
    if (!v) {
      if (fallback)
        return *fallback;
      llm::fail("{}: required metadata key '{}' is missing (expected a number)", what(), full);
    }
    return asNumber(*v, full);
  }

  // float32 values are read as the shortest decimal that round-trips (1e-05f -> 1e-5), so the
  // config holds what the original config.json said rather than the float32 widened to double.
  static double asNumber(const GGUFValue &v, const std::string &key) {
    const double d = v.asFloat(key);
    if (v.type != GGUFValue::Type::Float32 || !std::isfinite(d))
      return d;
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof buf, static_cast<float>(d));
    double out = d;
    std::from_chars(buf, res.ptr, out);
    return out;
  }
};

// A GGUF tensor name's Hugging Face name, or "" if the name is not one llmc maps.
std::string hfName(std::string_view name, int64_t numLayers, int64_t &layer) {
  layer = -1;
  static const std::map<std::string, std::string, std::less<>> top = {
      {"token_embd.weight", "model.embed_tokens.weight"},
      {"output_norm.weight", "model.norm.weight"},
      {"output.weight", "lm_head.weight"},
  };
  if (auto it = top.find(name); it != top.end())
    return it->second;
  static const std::map<std::string, std::string, std::less<>> block = {
      {"attn_norm.weight", "input_layernorm.weight"},
      {"attn_q.weight", "self_attn.q_proj.weight"},
      {"attn_q.bias", "self_attn.q_proj.bias"},
      {"attn_k.weight", "self_attn.k_proj.weight"},
      {"attn_k.bias", "self_attn.k_proj.bias"},
      {"attn_v.weight", "self_attn.v_proj.weight"},
      {"attn_v.bias", "self_attn.v_proj.bias"},
      {"attn_output.weight", "self_attn.o_proj.weight"},
      {"ffn_norm.weight", "post_attention_layernorm.weight"},
      {"ffn_gate.weight", "mlp.gate_proj.weight"},
      {"ffn_gate.bias", "mlp.gate_proj.bias"},
      {"ffn_up.weight", "mlp.up_proj.weight"},
      {"ffn_up.bias", "mlp.up_proj.bias"},
      {"ffn_down.weight", "mlp.down_proj.weight"},
      {"ffn_down.bias", "mlp.down_proj.bias"},
  };
  constexpr std::string_view prefix = "blk.";
  if (!name.starts_with(prefix))
    return "";
  std::string_view rest = name.substr(prefix.size());
  const size_t dot = rest.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot > 9)
    return "";
  int64_t n = 0;
  for (char ch : rest.substr(0, dot)) {
    if (ch < '0' || ch > '9')
      return "";
    n = n * 10 + (ch - '0');
  }
  if (rest.substr(0, dot).size() > 1 && rest[0] == '0')
    return ""; // "blk.01." is not a name llama.cpp writes
  if (n >= numLayers)
    return "";
  auto it = block.find(rest.substr(dot + 1));
  if (it == block.end())
    return "";
  layer = n;
  return fmt::format("model.layers.{}.{}", n, it->second);
}

class GGUFSource : public WeightSource {
public:
  struct Entry {
    SourceTensor info;
    size_t index = 0;       // into file_.tensors()
    int64_t permuteHeads = 0; // > 0: undo llama.cpp's q/k row permutation over this many heads
  };

  GGUFSource(GGUFFile file, std::map<std::string, Entry, std::less<>> tensors)
      : file_(std::move(file)), tensors_(std::move(tensors)) {
    std::map<std::string, uint64_t> elements;
    for (const auto &[name, e] : tensors_)
      elements[e.info.dtype] += static_cast<uint64_t>(e.info.numel());
    uint64_t best = 0;
    for (const auto &[dtype, n] : elements)
      if (n > best) {
        best = n;
        dominant_ = dtype;
      }
  }

  const SourceTensor *find(std::string_view name) const override {
    auto it = tensors_.find(name);
    return it == tensors_.end() ? nullptr : &it->second.info;
  }

  void readFloat32(std::string_view name, std::span<float> out) const override {
    auto it = tensors_.find(name);
    if (it == tensors_.end())
      llm::fail("tensor '{}' not found in GGUF file '{}'", name, file_.path());
    const Entry &e = it->second;
    const GGUFTensorInfo &t = file_.tensors()[e.index];
    if (out.size() != static_cast<uint64_t>(e.info.numel()))
      llm::fail("tensor '{}' (GGUF '{}' in '{}') has {} elements, but the output holds {}", name,
                t.name, file_.path(), e.info.numel(), out.size());
    if (!t.convertible())
      llm::fail("tensor '{}' (GGUF '{}' in '{}') has type {}, which llmc cannot convert to "
                "float32 (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K)",
                name, t.name, file_.path(), ggmlTypeName(t.type));
    if (e.permuteHeads == 0) {
      file_.toFloat32(t, out);
      return;
    }
    std::vector<float> stored(out.size());
    file_.toFloat32(t, stored);
    unpermuteRows<float>(stored, out, e.info.shape[0], e.permuteHeads);
  }

  bool readBlocks(std::string_view name, std::string_view dtype,
                  std::span<uint8_t> out) const override {
    auto it = tensors_.find(name);
    if (it == tensors_.end() || it->second.info.dtype != dtype)
      return false;
    const Entry &e = it->second;
    const GGUFTensorInfo &t = file_.tensors()[e.index];
    if (t.nbytes != out.size())
      return false;
    std::span<const uint8_t> stored(t.data, t.nbytes);
    if (e.permuteHeads == 0)
      std::copy(stored.begin(), stored.end(), out.begin());
    else
      unpermuteRows(stored, out, e.info.shape[0], e.permuteHeads);
    return true;
  }

  std::string location() const override { return file_.path(); }
  std::string dominantDType() const override { return dominant_; }

  // llama.cpp's converter (LlamaModel.permute) stores row h*D + 2*j + i of a head at the place of
  // Hugging Face row h*D + i*D/2 + j (D = rows per head, i in {0, 1}, j < D/2): it interleaves
  // the two rotate-half halves of each head. This puts every row back.
  template <class T>
  static void unpermuteRows(std::span<const T> stored, std::span<T> out, int64_t rows,
                            int64_t heads) {
    const int64_t cols = static_cast<int64_t>(stored.size()) / rows;
    const int64_t d = rows / heads, half = d / 2;
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = 0; i < 2; ++i)
        for (int64_t j = 0; j < half; ++j) {
          const int64_t dst = h * d + i * half + j, src = h * d + 2 * j + i;
          std::copy_n(stored.begin() + src * cols, cols, out.begin() + dst * cols);
        }
  }

private:
  GGUFFile file_;
  std::map<std::string, Entry, std::less<>> tensors_;
  std::string dominant_;
};

} // namespace

GGUFModel openGGUFModel(const std::string &path) { return ggufModelFromFile(GGUFFile::open(path)); }

GGUFModel ggufModelFromFile(GGUFFile file) {
  const std::string what = fmt::format("GGUF file '{}'", file.path());
  const GGUFValue *archValue = file.find("general.architecture");
  if (!archValue)
    llm::fail("{}: metadata key 'general.architecture' is missing", what);
  Meta meta{file, archValue->asString("general.architecture")};
  const std::string &arch = meta.arch;

  GGUFModel model;
  ModelConfig &m = model.config;
  if (arch == "llama") {
    m.architecture = "LlamaForCausalLM";
    m.modelType = "llama";
  } else if (arch == "qwen2") {
    m.architecture = "Qwen2ForCausalLM";
    m.modelType = "qwen2";
  } else {
    llm::fail("{}: general.architecture '{}' is not supported (supported: llama, qwen2)", what,
              arch);
  }

  // Every key under the architecture's prefix must be one llmc understands.
  for (const auto &[key, value] : file.metadata()) {
    if (key == "split.count" && value.isInteger() && value.asInt(key) > 1)
      llm::fail("{}: split GGUF files (split.count = {}) are not supported; merge the parts "
                "with llama-gguf-split --merge",
                what, value.asInt(key));
    if (!key.starts_with(arch + "."))
      continue; // general.*, tokenizer.*, quantize.*: not part of the computation
    const std::string_view sub = std::string_view(key).substr(arch.size() + 1);
    if (!kArchKeys.count(sub))
      llm::fail("{}: metadata key '{}' is not supported by llmc (it may change the model's "
                "computation)",
                what, key);
  }
  for (const char *k : {"expert_count", "expert_used_count"})
    if (meta.find(k) && meta.find(k)->asInt(meta.key(k)) != 0)
      llm::fail("{}: metadata key '{}' is {}: mixture-of-experts models are not supported", what,
                meta.key(k), meta.find(k)->asInt(meta.key(k)));

  m.numLayers = meta.positive("block_count");
  if (static_cast<uint64_t>(m.numLayers) > file.tensors().size())
    llm::fail("{}: {} is {}, but the file holds only {} tensors", what, meta.key("block_count"),
              m.numLayers, file.tensors().size());
  m.maxPositions = meta.positive("context_length");
  m.hiddenSize = meta.positive("embedding_length");
  m.intermediateSize = meta.positive("feed_forward_length");
  m.numHeads = meta.positive("attention.head_count");
  m.numKVHeads = meta.positive("attention.head_count_kv", m.numHeads);
  if (m.numHeads % m.numKVHeads != 0)
    llm::fail("{}: {} ({}) must be a multiple of {} ({})", what, meta.key("attention.head_count"),
              m.numHeads, meta.key("attention.head_count_kv"), m.numKVHeads);
  if (!meta.find("attention.key_length") && m.hiddenSize % m.numHeads != 0)
    llm::fail("{}: {} ({}) is not divisible by {} ({}) and {} is not given", what,
              meta.key("embedding_length"), m.hiddenSize, meta.key("attention.head_count"),
              m.numHeads, meta.key("attention.key_length"));
  m.headDim = meta.positive("attention.key_length", m.hiddenSize / m.numHeads);
  if (meta.find("attention.value_length") && meta.positive("attention.value_length") != m.headDim)
    llm::fail("{}: {} ({}) differs from the key length {}; llmc needs equal key and value head "
              "sizes",
              what, meta.key("attention.value_length"), meta.positive("attention.value_length"),
              m.headDim);
  if (m.headDim % 2 != 0)
    llm::fail("{}: the head size {} must be even for rotary embeddings", what, m.headDim);
  if (meta.find("rope.dimension_count") && meta.positive("rope.dimension_count") != m.headDim)
    llm::fail("{}: {} is {}, but the head size is {}: partial rotary embeddings are not "
              "supported",
              what, meta.key("rope.dimension_count"), meta.positive("rope.dimension_count"),
              m.headDim);
  m.rmsNormEps = meta.number("attention.layer_norm_rms_epsilon");
  if (!(m.rmsNormEps > 0))
    llm::fail("{}: {} must be positive", what, meta.key("attention.layer_norm_rms_epsilon"));
  m.hiddenAct = "silu";

  // Rope.
  m.rope.kind = RopeConfig::Kind::Default;
  m.rope.theta = meta.number("rope.freq_base", 10000.0);
  if (!(m.rope.theta > 0))
    llm::fail("{}: {} must be positive", what, meta.key("rope.freq_base"));
  std::string scaling = "none";
  if (const GGUFValue *t = meta.find("rope.scaling.type"))
    scaling = t->asString(meta.key("rope.scaling.type"));
  double factor = 0;
  const char *factorKey = "rope.scaling.factor";
  if (meta.find("rope.scaling.factor")) {
    factor = meta.number("rope.scaling.factor");
  } else if (meta.find("rope.scale_linear")) {
    factorKey = "rope.scale_linear";
    factor = meta.number("rope.scale_linear");
    if (!meta.find("rope.scaling.type"))
      scaling = "linear";
  }
  if (scaling == "linear") {
    if (!(factor > 0))
      llm::fail("{}: linear rope scaling needs a positive {}", what, meta.key(factorKey));
    if (factor != 1.0) {
      m.rope.kind = RopeConfig::Kind::Linear;
      m.rope.factor = factor;
    }
  } else if (scaling == "none") {
    if (factor != 0 && factor != 1.0)
      llm::fail("{}: {} is {} but {} is 'none'", what, meta.key(factorKey), factor,
                meta.key("rope.scaling.type"));
  } else {
    llm::fail("{}: {} '{}' is not supported (expected none or linear)", what,
              meta.key("rope.scaling.type"), scaling);
  }

  // Sliding windows: Mistral checkpoints are stored as llama; Qwen2 uses its window only when the
  // config's use_sliding_window says so, which GGUF does not record.
  m.slidingWindow.assign(m.numLayers, 0);
  if (const GGUFValue *w = meta.find("attention.sliding_window")) {
    const int64_t window = w->asInt(meta.key("attention.sliding_window"));
    if (window < 0)
      llm::fail("{}: {} is negative", what, meta.key("attention.sliding_window"));
    if (window > 0 && arch == "qwen2")
      llm::fail("{}: {} is set for qwen2, but GGUF does not record whether (use_sliding_window) "
                "and from which layer (max_window_layers) Qwen2 uses it",
                what, meta.key("attention.sliding_window"));
    if (window > 0) {
      m.architecture = "MistralForCausalLM";
      m.modelType = "mistral";
      std::fill(m.slidingWindow.begin(), m.slidingWindow.end(), window);
    }
  }

  // Vocabulary size.
  if (meta.find("vocab_size")) {
    m.vocabSize = meta.positive("vocab_size");
  } else if (const GGUFValue *tokens = file.find("tokenizer.ggml.tokens")) {
    m.vocabSize = static_cast<int64_t>(tokens->asArray("tokenizer.ggml.tokens").size());
    if (m.vocabSize == 0)
      llm::fail("{}: tokenizer.ggml.tokens is empty", what);
  } else {
    llm::fail("{}: neither {} nor tokenizer.ggml.tokens gives the vocabulary size", what,
              meta.key("vocab_size"));
  }

  // Special tokens and the chat template.
  auto tokenId = [&](const char *key) -> int64_t {
    const GGUFValue *v = file.find(key);
    if (!v)
      return -1;
    const int64_t id = v->asInt(key);
    if (id < 0 || id >= m.vocabSize)
      llm::fail("{}: {} is {}, outside the vocabulary of {} tokens", what, key, id, m.vocabSize);
    return id;
  };
  m.bosTokenId = tokenId("tokenizer.ggml.bos_token_id");
  if (int64_t eos = tokenId("tokenizer.ggml.eos_token_id"); eos >= 0)
    m.eosTokenIds.push_back(eos);
  if (const GGUFValue *t = file.find("tokenizer.chat_template"))
    model.chatTemplate = t->asString("tokenizer.chat_template");

  // Generation defaults: greedy, unless the file carries llama.cpp's sampling defaults.
  GenerationConfig &g = model.generation;
  g.bosTokenId = m.bosTokenId;
  g.eosTokenIds = m.eosTokenIds;
  // llama.cpp also stops at the end-of-turn / end-of-message tokens.
  for (const char *key : {"tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"})
    if (int64_t id = tokenId(key);
        id >= 0 && std::find(g.eosTokenIds.begin(), g.eosTokenIds.end(), id) == g.eosTokenIds.end())
      g.eosTokenIds.push_back(id);
  const GGUFValue *temp = file.find("general.sampling.temp");
  const GGUFValue *topK = file.find("general.sampling.top_k");
  const GGUFValue *topP = file.find("general.sampling.top_p");
  if (temp || topK || topP) {
    g.doSample = true;
    if (temp)
      g.temperature = static_cast<float>(Meta::asNumber(*temp, "general.sampling.temp"));
    if (topK)
      g.topK = static_cast<int>(std::clamp<int64_t>(topK->asInt("general.sampling.top_k"), -1,
                                                    1 << 30));
    if (topP)
      g.topP = static_cast<float>(Meta::asNumber(*topP, "general.sampling.top_p"));
    if (g.temperature < 0 || g.topK < 0 || !(g.topP > 0 && g.topP <= 1))
      llm::fail("{}: general.sampling defaults out of range (temp >= 0, top_k >= 0, 0 < top_p <= "
                "1)",
                what);
  } else {
    g.doSample = false;
    g.temperature = 0.0f;
  }

  // Tensors.
  std::map<std::string, GGUFSource::Entry, std::less<>> entries;
  for (size_t i = 0; i < file.tensors().size(); ++i) {
    const GGUFTensorInfo &t = file.tensors()[i];
    if (t.name == "rope_freqs.weight")
      llm::fail("{}: tensor 'rope_freqs.weight' holds Llama 3 rope scaling frequencies, which "
                "llmc does not import from GGUF yet",
                what);
    if (t.name.starts_with("blk.") && t.name.ends_with(".attn_output.bias"))
      llm::fail("{}: tensor '{}': an o_proj bias is not supported", what, t.name);
    int64_t layer = -1;
    std::string name = hfName(t.name, m.numLayers, layer);
    if (name.empty())
      llm::fail("{}: tensor '{}' is not part of a {} model as llmc imports it", what, t.name, arch);
    GGUFSource::Entry e;
    e.index = i;
    e.info.name = name;
    e.info.shape.assign(t.dims.rbegin(), t.dims.rend());
    e.info.dtype = std::string(ggmlTypeName(t.type));
    e.info.file = file.path();
    e.info.convertible = t.convertible();
    const bool isQ = t.name.find(".attn_q.") != std::string::npos;
    const bool isK = t.name.find(".attn_k.") != std::string::npos;
    if (arch == "llama" && (isQ || isK)) {
      const int64_t heads = isQ ? m.numHeads : m.numKVHeads;
      const int64_t rows = e.info.shape[0];
      if (rows != heads * m.headDim)
        llm::fail("{}: tensor '{}' has {} rows, expected {} heads x {} = {}", what, t.name, rows,
                  heads, m.headDim, heads * m.headDim);
      e.permuteHeads = heads;
    }
    entries.emplace(std::move(name), std::move(e));
  }
  auto has = [&](const std::string &n) { return entries.count(n) != 0; };
  if (!has("model.embed_tokens.weight"))
    llm::fail("{}: tensor 'token_embd.weight' is missing", what);
  m.tieWordEmbeddings = !has("lm_head.weight");
  m.attentionBias = arch == "qwen2" || has("model.layers.0.self_attn.q_proj.bias");
  m.mlpBias = has("model.layers.0.mlp.gate_proj.bias");

  auto source = std::make_unique<GGUFSource>(std::move(file), std::move(entries));
  m.sourceDType = source->dominantDType();
  model.weights = std::move(source);
  return model;
}

} // namespace llmc
