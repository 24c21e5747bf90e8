// Tests of the GGUF reader (compiler/import/GGUF.cpp) and the GGUF model importer
// (compiler/import/GGUFModel.cpp).
//
// Files are built here by a small writer, except test/fixtures/gguf/quant-small.gguf, which
// tools/fixtures/make_gguf_fixture.py wrote with gguf-py's GGUFWriter together with the reference
// dequantization (gguf.quants.dequantize) in quant-small.json. Dequantized values are compared
// bitwise (0 ulp): F32/F16/BF16 conversions are exact, and so is ggml's dequantization in float32
// (Q8_0: d * q and Q4_0: d * (q - 8) multiply an 11-bit significand by an integer of at most 8
// bits, which is exact; Q4_1: d * q is exact, so d * q + m rounds once, fused or not).
//
// The test of the real default model runs only when LLM_DEFAULT_GGUF names a GGUF file; it
// compares against test/fixtures/gguf/smollm2-reference-weights.json, made by
// tools/fixtures/make_gguf_model_reference.py from what transformers loads.
#include "import/GGUF.h"
#include "import/GGUFModel.h"

#include "support/Error.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

namespace {

using llmc::GGMLType;
using llmc::GGUFFile;
using llmc::GGUFTensorInfo;
using llmc::GGUFValue;
using json = nlohmann::json;
namespace fs = std::filesystem;
using VT = GGUFValue::Type;

#ifndef LLM_GGUF_FIXTURES
#error "LLM_GGUF_FIXTURES must name test/fixtures/gguf"
#endif

// ---- a small writer ------------------------------------------------------------------------

struct Bytes {
  std::vector<uint8_t> b;
  template <typename T> Bytes &put(T v) {
    uint8_t tmp[sizeof(T)];
    std::memcpy(tmp, &v, sizeof(T));
    b.insert(b.end(), tmp, tmp + sizeof(T));
    return *this;
  }
  Bytes &str(std::string_view s) {
    put<uint64_t>(s.size());
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  Bytes &append(const Bytes &o) {
    b.insert(b.end(), o.b.begin(), o.b.end());
    return *this;
  }
};

// Encoded values (type tag not included).
Bytes u32v(uint32_t v) { return Bytes().put(v); }
Bytes strv(std::string_view s) { return Bytes().str(s); }
Bytes arrayv(VT elem, uint64_t count, const Bytes &elems) {
  Bytes out;
  out.put<uint32_t>(uint32_t(elem)).put<uint64_t>(count).append(elems);
  return out;
}

struct TensorSpec {
  TensorSpec(std::string n, std::vector<uint64_t> d, uint32_t t, std::vector<uint8_t> bytes,
             std::optional<uint64_t> off = std::nullopt)
      : name(std::move(n)), dims(std::move(d)), type(t), data(std::move(bytes)), offset(off) {}
  std::string name;
  std::vector<uint64_t> dims;
  uint32_t type = 0;
  std::vector<uint8_t> data;
  std::optional<uint64_t> offset; // default: packed at the next aligned offset
};

struct Builder {
  uint32_t magic = 0x46554747;
  uint32_t version = 3;
  uint64_t alignment = 32;
  Bytes kvs;
  uint64_t kvCount = 0;
  std::vector<TensorSpec> tensors;
  std::optional<uint64_t> tensorCountOverride, kvCountOverride;

  Builder &kv(std::string_view key, VT type, const Bytes &value) {
    kvs.str(key).put<uint32_t>(uint32_t(type)).append(value);
    ++kvCount;
    return *this;
  }
  Builder &kvU32(std::string_view key, uint32_t v) { return kv(key, VT::UInt32, u32v(v)); }
  Builder &kvF32(std::string_view key, float v) { return kv(key, VT::Float32, Bytes().put(v)); }
  Builder &kvStr(std::string_view key, std::string_view v) { return kv(key, VT::String, strv(v)); }
  Builder &tensor(TensorSpec t) {
    tensors.push_back(std::move(t));
    return *this;
  }

