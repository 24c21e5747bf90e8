#include "import/GGUF.h"

#include "import/Safetensors.h" // halfToFloat, bfloat16ToFloat
#include "plan/QuantFormat.h"
#include "support/Error.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <utility>

namespace llmc {

static_assert(std::endian::native == std::endian::little,
              "GGUF files read here are little-endian; this reader assumes a little-endian host");

namespace {

constexpr uint32_t kMagic = 0x46554747; // "GGUF" read as a little-endian u32
constexpr uint64_t kDefaultAlignment = 32;
constexpr uint32_t kMaxDims = 4;      // GGML_MAX_DIMS
constexpr int kMaxArrayDepth = 16;    // nested arrays deeper than this are refused (stack safety)
constexpr uint64_t kMaxAlignment = 1u << 30;

// Smallest encodings, used to refuse lying counts before anything is allocated or looped over.
// A pair: key length, 1-byte key, value type, 1-byte value.
constexpr uint64_t kMinKVBytes = 8 + 1 + 4 + 1;
// A tensor description: name length, 1-byte name, n_dims, one dim, type, offset.
constexpr uint64_t kMinTensorInfoBytes = 8 + 1 + 4 + 8 + 4 + 8;

// Block geometry of every ggml type (elements per block, bytes per block), from ggml's type
// traits. Types that toFloat32 does not convert are still indexed, so a file holding them parses.
struct TypeEntry {
  GGMLType type;
  std::string_view name;
  uint64_t blockSize;
  uint64_t typeSize;
};

constexpr TypeEntry kTypes[] = {
    {GGMLType::F32, "F32", 1, 4},          {GGMLType::F16, "F16", 1, 2},
    {GGMLType::Q4_0, "Q4_0", 32, 18},      {GGMLType::Q4_1, "Q4_1", 32, 20},
    {GGMLType::Q5_0, "Q5_0", 32, 22},      {GGMLType::Q5_1, "Q5_1", 32, 24},
    {GGMLType::Q8_0, "Q8_0", 32, 34},      {GGMLType::Q8_1, "Q8_1", 32, 36},
    {GGMLType::Q2_K, "Q2_K", 256, 84},     {GGMLType::Q3_K, "Q3_K", 256, 110},
    {GGMLType::Q4_K, "Q4_K", 256, 144},    {GGMLType::Q5_K, "Q5_K", 256, 176},
    {GGMLType::Q6_K, "Q6_K", 256, 210},    {GGMLType::Q8_K, "Q8_K", 256, 292},
    {GGMLType::IQ2_XXS, "IQ2_XXS", 256, 66}, {GGMLType::IQ2_XS, "IQ2_XS", 256, 74},
    {GGMLType::IQ3_XXS, "IQ3_XXS", 256, 98}, {GGMLType::IQ1_S, "IQ1_S", 256, 50},
    {GGMLType::IQ4_NL, "IQ4_NL", 32, 18},  {GGMLType::IQ3_S, "IQ3_S", 256, 110},
    {GGMLType::IQ2_S, "IQ2_S", 256, 82},   {GGMLType::IQ4_XS, "IQ4_XS", 256, 136},
    {GGMLType::I8, "I8", 1, 1},            {GGMLType::I16, "I16", 1, 2},
    {GGMLType::I32, "I32", 1, 4},          {GGMLType::I64, "I64", 1, 8},
    {GGMLType::F64, "F64", 1, 8},          {GGMLType::IQ1_M, "IQ1_M", 256, 56},
    {GGMLType::BF16, "BF16", 1, 2},        {GGMLType::TQ1_0, "TQ1_0", 256, 54},
    {GGMLType::TQ2_0, "TQ2_0", 256, 66},   {GGMLType::MXFP4, "MXFP4", 32, 17},
};

const TypeEntry *typeEntry(GGMLType t) {
  for (const TypeEntry &e : kTypes)
    if (e.type == t)
      return &e;
  return nullptr;
}

bool isConvertible(GGMLType t) {
  switch (t) {
  case GGMLType::F32:
  case GGMLType::F16:
  case GGMLType::BF16:
  case GGMLType::Q8_0:
  case GGMLType::Q4_0:
  case GGMLType::Q4_1:
  case GGMLType::Q5_0:
  case GGMLType::Q5_1:
  case GGMLType::Q4_K:
  case GGMLType::Q5_K:
  case GGMLType::Q6_K:
    return true;
  default:
    return false;
  }
}

std::string_view valueTypeName(GGUFValue::Type t) {
  switch (t) {
  case GGUFValue::Type::UInt8: return "uint8";
  case GGUFValue::Type::Int8: return "int8";
  case GGUFValue::Type::UInt16: return "uint16";
  case GGUFValue::Type::Int16: return "int16";
  case GGUFValue::Type::UInt32: return "uint32";
  case GGUFValue::Type::Int32: return "int32";
  case GGUFValue::Type::Float32: return "float32";
  case GGUFValue::Type::Bool: return "bool";
  case GGUFValue::Type::String: return "string";
  case GGUFValue::Type::Array: return "array";
  case GGUFValue::Type::UInt64: return "uint64";
  case GGUFValue::Type::Int64: return "int64";
  case GGUFValue::Type::Float64: return "float64";
  }
  return "unknown";
}

bool knownValueType(uint32_t t) { return t <= static_cast<uint32_t>(GGUFValue::Type::Float64); }

// Bytes of a scalar value type; 0 for string and array.
uint64_t scalarSize(GGUFValue::Type t) {
  switch (t) {
  case GGUFValue::Type::UInt8:
  case GGUFValue::Type::Int8:
  case GGUFValue::Type::Bool:
    return 1;
  case GGUFValue::Type::UInt16:
  case GGUFValue::Type::Int16:
    return 2;
  case GGUFValue::Type::UInt32:
  case GGUFValue::Type::Int32:
  case GGUFValue::Type::Float32:
    return 4;
  case GGUFValue::Type::UInt64:
  case GGUFValue::Type::Int64:
  case GGUFValue::Type::Float64:
    return 8;
  default:
    return 0;
  }
}

// Smallest encoding of one value of type t (an empty string, an empty array).
uint64_t minValueSize(GGUFValue::Type t) {
  if (t == GGUFValue::Type::String)
    return 8;
  if (t == GGUFValue::Type::Array)
    return 4 + 8;
  return scalarSize(t);
}

// Reads the file front to back; every read checks the bytes that remain first.
class Cursor {
public:
  Cursor(std::span<const uint8_t> bytes, const std::string &what) : bytes_(bytes), what_(what) {}

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return bytes_.size() - pos_; }

