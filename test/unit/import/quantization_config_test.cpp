// GPTQ / AWQ checkpoints: quantization_config parsing and its refusals (each naming the field and
// the supported values), and the packed linears of test/fixtures/gptq-tiny and awq-tiny seen
// through the weight source: one W4G32A tensor per linear, the GPTQ and the AWQ packing of the
// same integers repacking to the same bytes, act-order g_idx refused.
#include "ConfigErrors.h"
#include "import/HFConfig.h"
#include "import/PackedInt4.h"
#include "import/Safetensors.h"
#include "import/WeightSource.h"
#include "plan/QuantFormat.h"
#include "support/Error.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <numeric>

namespace {

using nlohmann::json;

std::string fixture(const std::string &method) {
  return std::string(LLM_FIXTURES) + "/" + method + "-tiny";
}

json configOf(const std::string &method) {
  std::ifstream in(fixture(method) + "/config.json");
  return json::parse(in);
}

std::string errorOf(const json &j) { return llmtest::configError(j); }

TEST(QuantizationConfig, FixturesParse) {
  auto gptq = llmc::parseModelConfig(configOf("gptq"), "config.json").quantization;
  ASSERT_TRUE(gptq);
  EXPECT_EQ(gptq->method, llmc::QuantizationConfig::Method::GPTQ);
  EXPECT_EQ(gptq->groupSize, 32);
  EXPECT_FALSE(gptq->symmetric);
  auto awq = llmc::parseModelConfig(configOf("awq"), "config.json").quantization;
  ASSERT_TRUE(awq);
  EXPECT_EQ(awq->method, llmc::QuantizationConfig::Method::AWQ);
  EXPECT_EQ(awq->groupSize, 32);
  EXPECT_FALSE(llmc::parseModelConfig(configOf("gptq"), "c").quantization->descAct);
}

struct Refusal {
  const char *method, *field;
  json value;
  const char *message;
};

TEST(QuantizationConfig, UnsupportedFieldsAreRefusedByName) {
  const Refusal cases[] = {
      {"gptq", "quant_method", "bitsandbytes",
       "quant_method 'bitsandbytes' is not supported (expected gptq or awq)"},
      {"gptq", "bits", 8, "bits 8 is not supported (expected 4)"},
      {"gptq", "group_size", -1, "group_size -1 is not supported (expected 32, 64 or 128"},
      {"gptq", "group_size", 16, "group_size 16 is not supported"},
      {"gptq", "checkpoint_format", "gptq_v2",
       "checkpoint_format 'gptq_v2' is not supported (expected gptq, the v1 packing"},
      {"gptq", "checkpoint_format", "marlin", "checkpoint_format 'marlin' is not supported"},
      {"gptq", "is_marlin_format", true, "is_marlin_format true is not supported"},
      {"gptq", "pack_dtype", "int16", "pack_dtype 'int16' is not supported (expected int32)"},
      {"gptq", "dynamic", {{"-:.*down", {{"bits", 8}}}}, "'dynamic' are not supported"},
      {"gptq", "sym", "yes", "field 'sym' is \"yes\", expected true or false"},
      {"gptq", "bogus", 1, "field 'bogus' (= 1) is not supported for quant_method 'gptq'"},
      {"awq", "bits", 3, "bits 3 is not supported (expected 4)"},
      {"awq", "group_size", 256, "group_size 256 is not supported"},
      {"awq", "zero_point", false, "zero_point false is not supported (expected true)"},
      {"awq", "version", "gemv", "version 'gemv' is not supported (expected gemm"},
      {"awq", "version", "exllama", "version 'exllama' is not supported"},
      {"awq", "desc_act", false, "field 'desc_act' (= false) is not supported for quant_method 'awq'"},
  };
  for (const Refusal &r : cases) {
    json j = configOf(r.method);
    j["quantization_config"][r.field] = r.value;
    std::string e = errorOf(j);
    EXPECT_NE(e.find("config.json quantization_config: "), std::string::npos) << e;
    EXPECT_NE(e.find(r.message), std::string::npos) << r.method << " " << r.field << ": " << e;
  }
  json notObject = configOf("gptq");
  notObject["quantization_config"] = "gptq";
  EXPECT_NE(errorOf(notObject).find("expected an object"), std::string::npos);
}

TEST(QuantizationConfig, AWQVersionAndGPTQFormatKeysAreCaseInsensitive) {
  json awq = configOf("awq");
  awq["quantization_config"]["version"] = "GEMM";
  EXPECT_EQ(errorOf(awq), "");
  json gptq = configOf("gptq");
  gptq["quantization_config"].erase("checkpoint_format");
  gptq["quantization_config"]["format"] = "GPTQ";
  EXPECT_EQ(errorOf(gptq), "");
}

std::unique_ptr<llmc::WeightSource> open(const std::string &method) {
  auto config = llmc::loadModelConfig(fixture(method));
  return llmc::openSafetensorsFolder(fixture(method), config.quantization);
}

const char *kLinears[] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                          "self_attn.o_proj", "mlp.gate_proj",    "mlp.up_proj",
                          "mlp.down_proj"};

