// Tests of the safetensors reader: files are written by a small writer in this test, expected
// values of the f16/bf16 conversions are computed here from the formats' definitions.
#include "import/Safetensors.h"

#include "support/Error.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

using llmc::SafetensorsFile;
using llmc::TensorDType;
using llmc::TensorInfo;
using llmc::WeightSet;
using json = nlohmann::json;
namespace fs = std::filesystem;

// ---- a small writer ------------------------------------------------------------------------

struct Tensor {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

template <typename T> std::vector<uint8_t> toBytes(const std::vector<T> &values) {
  std::vector<uint8_t> out(values.size() * sizeof(T));
  if (!out.empty())
    std::memcpy(out.data(), values.data(), out.size());
  return out;
}

void appendU64(std::vector<uint8_t> &out, uint64_t v) {
  for (int i = 0; i < 8; ++i)
    out.push_back(uint8_t(v >> (8 * i)));
}

// The raw layout: length, header text, data. `lengthOverride` writes a lying length.
std::vector<uint8_t> rawFile(const std::string &header, const std::vector<uint8_t> &data,
                             std::optional<uint64_t> lengthOverride = std::nullopt) {
  std::vector<uint8_t> out;
  appendU64(out, lengthOverride ? *lengthOverride : header.size());
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

// A well-formed file: tensors laid out back to back in the given order.
std::vector<uint8_t> makeFile(const std::vector<Tensor> &tensors,
                              const std::map<std::string, std::string> &metadata = {},
                              size_t headerPadding = 0) {
  json header = json::object();
  if (!metadata.empty())
    header["__metadata__"] = metadata;
  std::vector<uint8_t> data;
  for (const Tensor &t : tensors) {
    header[t.name] = {{"dtype", t.dtype},
                      {"shape", t.shape},
                      {"data_offsets", {data.size(), data.size() + t.bytes.size()}}};
    data.insert(data.end(), t.bytes.begin(), t.bytes.end());
  }
  std::string text = header.dump() + std::string(headerPadding, ' ');
  return rawFile(text, data);
}

void writeBytes(const fs::path &path, const std::vector<uint8_t> &bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char *>(bytes.data()), std::streamsize(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

void writeText(const fs::path &path, const std::string &text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

class SafetensorsTest : public ::testing::Test {
protected:
  void SetUp() override {
    const auto *info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           fmt::format("llmc_st_{}_{}_{}", info->test_suite_name(), info->name(), ::getpid());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_;
};

// Expects `fn` to throw llm::Error whose message contains every one of `needles`.
template <typename Fn>
void expectError(Fn &&fn, std::initializer_list<std::string> needles) {
  try {
    fn();
    ADD_FAILURE() << "expected llm::Error containing '" << *needles.begin() << "'";
  } catch (const llm::Error &e) {
    std::string msg = e.what();
    for (const std::string &needle : needles)
      EXPECT_NE(msg.find(needle), std::string::npos)
          << "message: " << msg << "\nexpected to contain: " << needle;
  }
}

void expectFileError(const fs::path &path, std::initializer_list<std::string> needles) {
  expectError([&] { SafetensorsFile::open(path.string()); }, needles);
}

std::vector<float> floats(const TensorInfo &t) {
  std::vector<float> out(size_t(t.numel()));
  llmc::toFloat32(t, out);
  return out;
}

// ---- reading valid files -------------------------------------------------------------------

TEST_F(SafetensorsTest, ReadsSingleFile) {
  std::vector<float> w = {1.5f, -2.0f, 0.25f, 3.0f, 4.0f, -0.0f};
  std::vector<int64_t> ids = {7, -8, 1LL << 40};
  writeBytes(dir_ / "a.safetensors",
             makeFile({{"weight", "F32", {2, 3}, toBytes(w)}, {"ids", "I64", {3}, toBytes(ids)}},
                      {{"format", "pt"}, {"note", "hello"}}));
  SafetensorsFile f = SafetensorsFile::open((dir_ / "a.safetensors").string());
  ASSERT_EQ(f.tensors().size(), 2u);
  EXPECT_EQ(f.metadata().size(), 2u);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  EXPECT_EQ(f.metadata().at("note"), "hello");

  // Tensors come in file order.
  const TensorInfo &weight = f.tensors()[0];
  EXPECT_EQ(weight.name, "weight");
  EXPECT_EQ(weight.dtype, TensorDType::F32);
  EXPECT_EQ(weight.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(weight.numel(), 6);
  EXPECT_EQ(weight.nbytes, 24u);
  EXPECT_EQ(weight.file, (dir_ / "a.safetensors").string());
  std::vector<float> got = floats(weight);
  for (size_t i = 0; i < w.size(); ++i)
    EXPECT_EQ(std::bit_cast<uint32_t>(got[i]), std::bit_cast<uint32_t>(w[i])) << i;

  const TensorInfo *idsInfo = f.find("ids");
  ASSERT_NE(idsInfo, nullptr);
  EXPECT_EQ(idsInfo->dtype, TensorDType::I64);
  EXPECT_EQ(idsInfo->shape, (std::vector<int64_t>{3}));
  std::vector<int64_t> gotIds(3);
  std::memcpy(gotIds.data(), idsInfo->data, 24);
  EXPECT_EQ(gotIds, ids);
  EXPECT_EQ(f.find("missing"), nullptr);
}

TEST_F(SafetensorsTest, ScalarsEmptyTensorsPaddingAndUnalignedData) {
  std::vector<float> one = {42.0f};
  // Header padded with spaces (as the reference writer does) to an odd length: data unaligned.
  std::vector<uint8_t> bytes =
      makeFile({{"empty_a", "F32", {0, 5}, {}},
                {"scalar", "F32", {}, toBytes(one)},
                {"empty_b", "BF16", {3, 0}, {}},
                {"half", "F16", {2}, toBytes(std::vector<uint16_t>{0x3C00, 0xC000})}},
               {}, 3);
  SafetensorsFile f = SafetensorsFile::fromBytes(bytes, "mem.safetensors");
  ASSERT_EQ(f.tensors().size(), 4u);
  const TensorInfo *scalar = f.find("scalar");
  ASSERT_NE(scalar, nullptr);
  EXPECT_TRUE(scalar->shape.empty());
  EXPECT_EQ(scalar->numel(), 1);
  EXPECT_EQ(floats(*scalar), std::vector<float>{42.0f});
  EXPECT_EQ(f.find("empty_a")->numel(), 0);
  EXPECT_EQ(f.find("empty_b")->nbytes, 0u);
  EXPECT_TRUE(floats(*f.find("empty_b")).empty());
  EXPECT_EQ(floats(*f.find("half")), (std::vector<float>{1.0f, -2.0f}));
  EXPECT_EQ(f.find("half")->file, "mem.safetensors");
}

TEST_F(SafetensorsTest, DTypeNamesAndSizes) {
  struct Row {
    TensorDType dtype;
    const char *name;
    size_t size;
  };
  for (Row r : {Row{TensorDType::F32, "F32", 4}, Row{TensorDType::F16, "F16", 2},
                Row{TensorDType::BF16, "BF16", 2}, Row{TensorDType::F64, "F64", 8},
                Row{TensorDType::I64, "I64", 8}, Row{TensorDType::I32, "I32", 4},
                Row{TensorDType::I16, "I16", 2}, Row{TensorDType::I8, "I8", 1},
                Row{TensorDType::U8, "U8", 1}, Row{TensorDType::BOOL, "BOOL", 1},
                Row{TensorDType::F8_E4M3, "F8_E4M3", 1}, Row{TensorDType::F8_E5M2, "F8_E5M2", 1}}) {
    EXPECT_EQ(llmc::dtypeName(r.dtype), r.name);
    EXPECT_EQ(llmc::dtypeSize(r.dtype), r.size) << r.name;
    TensorDType parsed;
    ASSERT_TRUE(llmc::parseDType(r.name, parsed));
    EXPECT_EQ(parsed, r.dtype);
  }
  TensorDType unused;
  EXPECT_FALSE(llmc::parseDType("f32", unused));
  EXPECT_FALSE(llmc::parseDType("F4", unused));
}

// ---- folders -------------------------------------------------------------------------------

TEST_F(SafetensorsTest, ReadsShardedFolder) {
  std::vector<uint16_t> bf = {0x3F80, 0xC000, 0x4049, 0x0000}; // 1, -2, 3.140625, 0
  std::vector<float> norm = {0.5f, 0.75f};
  writeBytes(dir_ / "model-00001-of-00002.safetensors",
             makeFile({{"model.embed.weight", "BF16", {2, 2}, toBytes(bf)},
                       {"model.norm.weight", "F32", {2}, toBytes(norm)}}));
  writeBytes(dir_ / "model-00002-of-00002.safetensors",
             makeFile({{"lm_head.weight", "BF16", {4}, toBytes(bf)}}));
  writeText(dir_ / "model.safetensors.index.json", R"({
    "metadata": {"total_size": 24},
    "weight_map": {
      "model.embed.weight": "model-00001-of-00002.safetensors",
      "model.norm.weight": "model-00001-of-00002.safetensors",
      "lm_head.weight": "model-00002-of-00002.safetensors"
    }})");

  WeightSet ws = WeightSet::openFolder(dir_.string());
  EXPECT_EQ(ws.names(), (std::vector<std::string>{"lm_head.weight", "model.embed.weight",
                                                  "model.norm.weight"}));
  EXPECT_EQ(ws.files().size(), 2u);
  const TensorInfo &embed = ws.get("model.embed.weight");
  EXPECT_EQ(embed.shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(floats(embed), (std::vector<float>{1.0f, -2.0f, 3.140625f, 0.0f}));
  EXPECT_EQ(embed.file, (dir_ / "model-00001-of-00002.safetensors").string());
  const TensorInfo &head = ws.get("lm_head.weight");
  EXPECT_EQ(head.file, (dir_ / "model-00002-of-00002.safetensors").string());
  EXPECT_EQ(floats(head), (std::vector<float>{1.0f, -2.0f, 3.140625f, 0.0f}));
  EXPECT_EQ(floats(ws.get("model.norm.weight")), norm);
  EXPECT_EQ(ws.find("nope"), nullptr);
  expectError([&] { ws.get("nope"); }, {"tensor 'nope' not found in " + dir_.string()});
  // 8 BF16 elements against 2 F32 ones.
  EXPECT_EQ(ws.dominantDType(), "BF16");

  // Moving the set keeps every TensorInfo valid.
  WeightSet moved = std::move(ws);
  EXPECT_EQ(floats(moved.get("model.norm.weight")), norm);
}

TEST_F(SafetensorsTest, ReadsSingleFileFolderAndDominantDType) {
  std::vector<float> big(10, 1.0f);
  std::vector<uint16_t> small(4, 0x3C00);
  std::vector<int64_t> ints(100, 3);
  writeBytes(dir_ / "model.safetensors",
             makeFile({{"a", "F16", {4}, toBytes(small)},
                       {"b", "F32", {10}, toBytes(big)},
                       {"c", "I64", {100}, toBytes(ints)}}));
  // A stale index beside model.safetensors is ignored, as transformers does.
  writeText(dir_ / "model.safetensors.index.json", R"({"weight_map": {"x": "gone.safetensors"}})");
  WeightSet ws = WeightSet::openFolder(dir_.string());
  EXPECT_EQ(ws.names(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(ws.dominantDType(), "F32"); // integers do not count
  EXPECT_EQ(floats(ws.get("a")), std::vector<float>(4, 1.0f));
}

TEST_F(SafetensorsTest, DominantDTypeEmptyWithoutFloats) {
  writeBytes(dir_ / "model.safetensors",
             makeFile({{"i", "I32", {2}, toBytes(std::vector<int32_t>{1, 2})}}));
  EXPECT_EQ(WeightSet::openFolder(dir_.string()).dominantDType(), "");
}

TEST_F(SafetensorsTest, FolderRefusals) {
  expectError([&] { WeightSet::openFolder((dir_ / "absent").string()); },
              {"absent", "not a directory"});
  expectError([&] { WeightSet::openFolder(dir_.string()); },
              {"no model.safetensors or model.safetensors.index.json", dir_.string()});

  std::vector<float> v = {1.0f, 2.0f};
  writeBytes(dir_ / "s1.safetensors",
             makeFile({{"x", "F32", {2}, toBytes(v)}, {"y", "F32", {2}, toBytes(v)}}));
  writeBytes(dir_ / "s2.safetensors", makeFile({{"z", "F32", {2}, toBytes(v)}}));
  writeBytes(dir_ / "s3.safetensors", makeFile({{"x", "F32", {2}, toBytes(v)}}));
  const fs::path index = dir_ / "model.safetensors.index.json";

  // A listed shard that does not exist.
  writeText(index, R"({"weight_map": {"x": "s1.safetensors", "w": "missing.safetensors"}})");
  expectError([&] { WeightSet::openFolder(dir_.string()); },
              {"missing.safetensors", "does not exist", index.string()});

  // A tensor the index places in a shard that lacks it.
  writeText(index, R"({"weight_map": {"x": "s1.safetensors", "q": "s2.safetensors"}})");
  expectError([&] { WeightSet::openFolder(dir_.string()); },
              {"tensor 'q'", "s2.safetensors", "does not contain it"});

  // The same tensor in two shards.
  writeText(index, R"({"weight_map": {"x": "s1.safetensors", "z": "s3.safetensors"}})");
  expectError([&] { WeightSet::openFolder(dir_.string()); },
              {"tensor 'x' appears twice", "s1.safetensors", "s3.safetensors"});

  // Malformed indexes.
  writeText(index, R"({"weight_map": {"x": "s1.safetensors",)");
  expectError([&] { WeightSet::openFolder(dir_.string()); }, {index.string(), "not valid JSON"});
  writeText(index, R"({"metadata": {}})");
  expectError([&] { WeightSet::openFolder(dir_.string()); }, {"missing 'weight_map'"});
  writeText(index, R"({"weight_map": {"x": 3}})");
  expectError([&] { WeightSet::openFolder(dir_.string()); }, {"weight_map value of 'x'"});
  writeText(index, R"({"weight_map": {"x": "../s1.safetensors"}})");
  expectError([&] { WeightSet::openFolder(dir_.string()); }, {"must not leave the model folder"});
  writeText(index, R"({"weight_map": {"x": "/etc/passwd"}})");
  expectError([&] { WeightSet::openFolder(dir_.string()); }, {"relative path"});
  writeText(index, R"({"weight_map": {}})");
  expectError([&] { WeightSet::openFolder(dir_.string()); }, {"lists no tensors"});

  // A corrupt shard names the shard.
  writeBytes(dir_ / "bad.safetensors", {1, 2, 3});
  writeText(index, R"({"weight_map": {"x": "bad.safetensors"}})");
  expectError([&] { WeightSet::openFolder(dir_.string()); },
              {(dir_ / "bad.safetensors").string(), "shorter than the 8-byte"});

  // Tensors a shard holds beyond the index are kept (y is not listed).
  writeText(index, R"({"weight_map": {"x": "s1.safetensors", "z": "s2.safetensors"}})");
  EXPECT_EQ(WeightSet::openFolder(dir_.string()).names(),
            (std::vector<std::string>{"x", "y", "z"}));
}

// ---- conversions ---------------------------------------------------------------------------

// IEEE 754 binary16 from its definition: 1 sign bit, 5 exponent bits (bias 15), 10 fraction bits.
double halfReference(uint16_t bits) {
  int sign = bits >> 15;
  int exp = (bits >> 10) & 0x1F;
  int frac = bits & 0x3FF;
  double mag;
  if (exp == 0x1F)
    mag = frac ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
  else if (exp == 0)
    mag = std::ldexp(double(frac), -24); // subnormal: 0.frac * 2^-14
  else
    mag = std::ldexp(double(1024 + frac), exp - 25); // 1.frac * 2^(exp-15)
  return sign ? -mag : mag;
}

// bfloat16 from its definition: 1 sign bit, 8 exponent bits (bias 127), 7 fraction bits.
double bfloat16Reference(uint16_t bits) {
  int sign = bits >> 15;
  int exp = (bits >> 7) & 0xFF;
  int frac = bits & 0x7F;
  double mag;
  if (exp == 0xFF)
    mag = frac ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
  else if (exp == 0)
    mag = std::ldexp(double(frac), -133); // 0.frac * 2^-126
  else
    mag = std::ldexp(double(128 + frac), exp - 134); // 1.frac * 2^(exp-127)
  return sign ? -mag : mag;
}

TEST(Conversions, HalfKnownValues) {
  EXPECT_EQ(llmc::halfToFloat(0x3C00), 1.0f);
  EXPECT_EQ(llmc::halfToFloat(0xC000), -2.0f);
  EXPECT_EQ(llmc::halfToFloat(0x3800), 0.5f);
  EXPECT_EQ(llmc::halfToFloat(0x7BFF), 65504.0f); // largest finite
  EXPECT_EQ(llmc::halfToFloat(0x0400), std::ldexp(1.0f, -14)); // smallest normal
  EXPECT_EQ(llmc::halfToFloat(0x0001), std::ldexp(1.0f, -24)); // smallest subnormal
  EXPECT_EQ(llmc::halfToFloat(0x03FF), std::ldexp(1023.0f, -24)); // largest subnormal
  EXPECT_EQ(llmc::halfToFloat(0x8001), -std::ldexp(1.0f, -24));
  EXPECT_EQ(llmc::halfToFloat(0x0200), std::ldexp(1.0f, -15));
  EXPECT_EQ(llmc::halfToFloat(0x3555), 1365.0f / 4096.0f); // 0x155 = 341: (1024+341)/4096
  EXPECT_EQ(llmc::halfToFloat(0x7C00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(llmc::halfToFloat(0xFC00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(llmc::halfToFloat(0x7E00)));
  EXPECT_TRUE(std::isnan(llmc::halfToFloat(0x7C01))); // signalling-pattern nan stays nan
  EXPECT_TRUE(std::isnan(llmc::halfToFloat(0xFFFF)));
  float negZero = llmc::halfToFloat(0x8000);
  EXPECT_EQ(negZero, 0.0f);
  EXPECT_TRUE(std::signbit(negZero));
  EXPECT_FALSE(std::signbit(llmc::halfToFloat(0x0000)));
}

TEST(Conversions, HalfAllPatterns) {
  for (uint32_t b = 0; b < 0x10000; ++b) {
    uint16_t bits = uint16_t(b);
    float got = llmc::halfToFloat(bits);
    double want = halfReference(bits);
    if (std::isnan(want)) {
      ASSERT_TRUE(std::isnan(got)) << std::hex << b;
      ASSERT_EQ(std::signbit(got), bool(bits & 0x8000)) << std::hex << b;
    } else {
      ASSERT_EQ(double(got), want) << std::hex << b;
      ASSERT_EQ(std::signbit(got), std::signbit(want)) << std::hex << b;
    }
  }
}

TEST(Conversions, Bfloat16KnownValuesAndAllPatterns) {
  EXPECT_EQ(llmc::bfloat16ToFloat(0x3F80), 1.0f);
  EXPECT_EQ(llmc::bfloat16ToFloat(0xC000), -2.0f);
  EXPECT_EQ(llmc::bfloat16ToFloat(0x4049), 3.140625f);
  EXPECT_EQ(llmc::bfloat16ToFloat(0x7F80), std::numeric_limits<float>::infinity());
  EXPECT_EQ(llmc::bfloat16ToFloat(0xFF80), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(llmc::bfloat16ToFloat(0x7FC0)));
  EXPECT_EQ(llmc::bfloat16ToFloat(0x0001), std::ldexp(1.0f, -133)); // smallest subnormal
  for (uint32_t b = 0; b < 0x10000; ++b) {
    uint16_t bits = uint16_t(b);
    float got = llmc::bfloat16ToFloat(bits);
    double want = bfloat16Reference(bits);
    if (std::isnan(want))
      ASSERT_TRUE(std::isnan(got)) << std::hex << b;
    else
      ASSERT_EQ(double(got), want) << std::hex << b;
    ASSERT_EQ(std::signbit(got), bool(bits & 0x8000)) << std::hex << b;
  }
}

TEST_F(SafetensorsTest, ToFloat32FromFileAndRefusals) {
  std::vector<uint16_t> all(0x10000);
  for (uint32_t b = 0; b < 0x10000; ++b)
    all[b] = uint16_t(b);
  std::vector<uint8_t> bytes =
      makeFile({{"h", "F16", {256, 256}, toBytes(all)},
                {"b", "BF16", {65536}, toBytes(all)},
                {"i", "I32", {2}, toBytes(std::vector<int32_t>{1, 2})},
                {"f8", "F8_E4M3", {1}, {0x38}}},
               {}, 1); // odd padding: the data is unaligned
  writeBytes(dir_ / "conv.safetensors", bytes);
  SafetensorsFile f = SafetensorsFile::open((dir_ / "conv.safetensors").string());
  std::vector<float> h = floats(*f.find("h"));
  std::vector<float> b = floats(*f.find("b"));
  for (uint32_t i = 0; i < 0x10000; ++i) {
    double hw = halfReference(uint16_t(i)), bw = bfloat16Reference(uint16_t(i));
    if (std::isnan(hw))
      ASSERT_TRUE(std::isnan(h[i])) << i;
    else
      ASSERT_EQ(double(h[i]), hw) << i;
    if (std::isnan(bw))
      ASSERT_TRUE(std::isnan(b[i])) << i;
    else
      ASSERT_EQ(double(b[i]), bw) << i;
  }

  std::vector<float> out(2);
  expectError([&] { llmc::toFloat32(*f.find("i"), out); },
              {"tensor 'i'", "I32", "F32, F16 and BF16"});
  std::vector<float> one(1);
  expectError([&] { llmc::toFloat32(*f.find("f8"), one); }, {"tensor 'f8'", "F8_E4M3"});
  std::vector<float> wrong(3);
  expectError([&] { llmc::toFloat32(*f.find("i"), wrong); }, {"tensor 'i'", "2 elements"});
}

// ---- refusals ------------------------------------------------------------------------------

TEST_F(SafetensorsTest, RefusesTruncatedFiles) {
  std::vector<float> w = {1, 2, 3, 4, 5, 6, 7, 8};
  std::vector<uint8_t> full =
      makeFile({{"a", "F32", {4}, toBytes(std::vector<float>(w.begin(), w.begin() + 4))},
                {"b", "F32", {4}, toBytes(std::vector<float>(w.begin() + 4, w.end()))}});
  const size_t headerEnd = full.size() - 32;
  const fs::path path = dir_ / "t.safetensors";
  struct Cut {
    size_t size;
    const char *needle;
  };
  for (Cut cut : {Cut{0, "shorter than the 8-byte"}, Cut{1, "shorter than the 8-byte"},
                  Cut{7, "shorter than the 8-byte"}, Cut{8, "exceeds"}, Cut{9, "exceeds"},
                  Cut{headerEnd / 2, "exceeds"}, Cut{headerEnd - 1, "exceeds"},
                  Cut{headerEnd, "beyond the data region"},
                  Cut{headerEnd + 15, "beyond the data region"},
                  Cut{full.size() - 1, "beyond the data region"}}) {
    SCOPED_TRACE(cut.size);
    writeBytes(path, std::vector<uint8_t>(full.begin(), full.begin() + cut.size));
    expectFileError(path, {path.string(), cut.needle});
  }
  // The whole file reads.
  writeBytes(path, full);
  EXPECT_EQ(SafetensorsFile::open(path.string()).tensors().size(), 2u);
}

TEST_F(SafetensorsTest, RefusesLyingHeaderLength) {
  const std::string header = R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}})";
  const std::vector<uint8_t> data = {1, 2, 3, 4};
  const fs::path path = dir_ / "l.safetensors";
  writeBytes(path, rawFile(header, data, header.size() + data.size() + 1));
  expectFileError(path, {path.string(), "exceeds"});
  writeBytes(path, rawFile(header, data, header.size() - 3)); // cuts the JSON short
  expectFileError(path, {path.string(), "not valid JSON"});
  writeBytes(path, rawFile(header, data, header.size() + 2)); // takes data bytes as JSON
  expectFileError(path, {path.string(), "not valid JSON"});
  writeBytes(path, rawFile(header, data, uint64_t(1) << 40));
  expectFileError(path, {path.string(), "absurd"});
  writeBytes(path, rawFile(header, data, ~uint64_t(0)));
  expectFileError(path, {path.string(), "absurd"});
  writeBytes(path, rawFile(header, data));
  EXPECT_EQ(SafetensorsFile::open(path.string()).tensors().size(), 1u);
}

// Writes `header` with `dataSize` zero bytes of data and expects a refusal mentioning `needles`.
class HeaderRefusal : public SafetensorsTest {
protected:
  void expectRefused(const std::string &header, size_t dataSize,
                     std::initializer_list<std::string> needles) {
    SCOPED_TRACE(header);
    const fs::path path = dir_ / "h.safetensors";
    writeBytes(path, rawFile(header, std::vector<uint8_t>(dataSize)));
    expectFileError(path, needles);
    // The in-memory parser agrees.
    std::vector<uint8_t> bytes = rawFile(header, std::vector<uint8_t>(dataSize));
    expectError([&] { SafetensorsFile::fromBytes(bytes, "mem"); }, {"'mem'"});
  }
};

TEST_F(HeaderRefusal, BadJson) {
  expectRefused("", 0, {"not valid JSON"});
  expectRefused("{", 0, {"not valid JSON"});
  expectRefused(R"({"a": {"dtype": "F32",})", 0, {"not valid JSON"});
  expectRefused("[1, 2]", 0, {"must be a JSON object", "array"});
  expectRefused("\"text\"", 0, {"must be a JSON object"});
  expectRefused(R"({"a": {"dtype":"U8","shape":[1],"data_offsets":[0,1]},
                    "a": {"dtype":"U8","shape":[1],"data_offsets":[1,2]}})",
                2, {"duplicate key 'a'"});
}

TEST_F(HeaderRefusal, BadEntries) {
  expectRefused(R"({"a": 1})", 0, {"tensor 'a'", "must be an object"});
  expectRefused(R"({"a": {"shape":[1],"data_offsets":[0,4]}})", 4,
                {"tensor 'a'", "missing field 'dtype'"});
  expectRefused(R"({"a": {"dtype":"F32","data_offsets":[0,4]}})", 4,
                {"tensor 'a'", "missing field 'shape'"});
  expectRefused(R"({"a": {"dtype":"F32","shape":[1]}})", 4,
                {"tensor 'a'", "missing field 'data_offsets'"});
  expectRefused(R"({"a": {"dtype":32,"shape":[1],"data_offsets":[0,4]}})", 4,
                {"tensor 'a'", "dtype must be a string"});
  expectRefused(R"({"a": {"dtype":"F32","shape":"1","data_offsets":[0,4]}})", 4,
                {"tensor 'a'", "shape must be an array"});
  expectRefused(R"({"a": {"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}})", 4,
                {"tensor 'a'", "shape must hold integers"});
  expectRefused(R"({"a": {"dtype":"F32","shape":[true],"data_offsets":[0,4]}})", 4,
                {"tensor 'a'", "shape must hold integers"});
  expectRefused(R"({"a": {"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4,
                {"tensor 'a'", "negative"});
  expectRefused(R"({"a": {"dtype":"F32","shape":[1],"data_offsets":[0]}})", 4,
                {"tensor 'a'", "two integers"});
  expectRefused(R"({"a": {"dtype":"F32","shape":[1],"data_offsets":{"b":0}}})", 4,
                {"tensor 'a'", "two integers"});
  expectRefused(R"({"a": {"dtype":"F32","shape":[1],"data_offsets":[-4,0]}})", 4,
                {"tensor 'a'", "negative"});
  expectRefused(R"({"a": {"dtype":"F32","shape":[1],"data_offsets":[0,"4"]}})", 4,
                {"tensor 'a'", "data_offsets must hold integers"});
  expectRefused(R"({"": {"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 4, {"empty name"});
}

TEST_F(HeaderRefusal, UnknownDType) {
  expectRefused(R"({"a": {"dtype":"F4","shape":[1],"data_offsets":[0,1]}})", 1,
                {"tensor 'a'", "unknown dtype 'F4'", "F32, F16, BF16"});
  expectRefused(R"({"a": {"dtype":"f32","shape":[1],"data_offsets":[0,4]}})", 4,
                {"unknown dtype 'f32'"});
}

TEST_F(HeaderRefusal, Offsets) {
  expectRefused(R"({"a": {"dtype":"U8","shape":[0],"data_offsets":[4,0]}})", 4,
                {"tensor 'a'", "begin after end"});
  expectRefused(R"({"a": {"dtype":"U8","shape":[4],"data_offsets":[1,5]}})", 4,
                {"tensor 'a'", "beyond the data region of 4 bytes"});
  expectRefused(R"({"a": {"dtype":"U8","shape":[0],"data_offsets":[9,9]}})", 4,
                {"tensor 'a'", "beyond the data region"});
}

TEST_F(HeaderRefusal, ShapeDisagreesWithBytes) {
  expectRefused(R"({"a": {"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}})", 24,
                {"tensor 'a'", "shape [2, 3] of F32 needs 24 bytes", "span 20 bytes"});
  expectRefused(R"({"a": {"dtype":"BF16","shape":[4],"data_offsets":[0,4]}})", 4,
                {"needs 8 bytes"});
  // Products that overflow 64 bits must not wrap around to the byte count.
  expectRefused(R"({"a": {"dtype":"F32","shape":[4611686018427387904, 4],"data_offsets":[0,0]}})",
                0, {"tensor 'a'", "more than 2^64"});
  expectRefused(R"({"a": {"dtype":"U8","shape":[4294967296, 4294967296],"data_offsets":[0,0]}})",
                0, {"more than 2^64"});
  expectRefused(R"({"a": {"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,0]}})",
                0, {"more than 2^64"});
  expectRefused(R"({"a": {"dtype":"U8","shape":[18446744073709551615],"data_offsets":[0,0]}})",
                0, {"too large"});
}