  void need(uint64_t n, std::string_view reading) const {
    if (n > remaining())
      llm::fail("{}: truncated at byte {} reading {} (needs {} bytes, {} left)", what_, pos_,
                reading, n, remaining());
  }

  template <typename T> T read(std::string_view reading) {
    need(sizeof(T), reading);
    T v;
    std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::string readString(std::string_view reading) {
    const uint64_t len = read<uint64_t>(reading);
    if (len > remaining())
      llm::fail("{}: {} has length {} at byte {}, but only {} bytes remain in the file", what_,
                reading, len, pos_ - 8, remaining());
    std::string s(reinterpret_cast<const char *>(bytes_.data() + pos_), static_cast<size_t>(len));
    pos_ += len;
    return s;
  }

private:
  std::span<const uint8_t> bytes_;
  const std::string &what_;
  uint64_t pos_ = 0;
};

GGUFValue readValue(Cursor &c, GGUFValue::Type type, const std::string &key, int depth,
                    const std::string &what) {
  GGUFValue v;
  v.type = type;
  const std::string reading = fmt::format("the value of '{}'", key);
  switch (type) {
  case GGUFValue::Type::UInt8: v.value = uint64_t(c.read<uint8_t>(reading)); break;
  case GGUFValue::Type::UInt16: v.value = uint64_t(c.read<uint16_t>(reading)); break;
  case GGUFValue::Type::UInt32: v.value = uint64_t(c.read<uint32_t>(reading)); break;
  case GGUFValue::Type::UInt64: v.value = c.read<uint64_t>(reading); break;
  case GGUFValue::Type::Int8: v.value = int64_t(c.read<int8_t>(reading)); break;
  case GGUFValue::Type::Int16: v.value = int64_t(c.read<int16_t>(reading)); break;
  case GGUFValue::Type::Int32: v.value = int64_t(c.read<int32_t>(reading)); break;
  case GGUFValue::Type::Int64: v.value = c.read<int64_t>(reading); break;
  case GGUFValue::Type::Float32: v.value = double(c.read<float>(reading)); break;
  case GGUFValue::Type::Float64: v.value = c.read<double>(reading); break;
  case GGUFValue::Type::Bool: {
    const uint64_t at = c.pos();
    const uint8_t b = c.read<uint8_t>(reading);
    if (b > 1)
      llm::fail("{}: bool value of '{}' at byte {} is {}, expected 0 or 1", what, key, at, b);
    v.value = b == 1;
    break;
  }
  case GGUFValue::Type::String: v.value = c.readString(reading); break;
  case GGUFValue::Type::Array: {
    if (depth >= kMaxArrayDepth)
      llm::fail("{}: the value of '{}' nests arrays more than {} deep", what, key, kMaxArrayDepth);
    const uint64_t at = c.pos();
    const uint32_t elemType = c.read<uint32_t>(fmt::format("the array element type of '{}'", key));
    if (!knownValueType(elemType))
      llm::fail("{}: array '{}' (at byte {}) has unknown element type {} (expected 0..12)", what,
                key, at, elemType);
    const uint64_t count = c.read<uint64_t>(fmt::format("the array length of '{}'", key));
    const auto et = static_cast<GGUFValue::Type>(elemType);
    const uint64_t minSize = minValueSize(et);
    if (count > c.remaining() / minSize)
      llm::fail("{}: array '{}' claims {} elements of type {}, but only {} bytes remain in the "
                "file (each element takes at least {} bytes)",
                what, key, count, valueTypeName(et), c.remaining(), minSize);
    std::vector<GGUFValue> elems;
    elems.reserve(static_cast<size_t>(count)); // bounded by the bytes that remain
    for (uint64_t i = 0; i < count; ++i)
      elems.push_back(readValue(c, et, key, depth + 1, what));
    v.value = std::move(elems);
    break;
  }
  }
  return v;
}

bool isPowerOfTwo(uint64_t x) { return x != 0 && (x & (x - 1)) == 0; }

// x rounded up to a multiple of `align` (a power of two); false on overflow.
bool alignUp(uint64_t x, uint64_t align, uint64_t &out) {
  uint64_t sum;
  if (__builtin_add_overflow(x, align - 1, &sum))
    return false;
  out = sum & ~(align - 1);
  return true;
}

} // namespace

// ---------------------------------------------------------------------------------------------
// GGUFValue

bool GGUFValue::isInteger() const {
  switch (type) {
  case Type::UInt8:
  case Type::Int8:
  case Type::UInt16:
  case Type::Int16:
  case Type::UInt32:
  case Type::Int32:
  case Type::UInt64:
  case Type::Int64:
    return true;
  default:
    return false;
  }
}

int64_t GGUFValue::asInt(std::string_view key) const {
  if (const auto *u = std::get_if<uint64_t>(&value)) {
    if (*u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      llm::fail("metadata key '{}': value {} is out of range (more than 2^63 - 1)", key, *u);
    return static_cast<int64_t>(*u);
  }
  if (const auto *i = std::get_if<int64_t>(&value))
    return *i;
  llm::fail("metadata key '{}' is of type {}, expected an integer", key, valueTypeName(type));
}

double GGUFValue::asFloat(std::string_view key) const {
  if (const auto *d = std::get_if<double>(&value))
    return *d;
  if (const auto *u = std::get_if<uint64_t>(&value))
    return static_cast<double>(*u);
  if (const auto *i = std::get_if<int64_t>(&value))
    return static_cast<double>(*i);
  llm::fail("metadata key '{}' is of type {}, expected a number", key, valueTypeName(type));
}

bool GGUFValue::asBool(std::string_view key) const {
  if (const auto *b = std::get_if<bool>(&value))
    return *b;
  llm::fail("metadata key '{}' is of type {}, expected a bool", key, valueTypeName(type));
}

const std::string &GGUFValue::asString(std::string_view key) const {
  if (const auto *s = std::get_if<std::string>(&value))
    return *s;
  llm::fail("metadata key '{}' is of type {}, expected a string", key, valueTypeName(type));
}

const std::vector<GGUFValue> &GGUFValue::asArray(std::string_view key) const {
  if (const auto *a = std::get_if<std::vector<GGUFValue>>(&value))
    return *a;
  llm::fail("metadata key '{}' is of type {}, expected an array", key, valueTypeName(type));
}

// ---------------------------------------------------------------------------------------------
// Types and tensors

std::string_view ggmlTypeName(GGMLType t) {
  if (const TypeEntry *e = typeEntry(t))
    return e->name;
  // "type N" for numbers ggml does not define (or no longer defines); one static string per
  // number below 64, a fixed text beyond (the views stay valid for the life of the program).
  static const auto names = [] {
    std::vector<std::string> v;
    for (int i = 0; i < 64; ++i)
      v.push_back(fmt::format("type {}", i));
    return v;
  }();
  const auto n = static_cast<uint32_t>(t);
  if (n < names.size())
    return names[n];
  return "type >= 64 (unknown)";
}

bool ggmlTypeBlock(GGMLType t, uint64_t &blockSize, uint64_t &typeSize) {
  if (const TypeEntry *e = typeEntry(t)) {
    blockSize = e->blockSize;
    typeSize = e->typeSize;
    return true;
  }
  return false;
}

int64_t GGUFTensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : dims)
    n *= d; // checked against overflow at parse time
  return n;
}