TEST(PackedLinears, OneW4G32ATensorPerLinearAndBothPackingsGiveTheSameRows) {
  auto gptq = open("gptq"), awq = open("awq");
  for (int layer = 0; layer < 2; ++layer)
    for (const char *linear : kLinears) {
      std::string prefix = "model.layers." + std::to_string(layer) + "." + linear;
      const llmc::SourceTensor *g = gptq->find(prefix + ".weight");
      const llmc::SourceTensor *a = awq->find(prefix + ".weight");
      ASSERT_TRUE(g && a) << prefix;
      EXPECT_EQ(g->dtype, "W4G32A");
      EXPECT_EQ(a->dtype, "W4G32A");
      EXPECT_EQ(g->shape, a->shape);
      EXPECT_TRUE(g->convertible);
      for (const char *part : {".qweight", ".qzeros", ".scales", ".g_idx"}) {
        EXPECT_EQ(gptq->find(prefix + part), nullptr) << prefix << part;
        EXPECT_EQ(awq->find(prefix + part), nullptr) << prefix << part;
      }
      auto s = llm::quant::Scheme::W4G32A;
      std::vector<uint8_t> gb(llm::quant::tensorBytes(s, g->shape[0], g->shape[1]));
      std::vector<uint8_t> ab(gb.size());
      ASSERT_TRUE(gptq->readBlocks(g->name, "W4G32A", gb));
      ASSERT_TRUE(awq->readBlocks(a->name, "W4G32A", ab));
      EXPECT_EQ(gb, ab) << prefix;
      EXPECT_FALSE(gptq->readBlocks(g->name, "W4G64A", gb));
      EXPECT_FALSE(gptq->readBlocks(g->name, "Q4_1", gb));
      // readFloat32 is the rows' dequantization.
      std::vector<float> f(g->numel()), want(g->numel());
      gptq->readFloat32(g->name, f);
      llm::quant::dequantizeRows(s, gb.data(), g->shape[0], g->shape[1], want.data());
      EXPECT_EQ(f, want) << prefix;
    }
  EXPECT_EQ(gptq->find("lm_head.weight")->dtype, "F32");
  EXPECT_EQ(gptq->dominantDType(), "W4G32A");
}

TEST(PackedLinears, ActOrderGIdxIsRefused) {
  auto set = llmc::WeightSet::openFolder(fixture("gptq"));
  std::string p = "model.layers.0.self_attn.q_proj";
  auto bytes = [&](const std::string &n) {
    const llmc::TensorInfo &t = set.get(n);
    return std::span<const uint8_t>(t.data, t.nbytes);
  };
  std::vector<int32_t> gIdx(64);
  for (int k = 0; k < 64; ++k)
    gIdx[k] = k / 32;
  std::swap(gIdx[3], gIdx[40]);
  llmc::PackedInt4 t{64, 64, 32, bytes(p + ".qweight"), bytes(p + ".qzeros"),
                     bytes(p + ".scales"),
                     std::span<const uint8_t>(reinterpret_cast<const uint8_t *>(gIdx.data()),
                                              gIdx.size() * 4)};
  std::vector<uint8_t> out(llm::quant::tensorBytes(llm::quant::Scheme::W4G32A, 64, 64));
  try {
    llmc::repackGPTQv1(t, out, "q_proj");
    FAIL() << "a permuted g_idx was accepted";
  } catch (const llm::Error &e) {
    EXPECT_NE(std::string(e.what()).find("q_proj: g_idx[3] is 1, expected 0 (only the identity "
                                         "grouping"),
              std::string::npos)
        << e.what();
  }
  std::swap(gIdx[3], gIdx[40]); // the identity grouping: accepted
  EXPECT_NO_THROW(llmc::repackGPTQv1(t, out, "q_proj"));
  t.groupSize = 64; // shapes that do not fit
  EXPECT_THROW(llmc::repackGPTQv1(t, out, "q_proj"), llm::Error);
}

} // namespace
