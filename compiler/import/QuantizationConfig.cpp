#include "import/QuantizationConfig.h"

#include "support/Error.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <set>

namespace llmc {
namespace {

using json = nlohmann::json;

// Fields of GPTQ quantizers' configs (AutoGPTQ, GPTQModel, optimum, transformers' GPTQConfig) that
// describe how the checkpoint was made or which kernels to load it with, not what it computes.
const std::set<std::string> kGPTQInformational = {
    "damp_percent", "damp_auto_increment", "true_sequential", "static_groups",
    "model_name_or_path", "model_file_base_name", "lm_head", "meta", "quantizer", "tokenizer",
    "dataset", "use_exllama", "exllama_config", "max_input_length", "cache_block_outputs",
    "modules_in_block_to_quantize", "block_name_to_quantize", "use_cuda_fp16", "batch_size",
    "pad_token_id", "module_name_preceding_first_block", "disable_exllama", "backend", "mse",
    "modules_to_not_convert", "sym", "desc_act", "checkpoint_format", "format", "pack_dtype",
    "is_marlin_format", "dynamic", "quant_method", "bits", "group_size"};

// The same for AWQ (AutoAWQ, transformers' AwqConfig).
const std::set<std::string> kAWQInformational = {
    "quant_method", "bits", "w_bit", "group_size", "q_group_size", "zero_point", "version",
    "modules_to_not_convert", "backend", "do_fuse", "fuse_max_seq_len", "modules_to_fuse",
    "exllama_config"};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

struct Fields {
  const json &j;
  const std::string &where;

  bool has(const char *key) const { return j.contains(key) && !j.at(key).is_null(); }
  const json *first(std::initializer_list<const char *> keys) const {
    for (const char *k : keys)
      if (has(k))
        return &j.at(k);
    return nullptr;
  }
  int64_t integer(std::initializer_list<const char *> keys, int64_t fallback) const {
    const json *v = first(keys);
    if (!v)
      return fallback;
    if (!v->is_number_integer())
      llm::fail("{}: field '{}' is {}, expected an integer", where, *keys.begin(), v->dump());
    return v->get<int64_t>();
  }
  bool boolean(const char *key, bool fallback) const {
    if (!has(key))
      return fallback;
    if (!j.at(key).is_boolean())
      llm::fail("{}: field '{}' is {}, expected true or false", where, key, j.at(key).dump());
    return j.at(key).get<bool>();
  }
  std::string string(std::initializer_list<const char *> keys, const std::string &fallback) const {
    const json *v = first(keys);
    if (!v)
      return fallback;
    if (!v->is_string())
      llm::fail("{}: field '{}' is {}, expected a string", where, *keys.begin(), v->dump());
    return v->get<std::string>();
  }
  std::vector<std::string> strings(const char *key) const {
    std::vector<std::string> out;
    if (!has(key))
      return out;
    const json &v = j.at(key);
    if (!v.is_array() || !std::all_of(v.begin(), v.end(), [](const json &x) { return x.is_string(); }))
      llm::fail("{}: field '{}' is {}, expected a list of module names", where, key, v.dump());
    for (const json &x : v)
      out.push_back(x.get<std::string>());
    return out;
  }
};

void checkKnown(const json &q, const std::set<std::string> &known, const std::string &where,
                const char *method) {
  for (auto &[key, value] : q.items())
    if (!known.count(key))
      llm::fail("{}: field '{}' (= {}) is not supported for quant_method '{}'", where, key,
                value.dump().substr(0, 80), method);
}

void checkBitsAndGroup(const Fields &f, QuantizationConfig &c) {
  c.bits = f.integer({"bits", "w_bit"}, 0);
  if (c.bits != 4)
    llm::fail("{}: bits {} is not supported (expected 4)", f.where, c.bits);
  c.groupSize = f.integer({"group_size", "q_group_size"}, 0);
  if (c.groupSize != 32 && c.groupSize != 64 && c.groupSize != 128)
    llm::fail("{}: group_size {} is not supported (expected 32, 64 or 128; -1, one group per "
              "row, is not)",
              f.where, c.groupSize);
}

QuantizationConfig parseGPTQ(const Fields &f) {
  checkKnown(f.j, kGPTQInformational, f.where, "gptq");
  QuantizationConfig c;
  c.method = QuantizationConfig::Method::GPTQ;
  checkBitsAndGroup(f, c);
  c.symmetric = f.boolean("sym", true);
  c.descAct = f.boolean("desc_act", false);
  std::string format = lower(f.string({"checkpoint_format", "format"}, "gptq"));
  if (format != "gptq")
    llm::fail("{}: checkpoint_format '{}' is not supported (expected gptq, the v1 packing; "
              "gptq_v2, marlin and others are not)",
              f.where, format);
  if (f.boolean("is_marlin_format", false))
    llm::fail("{}: is_marlin_format true is not supported (expected false: the v1 gptq packing)",
              f.where);
  if (std::string pack = f.string({"pack_dtype"}, "int32"); pack != "int32")
    llm::fail("{}: pack_dtype '{}' is not supported (expected int32)", f.where, pack);
  if (f.has("dynamic") && !f.j.at("dynamic").empty())
    llm::fail("{}: per-module overrides in 'dynamic' are not supported (expected none)", f.where);
  c.modulesToNotConvert = f.strings("modules_to_not_convert");
  return c;
}

QuantizationConfig parseAWQ(const Fields &f) {
  checkKnown(f.j, kAWQInformational, f.where, "awq");
  QuantizationConfig c;
  c.method = QuantizationConfig::Method::AWQ;
  checkBitsAndGroup(f, c);
  if (!f.boolean("zero_point", true))
    llm::fail("{}: zero_point false is not supported (expected true)", f.where);
  std::string version = lower(f.string({"version"}, "gemm"));
  if (version != "gemm")
    llm::fail("{}: version '{}' is not supported (expected gemm; gemv, exllama, ipex and others "
              "pack differently)",
              f.where, version);
  c.modulesToNotConvert = f.strings("modules_to_not_convert");
  return c;
}

} // namespace

const char *methodName(QuantizationConfig::Method m) {
  return m == QuantizationConfig::Method::GPTQ ? "gptq" : "awq";
}

QuantizationConfig parseQuantizationConfig(const json &config, const std::string &source) {
  std::string where = source + " quantization_config";
  if (!config.is_object())
    llm::fail("{}: expected an object, got {}", where, config.dump().substr(0, 80));
  Fields f{config, where};
  std::string method = lower(f.string({"quant_method"}, ""));
  if (method == "gptq")
    return parseGPTQ(f);
  if (method == "awq")
    return parseAWQ(f);
  llm::fail("{}: quant_method '{}' is not supported (expected gptq or awq)", where, method);
}

} // namespace llmc
