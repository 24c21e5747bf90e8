#include "import/Safetensors.h"

#include "support/Error.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <filesystem>
#include <limits>
#include <set>
#include <utility>

namespace llmc {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; this reader assumes a little-endian host");

namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

// The reference implementation's limit: a header beyond it is corrupt, not large.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

struct DTypeEntry {
  TensorDType dtype;
  std::string_view name;
  size_t size;
  bool floating;
};

constexpr std::array<DTypeEntry, 12> kDTypes = {{
    {TensorDType::F32, "F32", 4, true},
    {TensorDType::F16, "F16", 2, true},
    {TensorDType::BF16, "BF16", 2, true},
    {TensorDType::F64, "F64", 8, true},
    {TensorDType::I64, "I64", 8, false},
    {TensorDType::I32, "I32", 4, false},
    {TensorDType::I16, "I16", 2, false},
    {TensorDType::I8, "I8", 1, false},
    {TensorDType::U8, "U8", 1, false},
    {TensorDType::BOOL, "BOOL", 1, false},
    {TensorDType::F8_E4M3, "F8_E4M3", 1, true},
    {TensorDType::F8_E5M2, "F8_E5M2", 1, true},
}};

const DTypeEntry &entry(TensorDType dtype) {
  for (const DTypeEntry &e : kDTypes)
    if (e.dtype == dtype)
      return e;
  llm::fail("invalid TensorDType value {}", static_cast<int>(dtype));
}

std::string supportedDTypeList() {
  std::string out;
  for (const DTypeEntry &e : kDTypes) {
    if (!out.empty())
      out += ", ";
    out += e.name;
  }
  return out;
}

std::string typeName(const json &v) { return v.type_name(); }

// Parses JSON text, rejecting duplicate keys in any object (nlohmann would keep the last one
// silently, so a header naming a tensor twice would lose one without a word).
json parseStrictJson(std::string_view text, const std::string &what) {
  std::vector<std::set<std::string>> keys;
  auto callback = [&](int, json::parse_event_t event, json &parsed) {
    switch (event) {
    case json::parse_event_t::object_start:
      keys.emplace_back();
      break;
    case json::parse_event_t::object_end:
      keys.pop_back();
      break;
    case json::parse_event_t::key:
      if (!keys.back().insert(parsed.get<std::string>()).second)
        llm::fail("{}: duplicate key '{}' in the JSON", what, parsed.get<std::string>());
      break;
    default:
      break;
    }
    return true;
  };
  try {
    return json::parse(text.begin(), text.end(), callback);
  } catch (const json::exception &e) {
    llm::fail("{}: not valid JSON ({})", what, e.what());
  }
}

// A JSON integer in [0, 2^63), or an error naming `field`.
uint64_t nonNegativeInt(const json &v, const std::string &where, std::string_view field) {
  if (v.is_number_unsigned()) {
    uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      llm::fail("{}: {} value {} is too large", where, field, u);
    return u;
  }
  if (v.is_number_integer())
    llm::fail("{}: {} value {} is negative; expected a non-negative integer", where, field,
              v.get<int64_t>());
  llm::fail("{}: {} must hold integers, got {} ({})", where, field, typeName(v), v.dump());
}

} // namespace

size_t dtypeSize(TensorDType dtype) { return entry(dtype).size; }
std::string_view dtypeName(TensorDType dtype) { return entry(dtype).name; }
bool isFloating(TensorDType dtype) { return entry(dtype).floating; }

bool parseDType(std::string_view name, TensorDType &out) {
  for (const DTypeEntry &e : kDTypes) {
    if (e.name == name) {
      out = e.dtype;
      return true;
    }
  }
  return false;
}

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d; // validated at parse time: no overflow
  return n;
}

// ---------------------------------------------------------------------------------------------
// SafetensorsFile

SafetensorsFile SafetensorsFile::open(const std::string &path) {
  SafetensorsFile file;
  file.path_ = path;
  file.map_ = llm::MappedFile::open(path);
  file.parse(file.map_.bytes());
  return file;
}

SafetensorsFile SafetensorsFile::fromBytes(std::span<const uint8_t> bytes, const std::string &name) {
  SafetensorsFile file;
  file.path_ = name;
  file.owned_.assign(bytes.begin(), bytes.end());
  file.parse(file.owned_);
  return file;
}