TEST_F(HeaderRefusal, OverlappingTensors) {
  expectRefused(R"({"a": {"dtype":"U8","shape":[4],"data_offsets":[0,4]},
                    "b": {"dtype":"U8","shape":[4],"data_offsets":[2,6]}})",
                6, {"'a'", "'b'", "overlap"});
  expectRefused(R"({"a": {"dtype":"U8","shape":[8],"data_offsets":[0,8]},
                    "b": {"dtype":"U8","shape":[2],"data_offsets":[3,5]}})",
                8, {"'a'", "'b'", "overlap"});
  expectRefused(R"({"a": {"dtype":"U8","shape":[4],"data_offsets":[0,4]},
                    "b": {"dtype":"U8","shape":[4],"data_offsets":[0,4]}})",
                4, {"overlap"});
}

TEST_F(HeaderRefusal, Metadata) {
  expectRefused(R"({"__metadata__": {"format": 1}})", 0, {"__metadata__ value of 'format'"});
  expectRefused(R"({"__metadata__": ["pt"]})", 0, {"__metadata__ must be an object"});
}

TEST_F(SafetensorsTest, AcceptsEdgeCasesTheFormatAllows) {
  // No tensors at all; empty tensors sharing an offset with others; a gap between tensors.
  EXPECT_TRUE(SafetensorsFile::fromBytes(rawFile("{}", {}), "m").tensors().empty());
  std::string header = R"({"e": {"dtype":"U8","shape":[0],"data_offsets":[2,2]},
                           "a": {"dtype":"U8","shape":[4],"data_offsets":[0,4]},
                           "b": {"dtype":"U8","shape":[2],"data_offsets":[6,8]},
                           "__metadata__": {"format": "pt"}})";
  SafetensorsFile f = SafetensorsFile::fromBytes(rawFile(header, {0, 1, 2, 3, 4, 5, 6, 7}), "m");
  ASSERT_EQ(f.tensors().size(), 3u);
  EXPECT_EQ(f.tensors()[0].name, "a");
  EXPECT_EQ(f.tensors()[1].name, "e");
  EXPECT_EQ(f.tensors()[2].name, "b");
  EXPECT_EQ(f.find("b")->data[0], 6);
  EXPECT_EQ(f.metadata().at("format"), "pt");
}

} // namespace