bool GGUFTensorInfo::convertible() const { return isConvertible(type); }

// ---------------------------------------------------------------------------------------------
// GGUFFile

GGUFFile GGUFFile::open(const std::string &path) {
  GGUFFile file;
  file.path_ = path;
  file.map_ = llm::MappedFile::open(path);
  file.parse(file.map_.bytes());
  return file;
}

GGUFFile GGUFFile::fromBytes(std::span<const uint8_t> bytes, const std::string &name) {
  GGUFFile file;
  file.path_ = name;
  file.owned_.assign(bytes.begin(), bytes.end());
  file.parse(file.owned_);
  return file;
}

const GGUFValue *GGUFFile::find(std::string_view key) const {
  auto it = metadata_.find(key);
  return it == metadata_.end() ? nullptr : &it->second;
}

const GGUFValue &GGUFFile::get(std::string_view key) const {
  if (const GGUFValue *v = find(key))
    return *v;
  llm::fail("GGUF file '{}': metadata key '{}' is missing", path_, key);
}

const GGUFTensorInfo *GGUFFile::findTensor(std::string_view name) const {
  auto it = tensorIndex_.find(name);
  return it == tensorIndex_.end() ? nullptr : &tensors_[it->second];
}

void GGUFFile::parse(std::span<const uint8_t> bytes) {
  const std::string what = fmt::format("GGUF file '{}'", path_);
  if (bytes.size() < 4)
    llm::fail("{}: {} bytes long, too short to be a GGUF file (it starts with the 4-byte magic "
              "'GGUF')",
              what, bytes.size());
  Cursor c(bytes, what);
  const uint32_t magic = c.read<uint32_t>("the magic");
  if (magic != kMagic) {
    std::string shown;
    for (int i = 0; i < 4; ++i) {
      const uint8_t ch = bytes[i];
      shown += (ch >= 0x20 && ch < 0x7f) ? std::string(1, char(ch)) : fmt::format("\\x{:02x}", ch);
    }
    llm::fail("{}: not a GGUF file (magic '{}', expected 'GGUF')", what, shown);
  }
  version_ = c.read<uint32_t>("the version");
  if (version_ == 1)
    llm::fail("{}: GGUF version 1 is not supported (it used 32-bit counts; versions 2 and 3 are "
              "read); convert the file with a current llama.cpp",
              what);
  if (version_ != 2 && version_ != 3) {
    if (version_ != 0 && (version_ & 0xFFFF) == 0 && __builtin_bswap32(version_) <= 3)
      llm::fail("{}: the file is big-endian (version {} byte-swapped); only little-endian GGUF "
                "files are supported",
                what, __builtin_bswap32(version_));
    llm::fail("{}: GGUF version {} is not supported (expected 2 or 3)", what, version_);
  }

  const uint64_t tensorCount = c.read<uint64_t>("the tensor count");
  const uint64_t kvCount = c.read<uint64_t>("the metadata key-value count");
  if (kvCount > c.remaining() / kMinKVBytes)
    llm::fail("{}: the header claims {} metadata key-value pairs, but only {} bytes follow (each "
              "pair takes at least {} bytes)",
              what, kvCount, c.remaining(), kMinKVBytes);
  if (tensorCount > (c.remaining() - kvCount * kMinKVBytes) / kMinTensorInfoBytes)
    llm::fail("{}: the header claims {} tensors, but only {} bytes follow (each tensor "
              "description takes at least {} bytes)",
              what, tensorCount, c.remaining(), kMinTensorInfoBytes);

  // Metadata.
  for (uint64_t i = 0; i < kvCount; ++i) {
    const uint64_t at = c.pos();
    std::string key = c.readString(fmt::format("metadata key #{}", i));
    if (key.empty())
      llm::fail("{}: metadata key #{} (at byte {}) is empty", what, i, at);
    if (metadata_.count(key))
      llm::fail("{}: duplicate metadata key '{}' (second occurrence at byte {})", what, key, at);
    const uint64_t typeAt = c.pos();
    const uint32_t type = c.read<uint32_t>(fmt::format("the value type of '{}'", key));
    if (!knownValueType(type))
      llm::fail("{}: metadata key '{}' has unknown value type {} at byte {} (expected 0..12)", what,
                key, type, typeAt);
    GGUFValue v = readValue(c, static_cast<GGUFValue::Type>(type), key, 0, what);
    metadata_.emplace(std::move(key), std::move(v));
  }

  uint64_t alignment = kDefaultAlignment;
  if (const GGUFValue *a = find("general.alignment")) {
    if (!a->isInteger())
      llm::fail("{}: general.alignment is of type {}, expected an unsigned integer", what,
                valueTypeName(a->type));
    const int64_t v = a->asInt("general.alignment");
    if (v <= 0 || !isPowerOfTwo(static_cast<uint64_t>(v)) ||
        static_cast<uint64_t>(v) > kMaxAlignment)
      llm::fail("{}: general.alignment is {}, expected a power of two (at most 2^30)", what, v);
    alignment = static_cast<uint64_t>(v);
  }

  // Tensor descriptions.
  tensors_.reserve(static_cast<size_t>(tensorCount)); // bounded by the bytes that remain
  for (uint64_t i = 0; i < tensorCount; ++i) {
    const uint64_t at = c.pos();
    GGUFTensorInfo t;
    t.name = c.readString(fmt::format("the name of tensor #{}", i));
    if (t.name.empty())
      llm::fail("{}: tensor #{} (at byte {}) has an empty name", what, i, at);
    if (tensorIndex_.count(t.name))
      llm::fail("{}: duplicate tensor name '{}' (second description at byte {})", what, t.name, at);
    const std::string where = fmt::format("{}, tensor '{}'", what, t.name);
    const uint32_t nDims = c.read<uint32_t>(fmt::format("the dimension count of '{}'", t.name));
    if (nDims == 0 || nDims > kMaxDims)
      llm::fail("{}: {} dimensions, expected 1 to {}", where, nDims, kMaxDims);
    uint64_t numel = 1;
    for (uint32_t d = 0; d < nDims; ++d) {
      const uint64_t dim = c.read<uint64_t>(fmt::format("the dimensions of '{}'", t.name));
      if (dim == 0 || dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        llm::fail("{}: dimension {} is {}, expected a positive size", where, d,
                  static_cast<int64_t>(dim));
      if (__builtin_mul_overflow(numel, dim, &numel) ||
          numel > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        llm::fail("{}: the element count overflows 2^63", where);
      t.dims.push_back(static_cast<int64_t>(dim));
    }
    const uint32_t type = c.read<uint32_t>(fmt::format("the type of '{}'", t.name));
    t.type = static_cast<GGMLType>(type);
    const TypeEntry *te = typeEntry(t.type);
    if (!te)
      llm::fail("{}: unknown ggml type {} (this reader knows the ggml types 0..39 that ggml "
                "defines; the size of an unknown type's blocks cannot be known)",
                where, type);
    if (static_cast<uint64_t>(t.dims[0]) % te->blockSize != 0)
      llm::fail("{}: the row length {} (dimension 0) is not a multiple of {}'s block size {}",
                where, t.dims[0], te->name, te->blockSize);
    uint64_t nbytes = 0;
    if (__builtin_mul_overflow(numel / te->blockSize, te->typeSize, &nbytes))
      llm::fail("{}: the byte size overflows 2^64", where);
    t.nbytes = static_cast<size_t>(nbytes);
    t.offset = c.read<uint64_t>(fmt::format("the data offset of '{}'", t.name));
    tensorIndex_.emplace(t.name, tensors_.size());
    tensors_.push_back(std::move(t));
  }

  // The data section starts at the next multiple of the alignment after the header.
  uint64_t dataStart = 0;
  if (!alignUp(c.pos(), alignment, dataStart))
    llm::fail("{}: the data section offset overflows", what);
  const uint64_t dataSize = dataStart <= bytes.size() ? bytes.size() - dataStart : 0;
  const uint8_t *dataBase = bytes.data() + std::min<uint64_t>(dataStart, bytes.size());

  struct Range {
    uint64_t begin, end;
    size_t index;
  };
  std::vector<Range> ranges;
  ranges.reserve(tensors_.size());
  for (size_t i = 0; i < tensors_.size(); ++i) {
    GGUFTensorInfo &t = tensors_[i];
    const std::string where = fmt::format("{}, tensor '{}'", what, t.name);
    if (t.offset % alignment != 0)
      llm::fail("{}: data offset {} is not a multiple of the alignment {}", where, t.offset,
                alignment);
    if (t.offset > dataSize || t.nbytes > dataSize - t.offset)
      llm::fail("{}: its {} bytes at data offset {} reach beyond the end of the file (the data "
                "section holds {} bytes, from byte {}; file truncated?)",
                where, t.nbytes, t.offset, dataSize, dataStart);
    t.data = dataBase + t.offset;
    ranges.push_back({t.offset, t.offset + t.nbytes, i});
  }
  std::sort(ranges.begin(), ranges.end(),
            [](const Range &a, const Range &b) { return a.begin < b.begin; });
  for (size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i].begin < ranges[i - 1].end)
      llm::fail("{}: tensors '{}' (bytes {}..{} of the data section) and '{}' (bytes {}..{}) "
                "overlap",
                what, tensors_[ranges[i - 1].index].name, ranges[i - 1].begin, ranges[i - 1].end,
                tensors_[ranges[i].index].name, ranges[i].begin, ranges[i].end);
}

// ---------------------------------------------------------------------------------------------
// Conversion to float32 (ggml's reference dequantization)

namespace {

inline float loadHalf(const uint8_t *p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return halfToFloat(h);
}

// Q8_0: {f16 d; int8 q[32]}; x = d * q. Exact in float32 (11-bit by 8-bit significands).
void dequantQ8_0(const uint8_t *src, uint64_t blocks, float *out) {
  for (uint64_t b = 0; b < blocks; ++b, src += 34, out += 32) {
    const float d = loadHalf(src);
    for (int i = 0; i < 32; ++i)
      out[i] = d * static_cast<float>(static_cast<int8_t>(src[2 + i]));
  }
}

// Q4_0: {f16 d; u8 qs[16]}; element i < 16 is the low nibble of qs[i], element 16 + i the high
// nibble; x = d * (q - 8). Exact in float32.
void dequantQ4_0(const uint8_t *src, uint64_t blocks, float *out) {
  for (uint64_t b = 0; b < blocks; ++b, src += 18, out += 32) {
    const float d = loadHalf(src);
    const uint8_t *qs = src + 2;
    for (int i = 0; i < 16; ++i) {
      out[i] = d * static_cast<float>(int(qs[i] & 0x0F) - 8);
      out[i + 16] = d * static_cast<float>(int(qs[i] >> 4) - 8);
    }
  }
}

// Q4_1: {f16 d; f16 m; u8 qs[16]}; nibbles as Q4_0; x = d * q + m. d * q is exact, so the sum is
// rounded once whether or not the compiler fuses it into an FMA.
void dequantQ4_1(const uint8_t *src, uint64_t blocks, float *out) {
  for (uint64_t b = 0; b < blocks; ++b, src += 20, out += 32) {
    const float d = loadHalf(src);
    const float m = loadHalf(src + 2);
    const uint8_t *qs = src + 4;
    for (int i = 0; i < 16; ++i) {
      out[i] = d * static_cast<float>(qs[i] & 0x0F) + m;
      out[i + 16] = d * static_cast<float>(qs[i] >> 4) + m;
    }
  }
}

// Q5_0: {f16 d; u8 qh[4]; u8 qs[16]}; element i < 16 is the low nibble of qs[i] plus bit i of qh
// (as 16), element 16 + i the high nibble plus bit 16 + i; x = d * (q - 16). Exact in float32.
// Q5_1: {f16 d; f16 m; u8 qh[4]; u8 qs[16]}; x = d * q + m (rounded once, as Q4_1).
template <bool kHasMin> void dequantQ5(const uint8_t *src, uint64_t blocks, float *out) {
  const size_t header = kHasMin ? 4 : 2;
  for (uint64_t b = 0; b < blocks; ++b, src += header + 20, out += 32) {
    const float d = loadHalf(src), m = kHasMin ? loadHalf(src + 2) : 0.0f;
    uint32_t qh;
    std::memcpy(&qh, src + header, 4);
    const uint8_t *qs = src + header + 4;
    for (int i = 0; i < 16; ++i) {
      int lo = (qs[i] & 0x0F) | (((qh >> i) & 1) << 4), hi = (qs[i] >> 4) | (((qh >> (16 + i)) & 1) << 4);
      if constexpr (kHasMin) {
        out[i] = d * static_cast<float>(lo) + m;
        out[i + 16] = d * static_cast<float>(hi) + m;
      } else {
        out[i] = d * static_cast<float>(lo - 16);
        out[i + 16] = d * static_cast<float>(hi - 16);
      }
    }
  }
}

} // namespace

void GGUFFile::toFloat32(const GGUFTensorInfo &t, std::span<float> out) const {
  const uint64_t n = static_cast<uint64_t>(t.numel());
  if (out.size() != n)
    llm::fail("GGUF file '{}': toFloat32 of tensor '{}': it has {} elements, but the output holds "
              "{}",
              path_, t.name, n, out.size());
  const TypeEntry *te = typeEntry(t.type);
  if (!isConvertible(t.type) || !te)
    llm::fail("GGUF file '{}': tensor '{}' has type {}; only F32, F16, BF16, Q8_0, Q4_0, Q4_1, "
              "Q5_0, Q5_1, Q4_K, Q5_K and Q6_K convert to float32",
              path_, t.name, ggmlTypeName(t.type));
  if (n / te->blockSize * te->typeSize != t.nbytes || (t.nbytes && !t.data))
    llm::fail("GGUF file '{}': tensor '{}' does not belong to this file (its size does not match)",
              path_, t.name);
  const uint8_t *src = t.data;
  const uint64_t blocks = n / te->blockSize;
  switch (t.type) {
  case GGMLType::F32:
    if (n)
      std::memcpy(out.data(), src, n * sizeof(float));
    return;
  case GGMLType::F16:
    for (uint64_t i = 0; i < n; ++i)
      out[i] = loadHalf(src + 2 * i);
    return;
  case GGMLType::BF16:
    for (uint64_t i = 0; i < n; ++i) {
      uint16_t h;
      std::memcpy(&h, src + 2 * i, 2);
      out[i] = bfloat16ToFloat(h);
    }
    return;
  case GGMLType::Q8_0: dequantQ8_0(src, blocks, out.data()); return;
  case GGMLType::Q4_0: dequantQ4_0(src, blocks, out.data()); return;
  case GGMLType::Q4_1: dequantQ4_1(src, blocks, out.data()); return;
  case GGMLType::Q5_0: dequantQ5<false>(src, blocks, out.data()); return;
  case GGMLType::Q5_1: dequantQ5<true>(src, blocks, out.data()); return;
  // The k-quants: the runtime's reference dequantizers (bit-exact vs gguf.quants, which rounds
  // the sub-block scale and min first and then x = scale * q - min without an FMA).
  case GGMLType::Q4_K: llm::quant::dequantize(llm::quant::Scheme::Q4_K, src, n, out.data()); return;
  case GGMLType::Q5_K: llm::quant::dequantize(llm::quant::Scheme::Q5_K, src, n, out.data()); return;
  case GGMLType::Q6_K: llm::quant::dequantize(llm::quant::Scheme::Q6_K, src, n, out.data()); return;
  default: break;
  }
  llm::fail("GGUF file '{}': tensor '{}' has type {}, which does not convert to float32", path_,
            t.name, ggmlTypeName(t.type));
}

} // namespace llmc