const TensorInfo *SafetensorsFile::find(std::string_view name) const {
  for (const TensorInfo &t : tensors_)
    if (t.name == name)
      return &t;
  return nullptr;
}

void SafetensorsFile::parse(std::span<const uint8_t> bytes) {
  const std::string fileWhat = fmt::format("safetensors file '{}'", path_);
  if (bytes.size() < 8)
    llm::fail("{}: {} bytes long, shorter than the 8-byte header length that starts the format",
              fileWhat, bytes.size());
  uint64_t headerLen = 0;
  std::memcpy(&headerLen, bytes.data(), 8); // little-endian host (asserted above)
  if (headerLen > kMaxHeaderBytes)
    llm::fail("{}: header length {} is absurd (the limit is {} bytes); the file is corrupt or not "
              "a safetensors file",
              fileWhat, headerLen, kMaxHeaderBytes);
  const uint64_t afterLen = bytes.size() - 8;
  if (headerLen > afterLen)
    llm::fail("{}: header length {} exceeds the {} bytes that follow it (file truncated?)",
              fileWhat, headerLen, afterLen);
  const uint64_t dataSize = afterLen - headerLen;
  const uint8_t *dataBase = bytes.data() + 8 + headerLen;

  std::string_view headerText(reinterpret_cast<const char *>(bytes.data() + 8), headerLen);
  json header = parseStrictJson(headerText, fileWhat + " header");
  if (!header.is_object())
    llm::fail("{}: header must be a JSON object, got {}", fileWhat, typeName(header));

  struct Range {
    uint64_t begin, end;
    size_t index;
  };
  std::vector<Range> ranges;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string &key = it.key();
    const json &value = it.value();
    if (key == "__metadata__") {
      if (!value.is_object())
        llm::fail("{}: __metadata__ must be an object of strings, got {}", fileWhat,
                  typeName(value));
      for (auto m = value.begin(); m != value.end(); ++m) {
        if (!m.value().is_string())
          llm::fail("{}: __metadata__ value of '{}' must be a string, got {}", fileWhat, m.key(),
                    typeName(m.value()));
        metadata_.emplace(m.key(), m.value().get<std::string>());
      }
      continue;
    }

    const std::string where = fmt::format("{}, tensor '{}'", fileWhat, key);
    if (key.empty())
      llm::fail("{}: a tensor has an empty name", fileWhat);
    if (!value.is_object())
      llm::fail("{}: entry must be an object with dtype, shape and data_offsets, got {}", where,
                typeName(value));
    for (const char *field : {"dtype", "shape", "data_offsets"})
      if (!value.contains(field))
        llm::fail("{}: missing field '{}'", where, field);

    TensorInfo t;
    t.name = key;
    t.file = path_;

    const json &dtype = value["dtype"];
    if (!dtype.is_string())
      llm::fail("{}: dtype must be a string, got {}", where, typeName(dtype));
    if (!parseDType(dtype.get<std::string>(), t.dtype))
      llm::fail("{}: unknown dtype '{}'; expected one of {}", where, dtype.get<std::string>(),
                supportedDTypeList());

    const json &shape = value["shape"];
    if (!shape.is_array())
      llm::fail("{}: shape must be an array of integers, got {}", where, typeName(shape));
    uint64_t numel = 1;
    bool overflow = false;
    for (const json &dim : shape) {
      uint64_t d = nonNegativeInt(dim, where, "shape");
      t.shape.push_back(static_cast<int64_t>(d));
      overflow = overflow || __builtin_mul_overflow(numel, d, &numel);
    }
    uint64_t expectedBytes = 0;
    overflow = overflow || __builtin_mul_overflow(numel, uint64_t(dtypeSize(t.dtype)), &expectedBytes);
    // A zero dimension makes any product zero: overflow only matters if the product is nonzero.
    if (std::find(t.shape.begin(), t.shape.end(), 0) != t.shape.end()) {
      overflow = false;
      numel = expectedBytes = 0;
    }

    const json &offsets = value["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2)
      llm::fail("{}: data_offsets must be an array of two integers [begin, end], got {}", where,
                offsets.dump());
    uint64_t begin = nonNegativeInt(offsets[0], where, "data_offsets");
    uint64_t end = nonNegativeInt(offsets[1], where, "data_offsets");
    if (begin > end)
      llm::fail("{}: data_offsets [{}, {}] has begin after end", where, begin, end);
    if (end > dataSize)
      llm::fail("{}: data_offsets [{}, {}] reach beyond the data region of {} bytes", where, begin,
                end, dataSize);
    if (overflow || expectedBytes != end - begin)
      llm::fail("{}: shape [{}] of {} needs {} bytes, but data_offsets [{}, {}] span {} bytes", where,
                fmt::join(t.shape, ", "), dtypeName(t.dtype),
                overflow ? std::string("more than 2^64") : std::to_string(expectedBytes), begin, end,
                end - begin);

    t.data = dataBase + begin;
    t.nbytes = static_cast<size_t>(end - begin);
    ranges.push_back({begin, end, tensors_.size()});
    tensors_.push_back(std::move(t));
  }

  // Overlaps: sort by begin; every non-empty tensor must start at or after the furthest end so far.
  std::stable_sort(ranges.begin(), ranges.end(), [](const Range &a, const Range &b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t maxEnd = 0;
  const Range *maxEndRange = nullptr;
  for (const Range &r : ranges) {
    if (r.begin == r.end)
      continue;
    if (maxEndRange && r.begin < maxEnd)
      llm::fail("{}: tensors '{}' (data_offsets [{}, {}]) and '{}' (data_offsets [{}, {}]) overlap",
                fileWhat, tensors_[maxEndRange->index].name, maxEndRange->begin, maxEndRange->end,
                tensors_[r.index].name, r.begin, r.end);
    if (r.end > maxEnd) {
      maxEnd = r.end;
      maxEndRange = &r;
    }
  }

  // Keep tensors in file order.
  std::vector<TensorInfo> ordered;
  ordered.reserve(tensors_.size());
  for (const Range &r : ranges)
    ordered.push_back(std::move(tensors_[r.index]));
  tensors_ = std::move(ordered);
}

// ---------------------------------------------------------------------------------------------
// WeightSet

namespace {

// A shard name from an index must stay inside the model folder.
void checkShardName(const std::string &shard, const std::string &indexPath) {
  fs::path p(shard);
  if (shard.empty() || p.is_absolute())
    llm::fail("index '{}': shard file name '{}' must be a relative path inside the model folder",
              indexPath, shard);
  for (const fs::path &part : p)
    if (part == "..")
      llm::fail("index '{}': shard file name '{}' must not leave the model folder", indexPath,
                shard);
}

} // namespace

WeightSet WeightSet::openFolder(const std::string &dir) {
  WeightSet set;
  set.dir_ = dir;
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    llm::fail("model folder '{}' does not exist or is not a directory", dir);

  auto addFile = [&](SafetensorsFile file) {
    set.files_.push_back(std::move(file));
    for (const TensorInfo &t : set.files_.back().tensors()) {
      auto [it, inserted] = set.byName_.emplace(t.name, &t);
      if (!inserted)
        llm::fail("tensor '{}' appears twice in '{}': in '{}' and in '{}'", t.name, dir,
                  it->second->file, t.file);
    }
  };

  const fs::path single = fs::path(dir) / "model.safetensors";
  const fs::path index = fs::path(dir) / "model.safetensors.index.json";
  if (fs::exists(single, ec)) {
    addFile(SafetensorsFile::open(single.string()));
    return set;
  }
  if (!fs::exists(index, ec))
    llm::fail("no model.safetensors or model.safetensors.index.json in '{}'", dir);

  const std::string indexPath = index.string();
  llm::MappedFile indexFile = llm::MappedFile::open(indexPath);
  std::string_view text(reinterpret_cast<const char *>(indexFile.data()), indexFile.size());
  json root = parseStrictJson(text, fmt::format("index '{}'", indexPath));
  if (!root.is_object())
    llm::fail("index '{}': expected a JSON object, got {}", indexPath, typeName(root));
  auto wm = root.find("weight_map");
  if (wm == root.end())
    llm::fail("index '{}': missing 'weight_map' (tensor name -> shard file)", indexPath);
  if (!wm->is_object())
    llm::fail("index '{}': 'weight_map' must be an object of strings, got {}", indexPath,
              typeName(*wm));

  // Shards in order of first mention; tensors listed per shard.
  std::vector<std::string> shardOrder;
  std::map<std::string, std::vector<std::string>> listed;
  for (auto it = wm->begin(); it != wm->end(); ++it) {
    if (!it.value().is_string())
      llm::fail("index '{}': weight_map value of '{}' must be a shard file name, got {}",
                indexPath, it.key(), typeName(it.value()));
    std::string shard = it.value().get<std::string>();
    checkShardName(shard, indexPath);
    auto [pos, inserted] = listed.try_emplace(shard);
    if (inserted)
      shardOrder.push_back(shard);
    pos->second.push_back(it.key());
  }
  if (shardOrder.empty())
    llm::fail("index '{}': 'weight_map' lists no tensors", indexPath);

  for (const std::string &shard : shardOrder) {
    const fs::path shardPath = fs::path(dir) / shard;
    if (!fs::is_regular_file(shardPath, ec))
      llm::fail("index '{}' lists shard '{}', which does not exist in '{}'", indexPath, shard, dir);
    addFile(SafetensorsFile::open(shardPath.string()));
    const SafetensorsFile &file = set.files_.back();
    for (const std::string &name : listed[shard])
      if (!file.find(name))
        llm::fail("index '{}' places tensor '{}' in shard '{}', which does not contain it",
                  indexPath, name, file.path());
  }
  return set;
}

const TensorInfo *WeightSet::find(std::string_view name) const {
  auto it = byName_.find(name);
  return it == byName_.end() ? nullptr : it->second;
}

const TensorInfo &WeightSet::get(std::string_view name) const {
  if (const TensorInfo *t = find(name))
    return *t;
  llm::fail("tensor '{}' not found in {}", name, dir_);
}

std::vector<std::string> WeightSet::names() const {
  std::vector<std::string> out;
  out.reserve(byName_.size());
  for (const auto &[name, info] : byName_)
    out.push_back(name);
  return out; // std::map order: sorted
}

std::string_view WeightSet::dominantDType() const {
  std::array<uint64_t, kDTypes.size()> elements{};
  for (const auto &[name, t] : byName_)
    if (isFloating(t->dtype))
      elements[static_cast<size_t>(t->dtype)] += static_cast<uint64_t>(t->numel());
  size_t best = kDTypes.size();
  for (size_t i = 0; i < kDTypes.size(); ++i)
    if (kDTypes[i].floating && elements[i] > 0 && (best == kDTypes.size() || elements[i] > elements[best]))
      best = i;
  return best == kDTypes.size() ? std::string_view() : kDTypes[best].name;
}

// ---------------------------------------------------------------------------------------------
// Conversions

float halfToFloat(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1Fu;
  uint32_t mant = h & 0x3FFu;
  uint32_t bits;
  if (exp == 0x1F) {
    bits = sign | 0x7F800000u | (mant << 13); // inf, or nan keeping its payload
  } else if (exp != 0) {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  } else if (mant == 0) {
    bits = sign; // signed zero
  } else {
    // Subnormal: mant * 2^-24. Normalize so the leading one becomes the implicit bit.
    int shift = std::countl_zero(mant) - (32 - 11); // moves the top set bit to bit 10
    mant = (mant << shift) & 0x3FFu;
    bits = sign | (uint32_t(127 - 15 + 1 - shift) << 23) | (mant << 13);
  }
  return std::bit_cast<float>(bits);
}

float bfloat16ToFloat(uint16_t bits) { return std::bit_cast<float>(uint32_t(bits) << 16); }

void toFloat32(const TensorInfo &t, std::span<float> out) {
  const uint64_t n = static_cast<uint64_t>(t.numel());
  if (out.size() != n)
    llm::fail("toFloat32: tensor '{}' in '{}' has {} elements, but the output holds {}", t.name,
              t.file, n, out.size());
  switch (t.dtype) {
  case TensorDType::F32:
    if (n)
      std::memcpy(out.data(), t.data, n * sizeof(float));
    return;
  case TensorDType::F16:
    for (uint64_t i = 0; i < n; ++i) {
      uint16_t h;
      std::memcpy(&h, t.data + 2 * i, 2);
      out[i] = halfToFloat(h);
    }
    return;
  case TensorDType::BF16:
    for (uint64_t i = 0; i < n; ++i) {
      uint16_t h;
      std::memcpy(&h, t.data + 2 * i, 2);
      out[i] = bfloat16ToFloat(h);
    }
    return;
  default:
    llm::fail("toFloat32: tensor '{}' in '{}' has dtype {}; only F32, F16 and BF16 convert to "
              "float32",
              t.name, t.file, dtypeName(t.dtype));
  }
}

} // namespace llmc