  std::vector<uint8_t> build() const {
    Bytes out;
    out.put(magic).put(version);
    out.put<uint64_t>(tensorCountOverride.value_or(tensors.size()));
    out.put<uint64_t>(kvCountOverride.value_or(kvCount));
    out.append(kvs);
    uint64_t next = 0;
    std::vector<uint64_t> offsets;
    for (const TensorSpec &t : tensors) {
      uint64_t off = t.offset.value_or(next);
      offsets.push_back(off);
      next = std::max(next, (off + t.data.size() + alignment - 1) / alignment * alignment);
      out.str(t.name).put<uint32_t>(uint32_t(t.dims.size()));
      for (uint64_t d : t.dims)
        out.put(d);
      out.put(t.type).put(off);
    }
    if (tensors.empty())
      return out.b;
    while (out.b.size() % alignment)
      out.b.push_back(0);
    const size_t dataStart = out.b.size();
    for (size_t i = 0; i < tensors.size(); ++i) {
      if (offsets[i] > (1u << 20))
        continue; // a lying offset: nothing to place
      const size_t end = dataStart + offsets[i] + tensors[i].data.size();
      if (out.b.size() < end)
        out.b.resize(end, 0);
      std::memcpy(out.b.data() + dataStart + offsets[i], tensors[i].data.data(),
                  tensors[i].data.size());
    }
    return out.b;
  }
};

std::vector<uint8_t> f32Data(const std::vector<float> &v) {
  std::vector<uint8_t> out(v.size() * 4);
  if (!v.empty())
    std::memcpy(out.data(), v.data(), out.size());
  return out;
}

GGUFFile parse(const std::vector<uint8_t> &bytes, const std::string &name = "test.gguf") {
  return GGUFFile::fromBytes(bytes, name);
}

// Expects `fn` to throw llm::Error whose message contains every one of `needles`.
template <typename Fn> void expectError(Fn &&fn, std::initializer_list<std::string> needles) {
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

void expectParseError(const std::vector<uint8_t> &bytes,
                      std::initializer_list<std::string> needles) {
  expectError([&] { parse(bytes); }, needles);
}

std::vector<float> floats(const GGUFFile &f, const GGUFTensorInfo &t) {
  std::vector<float> out(size_t(t.numel()));
  f.toFloat32(t, out);
  return out;
}

// A small valid file: a few KVs of several kinds and two tensors.
Builder smallFile() {
  Builder b;
  b.kvStr("general.architecture", "llama");
  b.kvU32("llama.block_count", 2);
  b.kv("tokenizer.ggml.tokens", VT::Array,
       arrayv(VT::String, 3, Bytes().str("a").str("bc").str("")));
  b.kv("test.nested", VT::Array,
       arrayv(VT::Array, 2,
              Bytes()
                  .append(arrayv(VT::Int8, 2, Bytes().put<int8_t>(-1).put<int8_t>(2)))
                  .append(arrayv(VT::Bool, 1, Bytes().put<uint8_t>(1)))));
  b.tensor({"a", {4, 2}, 0, f32Data({1, 2, 3, 4, 5, 6, 7, 8})});
  b.tensor({"b", {3}, 0, f32Data({-1, -2, -3})});
  return b;
}

// ---- valid files ---------------------------------------------------------------------------

TEST(GGUFTest, ParsesEveryValueTypeAndNestedArrays) {
  Builder b;
  b.kv("u8", VT::UInt8, Bytes().put<uint8_t>(250));
  b.kv("i8", VT::Int8, Bytes().put<int8_t>(-5));
  b.kv("u16", VT::UInt16, Bytes().put<uint16_t>(65535));
  b.kv("i16", VT::Int16, Bytes().put<int16_t>(-32768));
  b.kv("u32", VT::UInt32, Bytes().put<uint32_t>(4294967295u));
  b.kv("i32", VT::Int32, Bytes().put<int32_t>(-7));
  b.kv("f32", VT::Float32, Bytes().put<float>(0.1f));
  b.kv("bool", VT::Bool, Bytes().put<uint8_t>(1));
  b.kv("string", VT::String, strv("h\xc3\xa9llo"));
  b.kv("u64", VT::UInt64, Bytes().put<uint64_t>(~uint64_t(0)));
  b.kv("i64", VT::Int64, Bytes().put<int64_t>(INT64_MIN));
  b.kv("f64", VT::Float64, Bytes().put<double>(-2.5e300));
  b.kv("empty_string", VT::String, strv(""));
  b.kv("empty_array", VT::Array, arrayv(VT::Float64, 0, Bytes()));
  b.kv("nested", VT::Array,
       arrayv(VT::Array, 3,
              Bytes()
                  .append(arrayv(VT::UInt16, 2, Bytes().put<uint16_t>(1).put<uint16_t>(2)))
                  .append(arrayv(VT::String, 1, Bytes().str("x")))
                  .append(arrayv(VT::Array, 1, arrayv(VT::Int64, 1, Bytes().put<int64_t>(-9))))));
  GGUFFile f = parse(b.build());
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.metadata().size(), 15u);
  EXPECT_TRUE(f.tensors().empty());

  EXPECT_EQ(f.get("u8").type, VT::UInt8);
  EXPECT_EQ(f.get("u8").asInt("u8"), 250);
  EXPECT_EQ(f.get("i8").asInt("i8"), -5);
  EXPECT_EQ(f.get("i8").type, VT::Int8);
  EXPECT_EQ(f.get("u16").asInt("u16"), 65535);
  EXPECT_EQ(f.get("i16").asInt("i16"), -32768);
  EXPECT_EQ(f.get("u32").asInt("u32"), 4294967295LL);
  EXPECT_EQ(f.get("i32").asInt("i32"), -7);
  EXPECT_EQ(f.get("f32").type, VT::Float32);
  EXPECT_EQ(f.get("f32").asFloat("f32"), double(0.1f));
  EXPECT_TRUE(f.get("bool").asBool("bool"));
  EXPECT_EQ(f.get("string").asString("string"), "h\xc3\xa9llo");
  EXPECT_EQ(std::get<uint64_t>(f.get("u64").value), ~uint64_t(0));
  EXPECT_EQ(f.get("i64").asInt("i64"), INT64_MIN);
  EXPECT_EQ(f.get("f64").asFloat("f64"), -2.5e300);
  EXPECT_EQ(f.get("empty_string").asString("x"), "");
  EXPECT_TRUE(f.get("empty_array").asArray("x").empty());
  EXPECT_EQ(f.get("u32").asFloat("u32"), 4294967295.0); // integers read as numbers too
  for (const char *k : {"u8", "i8", "u16", "i16", "u32", "i32", "u64", "i64"})
    EXPECT_TRUE(f.get(k).isInteger()) << k;
  for (const char *k : {"f32", "f64", "bool", "string", "nested"})
    EXPECT_FALSE(f.get(k).isInteger()) << k;

  const auto &nested = f.get("nested").asArray("nested");
  ASSERT_EQ(nested.size(), 3u);
  ASSERT_EQ(nested[0].asArray("n0").size(), 2u);
  EXPECT_EQ(nested[0].asArray("n0")[0].type, VT::UInt16);
  EXPECT_EQ(nested[0].asArray("n0")[1].asInt("n"), 2);
  EXPECT_EQ(nested[1].asArray("n1")[0].asString("n"), "x");
  EXPECT_EQ(nested[2].asArray("n2")[0].asArray("n2")[0].asInt("n"), -9);

  // Accessors refuse the wrong kind, naming the key.
  expectError([&] { f.get("string").asInt("string"); }, {"'string'", "string", "integer"});
  expectError([&] { f.get("u64").asInt("u64"); }, {"'u64'", "out of range"});
  expectError([&] { f.get("u8").asString("u8"); }, {"'u8'", "uint8", "string"});
  expectError([&] { f.get("i32").asBool("i32"); }, {"'i32'", "bool"});
  expectError([&] { f.get("bool").asFloat("bool"); }, {"'bool'", "number"});
  expectError([&] { f.get("f64").asArray("f64"); }, {"'f64'", "array"});
  expectError([&] { f.get("missing.key"); }, {"test.gguf", "'missing.key'", "missing"});
  EXPECT_EQ(f.find("missing.key"), nullptr);
}

TEST(GGUFTest, ReadsTensorsAndVersion2) {
  Builder b = smallFile();
  b.version = 2;
  GGUFFile f = parse(b.build());
  EXPECT_EQ(f.version(), 2u);
  ASSERT_EQ(f.tensors().size(), 2u);
  const GGUFTensorInfo *a = f.findTensor("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->dims, (std::vector<int64_t>{4, 2}));
  EXPECT_EQ(a->numel(), 8);
  EXPECT_EQ(a->nbytes, 32u);
  EXPECT_EQ(a->offset, 0u);
  EXPECT_TRUE(a->convertible());
  EXPECT_EQ(floats(f, *a), (std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(f.findTensor("b")->offset, 32u);
  EXPECT_EQ(floats(f, *f.findTensor("b")), (std::vector<float>{-1, -2, -3}));
  EXPECT_EQ(f.findTensor("c"), nullptr);
  EXPECT_EQ(f.tensors()[0].name, "a"); // file order
  EXPECT_EQ(f.get("tokenizer.ggml.tokens").asArray("t")[1].asString("t"), "bc");

  // Wrong output size.
  std::vector<float> small(3);
  expectError([&] { f.toFloat32(*a, small); }, {"'a'", "8 elements", "holds 3"});
}

TEST(GGUFTest, HonoursGeneralAlignment) {
  Builder b;
  b.alignment = 64;
  b.kvU32("general.alignment", 64);
  b.tensor({"x", {2}, 0, f32Data({1, 2})});
  b.tensor({"y", {2}, 0, f32Data({3, 4})});
  GGUFFile f = parse(b.build());
  EXPECT_EQ(f.findTensor("y")->offset, 64u);
  EXPECT_EQ(floats(f, *f.findTensor("y")), (std::vector<float>{3, 4}));

  // Offsets that are multiples of 32 but not of 64.
  Builder bad = b;
  bad.tensors[1].offset = 32;
  expectParseError(bad.build(), {"'y'", "offset 32", "alignment 64"});

  Builder npot;
  npot.kvU32("general.alignment", 48);
  expectParseError(npot.build(), {"general.alignment", "48", "power of two"});
  Builder zero;
  zero.kvU32("general.alignment", 0);
  expectParseError(zero.build(), {"general.alignment", "power of two"});
  Builder str;
  str.kvStr("general.alignment", "32");
  expectParseError(str.build(), {"general.alignment", "string"});
}

TEST(GGUFTest, HandDequantization) {
  // Q4_0: d = 0.5 (f16 0x3800); qs[i] = low nibble i, high nibble 15 - i.
  std::vector<uint8_t> q40 = {0x00, 0x38};
  for (int i = 0; i < 16; ++i)
    q40.push_back(uint8_t(i | ((15 - i) << 4)));
  // Q4_1: d = 2 (0x4000), m = -1 (0xBC00), same nibbles.
  std::vector<uint8_t> q41 = {0x00, 0x40, 0x00, 0xBC};
  q41.insert(q41.end(), q40.begin() + 2, q40.end());
  // Q8_0: d = 0.25 (0x3400), q = -16..15.
  std::vector<uint8_t> q80 = {0x00, 0x34};
  for (int i = 0; i < 32; ++i)
    q80.push_back(uint8_t(int8_t(i - 16)));
  Builder b;
  b.tensor({"q4_0", {32}, 2, q40});
  b.tensor({"q4_1", {32}, 3, q41});
  b.tensor({"q8_0", {32}, 8, q80});
  b.tensor({"f16", {2}, 1, {0x00, 0x3C, 0x01, 0x80}});   // 1, -2^-24
  b.tensor({"bf16", {2}, 30, {0x80, 0x3F, 0xC0, 0xFF}}); // 1, NaN
  GGUFFile f = parse(b.build());
  std::vector<float> x = floats(f, *f.findTensor("q4_0"));
  std::vector<float> y = floats(f, *f.findTensor("q4_1"));
  std::vector<float> z = floats(f, *f.findTensor("q8_0"));
  for (int i = 0; i < 16; ++i) {
    EXPECT_EQ(x[i], 0.5f * float(i - 8)) << i;
    EXPECT_EQ(x[16 + i], 0.5f * float(15 - i - 8)) << i;
    EXPECT_EQ(y[i], 2.0f * float(i) - 1.0f) << i;
    EXPECT_EQ(y[16 + i], 2.0f * float(15 - i) - 1.0f) << i;
  }
  for (int i = 0; i < 32; ++i)
    EXPECT_EQ(z[i], 0.25f * float(i - 16)) << i;
  std::vector<float> h = floats(f, *f.findTensor("f16"));
  EXPECT_EQ(h[0], 1.0f);
  EXPECT_EQ(h[1], -std::ldexp(1.0f, -24));
  std::vector<float> bf = floats(f, *f.findTensor("bf16"));
  EXPECT_EQ(bf[0], 1.0f);
  EXPECT_TRUE(std::isnan(bf[1]));
  EXPECT_EQ(f.findTensor("q4_1")->nbytes, 20u);
  EXPECT_EQ(llmc::ggmlTypeName(GGMLType::Q4_1), "Q4_1");
  EXPECT_EQ(llmc::ggmlTypeName(GGMLType(4)), "type 4");
  EXPECT_EQ(llmc::ggmlTypeName(GGMLType(1000)), "type >= 64 (unknown)");
}

// quant-small.gguf, written by gguf-py, against gguf-py's own dequantization.
TEST(GGUFTest, FixtureMatchesGgufPy) {
  const std::string dir = LLM_GGUF_FIXTURES;
  std::ifstream in(dir + "/quant-small.json");
  ASSERT_TRUE(in) << dir;
  json ref = json::parse(in);
  GGUFFile f = GGUFFile::open(dir + "/quant-small.gguf");
  EXPECT_EQ(f.version(), 3u);

  static const std::map<std::string, VT> kTypes = {
      {"uint8", VT::UInt8},    {"int8", VT::Int8},   {"uint16", VT::UInt16},   {"int16", VT::Int16},
      {"uint32", VT::UInt32},  {"int32", VT::Int32}, {"float32", VT::Float32}, {"bool", VT::Bool},
      {"string", VT::String},  {"array", VT::Array}, {"uint64", VT::UInt64},   {"int64", VT::Int64},
      {"float64", VT::Float64}};
  // Compares a parsed value with its JSON form.
  std::function<void(const GGUFValue &, const json &, const std::string &)> check =
      [&](const GGUFValue &v, const json &j, const std::string &key) {
        if (j.is_array()) {
          const auto &arr = v.asArray(key);
          ASSERT_EQ(arr.size(), j.size()) << key;
          for (size_t i = 0; i < arr.size(); ++i)
            check(arr[i], j[i], key);
        } else if (j.is_boolean()) {
          EXPECT_EQ(v.asBool(key), j.get<bool>()) << key;
        } else if (j.is_string()) {
          EXPECT_EQ(v.asString(key), j.get<std::string>()) << key;
        } else if (j.is_number_unsigned() && std::holds_alternative<uint64_t>(v.value)) {
          EXPECT_EQ(std::get<uint64_t>(v.value), j.get<uint64_t>()) << key;
        } else if (j.is_number_integer()) {
          EXPECT_EQ(v.asInt(key), j.get<int64_t>()) << key;
        } else {
          const double expect =
              v.type == VT::Float32 ? double(float(j.get<double>())) : j.get<double>();
          EXPECT_EQ(v.asFloat(key), expect) << key;
        }
      };
  size_t keys = 0;
  for (auto &[key, entry] : ref["metadata"].items()) {
    const GGUFValue *v = f.find(key);
    ASSERT_NE(v, nullptr) << key;
    EXPECT_EQ(v->type, kTypes.at(entry["type"].get<std::string>())) << key;
    if (entry.contains("elem") && !v->asArray(key).empty()) {
      EXPECT_EQ(v->asArray(key)[0].type, kTypes.at(entry["elem"].get<std::string>())) << key;
    }
    check(*v, entry["value"], key);
    ++keys;
  }
  EXPECT_EQ(keys, f.metadata().size());

  ASSERT_EQ(f.tensors().size(), ref["tensors"].size());
  for (const json &t : ref["tensors"]) {
    const std::string name = t["name"];
    const GGUFTensorInfo *info = f.findTensor(name);
    ASSERT_NE(info, nullptr) << name;
    EXPECT_EQ(llmc::ggmlTypeName(info->type), t["type"].get<std::string>()) << name;
    EXPECT_EQ(info->dims, t["dims"].get<std::vector<int64_t>>()) << name;
    EXPECT_EQ(info->offset % 64, 0u) << name;
    std::vector<uint32_t> bits = t["bits"];
    std::vector<float> got = floats(f, *info);
    ASSERT_EQ(got.size(), bits.size()) << name;
    size_t mismatches = 0;
    for (size_t i = 0; i < got.size(); ++i)
      if (std::bit_cast<uint32_t>(got[i]) != bits[i] && ++mismatches <= 5)
        ADD_FAILURE() << name << "[" << i << "]: got " << got[i] << " (0x" << std::hex
                      << std::bit_cast<uint32_t>(got[i]) << "), gguf-py 0x" << bits[i] << std::dec;
    EXPECT_EQ(mismatches, 0u) << name;
  }
}

// ---- refusals ------------------------------------------------------------------------------

TEST(GGUFTest, RefusesBadMagicAndVersions) {
  Builder b = smallFile();
  b.magic = 0x46554746; // "FGUF"
  expectParseError(b.build(), {"test.gguf", "not a GGUF file", "FGUF"});
  expectParseError({'G', 'G'}, {"too short"});
  expectParseError({}, {"0 bytes"});
  for (uint32_t v : {0u, 4u, 77u}) {
    Builder w = smallFile();
    w.version = v;
    expectParseError(w.build(), {fmt::format("version {} is not supported", v), "2 or 3"});
  }
  Builder v1 = smallFile();
  v1.version = 1;
  expectParseError(v1.build(), {"version 1 is not supported"});
  Builder be = smallFile();
  be.version = 0x03000000;
  expectParseError(be.build(), {"big-endian"});
}

TEST(GGUFTest, EveryTruncationIsAnError) {
  const std::vector<uint8_t> full = smallFile().build();
  ASSERT_NO_THROW(parse(full));
  for (size_t n = 0; n < full.size(); ++n) {
    std::vector<uint8_t> cut(full.begin(), full.begin() + n);
    try {
      parse(cut);
      ADD_FAILURE() << "prefix of " << n << " of " << full.size() << " bytes parsed";
    } catch (const llm::Error &e) {
      EXPECT_NE(std::string(e.what()).find("test.gguf"), std::string::npos) << e.what();
    }
  }
  // The tail cut in the tensor data says so.
  std::vector<uint8_t> cut(full.begin(), full.end() - 1);
  expectParseError(cut, {"'b'", "beyond the end of the file"});
}

TEST(GGUFTest, RefusesLyingLengthsAndCounts) {
  // Key length far beyond the file.
  Builder key;
  key.kvs.put<uint64_t>(1ULL << 62).append(Bytes().str(std::string(64, 'k')));
  key.kvCount = 1;
  expectParseError(key.build(), {"metadata key #0", "length 4611686018427387904"});
  // A string value's length.
  Builder sv;
  sv.kv("s", VT::String, Bytes().put<uint64_t>(~0ULL).str("abc"));
  expectParseError(sv.build(), {"value of 's'", "length 18446744073709551615"});
  // An array's count: huge, and merely one too many.
  Builder av;
  av.kv("arr", VT::Array, arrayv(VT::UInt64, 1ULL << 61, Bytes().put<uint64_t>(1)));
  expectParseError(av.build(), {"array 'arr'", "2305843009213693952 elements", "uint64"});
  Builder av2;
  av2.kv("arr", VT::Array, arrayv(VT::String, 1ULL << 60, Bytes()));
  expectParseError(av2.build(), {"array 'arr'", "elements of type string"});
  Builder av3;
  av3.kv("arr", VT::Array, arrayv(VT::UInt32, 3, Bytes().put<uint32_t>(1).put<uint32_t>(2)));
  expectParseError(av3.build(), {"array 'arr' claims 3 elements", "8 bytes remain"});
  Builder av4; // the count fits the bytes left, but the strings' lengths do not
  av4.kv("arr", VT::Array, arrayv(VT::String, 2, Bytes().str("ab").put<uint64_t>(50).str("x")));
  expectParseError(av4.build(), {"value of 'arr' has length 50", "but only 9 bytes remain"});
  // Tensor and KV counts.
  Builder tc = smallFile();
  tc.tensorCountOverride = 1ULL << 40;
  expectParseError(tc.build(), {"claims 1099511627776 tensors"});
  Builder kc = smallFile();
  kc.kvCountOverride = ~0ULL;
  expectParseError(kc.build(), {"claims 18446744073709551615 metadata key-value pairs"});
  Builder kc2 = smallFile();
  kc2.kvCountOverride = kc2.kvCount + 1; // one more pair than written: runs into the tensor infos
  EXPECT_THROW(parse(kc2.build()), llm::Error);
}

TEST(GGUFTest, RefusesBadTensorDescriptions) {
  auto with = [](TensorSpec t) {
    Builder b;
    b.tensor(std::move(t));
    return b.build();
  };
  expectParseError(with({"zero", {4, 0}, 0, {}}), {"'zero'", "dimension 1 is 0"});
  expectParseError(with({"neg", {~0ULL}, 0, {}}), {"'neg'", "dimension 0 is -1"});
  expectParseError(with({"nodims", {}, 0, {}}), {"'nodims'", "0 dimensions", "1 to 4"});
  expectParseError(with({"five", {1, 1, 1, 1, 1}, 0, f32Data({1})}), {"'five'", "5 dimensions"});
  expectParseError(with({"big", {1ULL << 32, 1ULL << 32}, 0, {}}), {"'big'", "overflows"});
  expectParseError(with({"t", {32}, 1000, {}}), {"'t'", "unknown ggml type 1000"});
  expectParseError(with({"t", {32}, 4, {}}), {"'t'", "unknown ggml type 4"});
  expectParseError(with({"q", {48}, 8, std::vector<uint8_t>(51)}),
                   {"'q'", "row length 48", "Q8_0", "block size 32"});
  expectParseError(with({"q", {16, 2}, 12, {}}), {"'q'", "Q4_K", "block size 256"});
  expectParseError(with({"", {1}, 0, f32Data({1})}), {"empty name"});

  // Beyond the file, misaligned, overlapping, duplicate names.
  expectParseError(with({"far", {2}, 0, f32Data({1, 2}), 1ULL << 40}),
                   {"'far'", "beyond the end of the file"});
  expectParseError(with({"wrap", {2}, 0, f32Data({1, 2}), ~0ULL - 31}),
                   {"'wrap'", "beyond the end of the file"});
  expectParseError(with({"mis", {2}, 0, f32Data({1, 2}), 8}),
                   {"'mis'", "offset 8", "alignment 32"});
  Builder ov;
  ov.tensor({"x", {16}, 0, f32Data(std::vector<float>(16, 1.0f))});
  ov.tensor({"y", {4}, 0, f32Data({1, 2, 3, 4}), 32}); // x spans [0, 64)
  expectParseError(ov.build(), {"'x'", "'y'", "overlap"});
  Builder dup;
  dup.tensor({"x", {2}, 0, f32Data({1, 2})});
  dup.tensor({"x", {2}, 0, f32Data({1, 2})});
  expectParseError(dup.build(), {"duplicate tensor name 'x'"});
}

TEST(GGUFTest, RefusesBadMetadata) {
  Builder dup;
  dup.kvU32("a.b", 1).kvU32("a.b", 2);
  expectParseError(dup.build(), {"duplicate metadata key 'a.b'"});
  Builder unknown;
  unknown.kv("k", VT(13), Bytes().put<uint32_t>(0));
  expectParseError(unknown.build(), {"'k'", "unknown value type 13"});
  Builder elem;
  elem.kv("k", VT::Array, arrayv(VT(99), 0, Bytes()));
  expectParseError(elem.build(), {"array 'k'", "unknown element type 99"});
  Builder boolean;
  boolean.kv("flag", VT::Bool, Bytes().put<uint8_t>(2));
  expectParseError(boolean.build(), {"'flag'", "is 2", "0 or 1"});
  Builder empty;
  empty.kvU32("", 1);
  expectParseError(empty.build(), {"metadata key #0", "empty"});
  // Arrays nested deeper than the limit.
  Bytes v = arrayv(VT::UInt8, 0, Bytes());
  for (int i = 0; i < 20; ++i)
    v = arrayv(VT::Array, 1, v);
  Builder deep;
  deep.kv("deep", VT::Array, v);
  expectParseError(deep.build(), {"'deep'", "nests arrays more than 16 deep"});
}

TEST(GGUFTest, UnconvertibleTypesAreIndexedButNotConverted) {
  Builder b;
  b.tensor({"k", {256, 2}, 11, std::vector<uint8_t>(2 * 110)}); // Q3_K
  b.tensor({"i", {3}, 26, std::vector<uint8_t>(12)});           // I32
  GGUFFile f = parse(b.build());
  const GGUFTensorInfo *k = f.findTensor("k");
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->type, GGMLType::Q3_K);
  EXPECT_EQ(k->nbytes, 220u);
  EXPECT_FALSE(k->convertible());
  EXPECT_FALSE(f.findTensor("i")->convertible());
  std::vector<float> out(512);
  expectError([&] { f.toFloat32(*k, out); }, {"test.gguf", "'k'", "type Q3_K", "only F32"});
  std::vector<float> out3(3);
  expectError([&] { f.toFloat32(*f.findTensor("i"), out3); }, {"'i'", "type I32"});
}

// ---- GGUFModel -----------------------------------------------------------------------------

// A tiny llama-style model: hidden 8, 2 heads of 4 (1 KV head), 2 layers, ffn 16, vocab 6, F32.
// Every tensor holds distinct values: element e of tensor number t is t * 1000 + e.
struct TinyModel {
  std::string arch = "llama";
  int64_t layers = 2, hidden = 8, heads = 2, kvHeads = 1, ffn = 16, vocab = 6;
  bool tied = true, qkvBias = false;
  uint32_t eos = 2;
  Builder b;
  std::map<std::string, std::vector<float>> data; // GGUF name -> values (GGUF order)

  void add(const std::string &name, std::vector<uint64_t> dims) {
    uint64_t n = 1;
    for (uint64_t d : dims)
      n *= d;
    std::vector<float> v(n);
    for (uint64_t e = 0; e < n; ++e)
      v[e] = float(data.size() * 1000 + e);
    data[name] = v;
    b.tensor({name, dims, 0, f32Data(v)});
  }

  Builder &keys() {
    b.kvStr("general.architecture", arch);
    b.kvStr("general.name", "tiny");
    b.kvU32(arch + ".block_count", uint32_t(layers));
    b.kvU32(arch + ".context_length", 128);
    b.kvU32(arch + ".embedding_length", uint32_t(hidden));
    b.kvU32(arch + ".feed_forward_length", uint32_t(ffn));
    b.kvU32(arch + ".attention.head_count", uint32_t(heads));
    b.kvU32(arch + ".attention.head_count_kv", uint32_t(kvHeads));
    b.kvF32(arch + ".rope.freq_base", 100000.0f);
    b.kvF32(arch + ".attention.layer_norm_rms_epsilon", 1e-5f);
    b.kvU32(arch + ".rope.dimension_count", uint32_t(hidden / heads));
    Bytes toks;
    for (int64_t i = 0; i < vocab; ++i)
      toks.str(fmt::format("t{}", i));
    b.kv("tokenizer.ggml.tokens", VT::Array, arrayv(VT::String, uint64_t(vocab), toks));
    b.kvU32("tokenizer.ggml.bos_token_id", 1);
    b.kvU32("tokenizer.ggml.eos_token_id", eos);
    b.kvStr("tokenizer.chat_template", "{{ messages }}");
    return b;
  }

  std::vector<uint8_t> build() {
    const uint64_t h = hidden, hd = hidden / heads, kv = kvHeads * hd;
    add("token_embd.weight", {h, uint64_t(vocab)});
    for (int64_t l = 0; l < layers; ++l) {
      const std::string p = fmt::format("blk.{}.", l);
      add(p + "attn_norm.weight", {h});
      add(p + "attn_q.weight", {h, h});
      add(p + "attn_k.weight", {h, kv});
      add(p + "attn_v.weight", {h, kv});
      if (qkvBias) {
        add(p + "attn_q.bias", {h});
        add(p + "attn_k.bias", {kv});
        add(p + "attn_v.bias", {kv});
      }
      add(p + "attn_output.weight", {h, h});
      add(p + "ffn_norm.weight", {h});
      add(p + "ffn_gate.weight", {h, uint64_t(ffn)});
      add(p + "ffn_up.weight", {h, uint64_t(ffn)});
      add(p + "ffn_down.weight", {uint64_t(ffn), h});
    }
    add("output_norm.weight", {h});
    if (!tied)
      add("output.weight", {h, uint64_t(vocab)});
    return b.build();
  }
};

llmc::GGUFModel model(const std::vector<uint8_t> &bytes) {
  return llmc::ggufModelFromFile(GGUFFile::fromBytes(bytes, "tiny.gguf"));
}

std::vector<float> read(const llmc::WeightSource &w, const std::string &name) {
  const llmc::SourceTensor *t = w.find(name);
  EXPECT_NE(t, nullptr) << name;
  if (!t)
    return {};
  std::vector<float> out(size_t(t->numel()));
  w.readFloat32(name, out);
  return out;
}

// llama.cpp's convert_hf_to_gguf.py LlamaModel.permute, written out as the row map it applies:
// Hugging Face row h*D + i*D/2 + j goes to GGUF row h*D + 2*j + i. The importer must invert it.
std::vector<float> llamaCppPermute(const std::vector<float> &hf, int64_t rows, int64_t heads) {
  const int64_t cols = int64_t(hf.size()) / rows, d = rows / heads;
  std::vector<float> out(hf.size());
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t j = 0; j < d / 2; ++j)
        for (int64_t c = 0; c < cols; ++c)
          out[(h * d + 2 * j + i) * cols + c] = hf[(h * d + i * d / 2 + j) * cols + c];
  return out;
}

TEST(GGUFModelTest, MapsLlamaConfigAndNames) {
  TinyModel t;
  t.keys();
  llmc::GGUFModel m = model(t.build());
  const llmc::ModelConfig &c = m.config;
  EXPECT_EQ(c.architecture, "LlamaForCausalLM");
  EXPECT_EQ(c.modelType, "llama");
  EXPECT_EQ(c.numLayers, 2);
  EXPECT_EQ(c.hiddenSize, 8);
  EXPECT_EQ(c.intermediateSize, 16);
  EXPECT_EQ(c.numHeads, 2);
  EXPECT_EQ(c.numKVHeads, 1);
  EXPECT_EQ(c.headDim, 4);
  EXPECT_EQ(c.vocabSize, 6);
  EXPECT_EQ(c.maxPositions, 128);
  EXPECT_EQ(c.rmsNormEps, 1e-5); // the float32 read back as the decimal it was written from
  EXPECT_EQ(c.rope.theta, 100000.0);
  EXPECT_EQ(c.rope.kind, llmc::RopeConfig::Kind::Default);
  EXPECT_EQ(c.hiddenAct, "silu");
  EXPECT_TRUE(c.tieWordEmbeddings);
  EXPECT_FALSE(c.attentionBias);
  EXPECT_EQ(c.slidingWindow, (std::vector<int64_t>{0, 0}));
  EXPECT_EQ(c.bosTokenId, 1);
  EXPECT_EQ(c.eosTokenIds, (std::vector<int64_t>{2}));
  EXPECT_EQ(c.sourceDType, "F32");
  EXPECT_EQ(m.generation.eosTokenIds, (std::vector<int64_t>{2}));
  EXPECT_EQ(m.generation.temperature, 0.0f);
  EXPECT_EQ(m.chatTemplate, "{{ messages }}");

  const llmc::WeightSource &w = *m.weights;
  EXPECT_EQ(w.location(), "tiny.gguf");
  EXPECT_EQ(w.dominantDType(), "F32");
  const llmc::SourceTensor *embed = w.find("model.embed_tokens.weight");
  ASSERT_NE(embed, nullptr);
  EXPECT_EQ(embed->shape, (std::vector<int64_t>{6, 8}));
  EXPECT_EQ(embed->dtype, "F32");
  EXPECT_TRUE(embed->convertible);
  EXPECT_EQ(w.find("lm_head.weight"), nullptr);
  EXPECT_EQ(w.find("model.layers.1.mlp.down_proj.weight")->shape, (std::vector<int64_t>{8, 16}));
  EXPECT_EQ(w.find("model.layers.0.self_attn.k_proj.weight")->shape, (std::vector<int64_t>{4, 8}));
  // Names map one to one; tensors other than q/k come back unchanged.
  const std::map<std::string, std::string> names = {
      {"token_embd.weight", "model.embed_tokens.weight"},
      {"output_norm.weight", "model.norm.weight"},
      {"blk.1.attn_norm.weight", "model.layers.1.input_layernorm.weight"},
      {"blk.1.attn_v.weight", "model.layers.1.self_attn.v_proj.weight"},
      {"blk.1.attn_output.weight", "model.layers.1.self_attn.o_proj.weight"},
      {"blk.1.ffn_norm.weight", "model.layers.1.post_attention_layernorm.weight"},
      {"blk.1.ffn_gate.weight", "model.layers.1.mlp.gate_proj.weight"},
      {"blk.1.ffn_up.weight", "model.layers.1.mlp.up_proj.weight"},
      {"blk.1.ffn_down.weight", "model.layers.1.mlp.down_proj.weight"}};
  for (const auto &[gg, hf] : names)
    EXPECT_EQ(read(w, hf), t.data[gg]) << gg;
  std::vector<float> wrong(3);
  expectError([&] { w.readFloat32("model.norm.weight", wrong); }, {"model.norm.weight", "holds 3"});
  expectError([&] { w.readFloat32("nope", wrong); }, {"'nope'", "not found"});
}

TEST(GGUFModelTest, UndoesLlamaCppQKPermutation) {
  TinyModel t;
  t.heads = 2;
  t.kvHeads = 1;
  t.hidden = 8; // head dim 4: rows (h, i, j) with i, j in {0, 1}
  t.qkvBias = true;
  t.keys();
  llmc::GGUFModel m = model(t.build());
  const llmc::WeightSource &w = *m.weights;
  EXPECT_TRUE(m.config.attentionBias);
  // Explicit row map for head dim 4: HF rows 0,1,2,3 of each head come from GGUF rows 0,2,1,3.
  std::vector<float> q = read(w, "model.layers.0.self_attn.q_proj.weight");
  const std::vector<float> &gq = t.data["blk.0.attn_q.weight"];
  const int gguf_row_of[8] = {0, 2, 1, 3, 4, 6, 5, 7};
  for (int r = 0; r < 8; ++r)
    for (int c = 0; c < 8; ++c)
      EXPECT_EQ(q[r * 8 + c], gq[gguf_row_of[r] * 8 + c]) << r << "," << c;
  // And generally: reading gives back what llama.cpp's permutation was applied to.
  for (int l = 0; l < 2; ++l) {
    const std::string p = fmt::format("model.layers.{}.self_attn.", l);
    const std::string g = fmt::format("blk.{}.", l);
    EXPECT_EQ(llamaCppPermute(read(w, p + "q_proj.weight"), 8, 2), t.data[g + "attn_q.weight"]);
    EXPECT_EQ(llamaCppPermute(read(w, p + "k_proj.weight"), 4, 1), t.data[g + "attn_k.weight"]);
    EXPECT_EQ(llamaCppPermute(read(w, p + "q_proj.bias"), 8, 2), t.data[g + "attn_q.bias"]);
    EXPECT_EQ(llamaCppPermute(read(w, p + "k_proj.bias"), 4, 1), t.data[g + "attn_k.bias"]);
    EXPECT_EQ(read(w, p + "v_proj.weight"), t.data[g + "attn_v.weight"]);
    EXPECT_EQ(read(w, p + "v_proj.bias"), t.data[g + "attn_v.bias"]);
  }
  EXPECT_NE(read(w, "model.layers.0.self_attn.q_proj.weight"), gq);
}

TEST(GGUFModelTest, LargerHeadsUnpermute) {
  TinyModel t;
  t.hidden = 48; // 3 heads of 16, 3 KV heads... then 1
  t.heads = 3;
  t.kvHeads = 3;
  t.keys();
  llmc::GGUFModel m = model(t.build());
  EXPECT_EQ(llamaCppPermute(read(*m.weights, "model.layers.1.self_attn.q_proj.weight"), 48, 3),
            t.data["blk.1.attn_q.weight"]);
  EXPECT_EQ(llamaCppPermute(read(*m.weights, "model.layers.1.self_attn.k_proj.weight"), 48, 3),
            t.data["blk.1.attn_k.weight"]);
}

TEST(GGUFModelTest, Qwen2HasBiasAndNoPermutation) {
  TinyModel t;
  t.arch = "qwen2";
  t.qkvBias = true;
  t.tied = false;
  t.keys();
  t.b.kvU32("qwen2.vocab_size", 6);
  llmc::GGUFModel m = model(t.build());
  EXPECT_EQ(m.config.architecture, "Qwen2ForCausalLM");
  EXPECT_EQ(m.config.modelType, "qwen2");
  EXPECT_TRUE(m.config.attentionBias);
  EXPECT_FALSE(m.config.tieWordEmbeddings);
  EXPECT_EQ(read(*m.weights, "model.layers.0.self_attn.q_proj.weight"),
            t.data["blk.0.attn_q.weight"]);
  EXPECT_EQ(read(*m.weights, "model.layers.0.self_attn.k_proj.bias"), t.data["blk.0.attn_k.bias"]);
  EXPECT_EQ(read(*m.weights, "lm_head.weight"), t.data["output.weight"]);
  EXPECT_EQ(m.weights->find("lm_head.weight")->shape, (std::vector<int64_t>{6, 8}));
}

TEST(GGUFModelTest, RopeScalingSlidingWindowAndSampling) {
  {
    TinyModel t;
    t.keys();
    t.b.kvStr("llama.rope.scaling.type", "linear");
    t.b.kvF32("llama.rope.scaling.factor", 4.0f);
    t.b.kvU32("llama.rope.scaling.original_context_length", 32);
    t.b.kvU32("llama.attention.sliding_window", 64);
    t.b.kvU32("tokenizer.ggml.eot_token_id", 5);
    t.b.kvF32("general.sampling.temp", 0.7f);
    t.b.kv("general.sampling.top_k", VT::Int32, Bytes().put<int32_t>(40));
    llmc::GGUFModel m = model(t.build());
    EXPECT_EQ(m.config.rope.kind, llmc::RopeConfig::Kind::Linear);
    EXPECT_EQ(m.config.rope.factor, 4.0);
    EXPECT_EQ(m.config.architecture, "MistralForCausalLM");
    EXPECT_EQ(m.config.slidingWindow, (std::vector<int64_t>{64, 64}));
    EXPECT_EQ(m.generation.eosTokenIds, (std::vector<int64_t>{2, 5}));
    EXPECT_TRUE(m.generation.doSample);
    EXPECT_EQ(m.generation.temperature, 0.7f);
    EXPECT_EQ(m.generation.topK, 40);
  }
  {
    TinyModel t;
    t.keys();
    t.b.kvStr("llama.rope.scaling.type", "yarn");
    expectError([&] { model(t.build()); }, {"tiny.gguf", "llama.rope.scaling.type", "'yarn'"});
  }
  {
    TinyModel t;
    t.arch = "qwen2";
    t.qkvBias = true;
    t.keys();
    t.b.kvU32("qwen2.attention.sliding_window", 64);
    expectError([&] { model(t.build()); },
                {"qwen2.attention.sliding_window", "use_sliding_window"});
  }
}

TEST(GGUFModelTest, Refusals) {
  auto refuse = [](auto &&tweak, std::initializer_list<std::string> needles) {
    TinyModel t;
    tweak(t);
    std::vector<uint8_t> bytes = t.build();
    expectError([&] { model(bytes); }, needles);
  };
  refuse(
      [](TinyModel &t) {
        t.arch = "gemma";
        t.keys();
      },
      {"general.architecture 'gemma' is not supported"});
  refuse([](TinyModel &t) { t.b.kvStr("general.name", "x"); },
         {"'general.architecture' is missing"});
  refuse([](TinyModel &t) { t.keys().kvF32("llama.logit_scale", 2.0f); },
         {"'llama.logit_scale' is not supported"});
  refuse([](TinyModel &t) { t.keys().kvU32("llama.expert_count", 8); },
         {"'llama.expert_count' is 8", "mixture-of-experts"});
  refuse([](TinyModel &t) { t.keys().kvU32("split.count", 3); }, {"split.count = 3"});
  refuse([](TinyModel &t) { t.keys().kvU32("llama.attention.key_length", 6); },
         {"llama.rope.dimension_count is 4", "head size is 6"});
  refuse([](TinyModel &t) { t.keys().kvU32("llama.attention.value_length", 2); },
         {"llama.attention.value_length", "differs"});
  refuse(
      [](TinyModel &t) {
        t.keys();
        t.add("rope_freqs.weight", {2});
      },
      {"rope_freqs.weight", "Llama 3 rope scaling"});
  refuse(
      [](TinyModel &t) {
        t.keys();
        t.add("blk.0.attn_q_norm.weight", {4});
      },
      {"'blk.0.attn_q_norm.weight' is not part of a llama model"});
  refuse(
      [](TinyModel &t) {
        t.keys();
        t.add("blk.2.attn_norm.weight", {8});
      },
      {"'blk.2.attn_norm.weight' is not part"});
  refuse(
      [](TinyModel &t) {
        t.keys();
        t.add("blk.0.attn_output.bias", {8});
      },
      {"o_proj bias"});
  refuse(
      [](TinyModel &t) {
        t.eos = 6;
        t.keys();
      },
      {"tokenizer.ggml.eos_token_id is 6", "outside the vocabulary of 6"});
  refuse(
      [](TinyModel &t) {
        t.layers = 0;
        t.keys();
      },
      {"'llama.block_count' is 0"});
  refuse(
      [](TinyModel &t) {
        t.b.kvStr("general.architecture", "llama");
        t.b.kvU32("llama.block_count", 1000);
      },
      {"llama.block_count is 1000", "only"});
  refuse(
      [](TinyModel &t) {
        t.b.kvStr("general.architecture", "llama");
        t.b.kv("llama.block_count", VT::UInt64, Bytes().put<uint64_t>(1ULL << 40));
      },
      {"'llama.block_count' is 1099511627776", "limit"});
}

TEST(GGUFModelTest, RopeDimensionAndEpsMessages) {
  TinyModel t;
  // rope.dimension_count is written by keys(); a second one is a duplicate key, so build the
  // file by hand instead.
  t.b.kvStr("general.architecture", "llama");
  for (auto [k, v] :
       std::vector<std::pair<std::string, uint32_t>>{{"llama.block_count", 2},
                                                     {"llama.context_length", 128},
                                                     {"llama.embedding_length", 8},
                                                     {"llama.feed_forward_length", 16},
                                                     {"llama.attention.head_count", 2},
                                                     {"llama.rope.dimension_count", 2}})
    t.b.kvU32(k, v);
  t.b.kvF32("llama.attention.layer_norm_rms_epsilon", 1e-6f);
  t.b.kvU32("llama.vocab_size", 6);
  expectError([&] { model(t.build()); }, {"llama.rope.dimension_count is 2", "head size is 4"});

  TinyModel e;
  e.b.kvStr("general.architecture", "llama");
  e.b.kvU32("llama.block_count", 2);
  expectError([&] { model(e.build()); }, {"required metadata key 'llama.context_length'"});
}

// ---- the real default model (only when LLM_DEFAULT_GGUF is set) ------------------------------

TEST(GGUFModelTest, DefaultModelMatchesTransformers) {
  const char *path = std::getenv("LLM_DEFAULT_GGUF");
  if (!path || !*path || !fs::is_regular_file(path))
    GTEST_SKIP() << "LLM_DEFAULT_GGUF does not name a GGUF file";
  std::ifstream in(std::string(LLM_GGUF_FIXTURES) + "/smollm2-reference-weights.json");
  ASSERT_TRUE(in);
  json ref = json::parse(in);
  if (fs::path(path).filename().string() != ref["file"].get<std::string>())
    GTEST_SKIP() << "the reference is for " << ref["file"] << ", not " << path;

  llmc::GGUFModel m = llmc::openGGUFModel(path);
  const llmc::ModelConfig &c = m.config;
  const json &rc = ref["config"];
  EXPECT_EQ(c.architecture, "LlamaForCausalLM");
  EXPECT_EQ(c.numLayers, 30);
  EXPECT_EQ(c.numLayers, rc["num_hidden_layers"].get<int64_t>());
  EXPECT_EQ(c.hiddenSize, 576);
  EXPECT_EQ(c.hiddenSize, rc["hidden_size"].get<int64_t>());
  EXPECT_EQ(c.intermediateSize, rc["intermediate_size"].get<int64_t>());
  EXPECT_EQ(c.numHeads, 9);
  EXPECT_EQ(c.numKVHeads, 3);
  EXPECT_EQ(c.numHeads, rc["num_attention_heads"].get<int64_t>());
  EXPECT_EQ(c.numKVHeads, rc["num_key_value_heads"].get<int64_t>());
  EXPECT_EQ(c.headDim, 64);
  EXPECT_EQ(c.headDim, rc["head_dim"].get<int64_t>());
  EXPECT_EQ(c.vocabSize, 49152);
  EXPECT_EQ(c.vocabSize, rc["vocab_size"].get<int64_t>());
  EXPECT_EQ(c.maxPositions, rc["max_position_embeddings"].get<int64_t>());
  EXPECT_EQ(c.rope.theta, 100000.0);
  EXPECT_EQ(c.rope.theta, rc["rope_theta"].get<double>());
  EXPECT_EQ(float(c.rmsNormEps), float(rc["rms_norm_eps"].get<double>()));
  EXPECT_TRUE(c.tieWordEmbeddings);
  EXPECT_EQ(c.tieWordEmbeddings, rc["tie_word_embeddings"].get<bool>());
  EXPECT_EQ(c.bosTokenId, rc["bos_token_id"].get<int64_t>());
  EXPECT_EQ(c.eosTokenIds, (std::vector<int64_t>{rc["eos_token_id"].get<int64_t>()}));
  EXPECT_FALSE(m.chatTemplate.empty());
  EXPECT_EQ(m.weights->dominantDType(), "Q4_1");
  EXPECT_EQ(m.weights->find("model.embed_tokens.weight")->dtype, "Q8_0");

  for (auto &[name, entry] : ref["tensors"].items()) {
    const llmc::SourceTensor *t = m.weights->find(name);
    ASSERT_NE(t, nullptr) << name;
    EXPECT_EQ(t->shape, entry["shape"].get<std::vector<int64_t>>()) << name;
    std::vector<float> all(size_t(t->numel()));
    m.weights->readFloat32(name, all);
    const int64_t cols = t->shape.size() == 1 ? t->shape[0] : t->shape[1];
    for (auto &[row, values] : entry["rows"].items()) {
      const int64_t r = std::stoll(row);
      for (size_t i = 0; i < values.size(); ++i)
        EXPECT_NEAR(all[size_t(r * cols) + i], values[i].get<double>(), 1e-6)
            << name << " row " << r << " col " << i;
    }
  }
}

} // namespace
