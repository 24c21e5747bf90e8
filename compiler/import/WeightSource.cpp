#include "import/WeightSource.h"

#include "import/PackedInt4.h"
#include "import/Safetensors.h"
#include "plan/QuantFormat.h"
#include "support/Error.h"

#include <map>

namespace llmc {

int64_t SourceTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

namespace {

// The parts of one GPTQ / AWQ linear.
struct PackedLinear {
  const TensorInfo *qweight = nullptr, *qzeros = nullptr, *scales = nullptr, *gIdx = nullptr;
  int64_t in = 0, out = 0;
};

class SafetensorsSource : public WeightSource {
public:
  SafetensorsSource(WeightSet set, const std::optional<QuantizationConfig> &quantization)
      : set_(std::move(set)), quant_(quantization) {
    for (const std::string &name : set_.names()) {
      const TensorInfo &t = set_.get(name);
      SourceTensor s;
      s.name = name;
      s.shape = t.shape;
      s.dtype = std::string(dtypeName(t.dtype));
      s.file = t.file;
      s.convertible = t.dtype == TensorDType::F32 || t.dtype == TensorDType::F16 ||
                      t.dtype == TensorDType::BF16;
      tensors_.emplace(name, std::move(s));
    }
    if (quant_)
      collectPackedLinears();
  }

  const SourceTensor *find(std::string_view name) const override {
    auto it = tensors_.find(name);
    return it == tensors_.end() ? nullptr : &it->second;
  }
  void readFloat32(std::string_view name, std::span<float> out) const override {
    auto it = packed_.find(name);
    if (it == packed_.end())
      return toFloat32(set_.get(name), out);
    const PackedLinear &p = it->second;
    if (out.size() != static_cast<size_t>(p.in * p.out))
      llm::fail("tensor '{}' has {} elements, but the output holds {}", name, p.in * p.out,
                out.size());
    std::vector<uint8_t> rows(llm::quant::tensorBytes(scheme(), p.out, p.in));
    repack(name, p, rows);
    llm::quant::dequantizeRows(scheme(), rows.data(), p.out, p.in, out.data());
  }
  bool readBlocks(std::string_view name, std::string_view dtype,
                  std::span<uint8_t> out) const override {
    auto it = packed_.find(name);
    if (it == packed_.end() || dtype != packedDType() ||
        out.size() != llm::quant::tensorBytes(scheme(), it->second.out, it->second.in))
      return false;
    repack(name, it->second, out);
    return true;
  }
  std::string location() const override { return set_.dir(); }
  std::string dominantDType() const override {
    return packed_.empty() ? std::string(set_.dominantDType()) : packedDType();
  }

private:
  llm::quant::Scheme scheme() const {
    return *llm::quant::parseScheme(fmt::format("w4g{}a", quant_->groupSize));
  }
  std::string packedDType() const { return fmt::format("W4G{}A", quant_->groupSize); }
  bool gptq() const { return quant_->method == QuantizationConfig::Method::GPTQ; }

  void repack(std::string_view name, const PackedLinear &p, std::span<uint8_t> out) const {
    auto bytes = [](const TensorInfo *t) {
      return t ? std::span<const uint8_t>(t->data, t->nbytes) : std::span<const uint8_t>();
    };
    PackedInt4 t{p.in, p.out, quant_->groupSize, bytes(p.qweight), bytes(p.qzeros),
                 bytes(p.scales), bytes(p.gIdx)};
    std::string what = fmt::format("{} linear '{}' in '{}'", methodName(quant_->method),
                                   name, p.qweight->file);
    if (gptq())
      repackGPTQv1(t, out, what);
    else
      repackAWQGemm(t, out, what);
  }

  const TensorInfo &part(const std::string &prefix, const char *suffix, TensorDType dtype) const {
    const TensorInfo *t = set_.find(prefix + suffix);
    if (!t)
      llm::fail("{}: {} linear '{}' has a qweight but no '{}{}'", set_.dir(),
                methodName(quant_->method), prefix, prefix, suffix);
    if (t->dtype != dtype || t->shape.size() != 2)
      llm::fail("{}: tensor '{}' is {} [{}], expected a {} matrix", t->file, t->name,
                dtypeName(t->dtype), fmt::join(t->shape, ", "), dtypeName(dtype));
    return *t;
  }

  // Replaces each linear's packed parts by one `<prefix>.weight` entry.
  void collectPackedLinears() {
    const int64_t G = quant_->groupSize;
    for (const std::string &name : set_.names()) {
      static const std::string kSuffix = ".qweight";
      if (name.size() <= kSuffix.size() || name.compare(name.size() - kSuffix.size(),
                                                        kSuffix.size(), kSuffix) != 0)
        continue;
      std::string prefix = name.substr(0, name.size() - kSuffix.size());
      PackedLinear p;
      p.qweight = &part(prefix, ".qweight", TensorDType::I32);
      p.qzeros = &part(prefix, ".qzeros", TensorDType::I32);
      p.scales = &part(prefix, ".scales", TensorDType::F16);
      p.gIdx = gptq() ? set_.find(prefix + ".g_idx") : nullptr;
      const auto &qw = p.qweight->shape;
      p.in = gptq() ? qw[0] * 8 : qw[0];
      p.out = gptq() ? qw[1] : qw[1] * 8;
      std::vector<int64_t> zeros = {p.in / G, p.out / 8}, scales = {p.in / G, p.out};
      if (p.in % G != 0 || p.qzeros->shape != zeros || p.scales->shape != scales)
        llm::fail("{}: {} linear '{}': qweight [{}], qzeros [{}], scales [{}] do not fit "
                  "in_features {} and out_features {} in groups of {} (expected qzeros [{}], "
                  "scales [{}])",
                  p.qweight->file, methodName(quant_->method), prefix, fmt::join(qw, ", "),
                  fmt::join(p.qzeros->shape, ", "), fmt::join(p.scales->shape, ", "), p.in,
                  p.out, G, fmt::join(zeros, ", "), fmt::join(scales, ", "));
      if (p.gIdx && (p.gIdx->dtype != TensorDType::I32 || p.gIdx->shape != std::vector{p.in}))
        llm::fail("{}: tensor '{}' is {} [{}], expected I32 [{}]", p.gIdx->file, p.gIdx->name,
                  dtypeName(p.gIdx->dtype), fmt::join(p.gIdx->shape, ", "), p.in);
      std::string weight = prefix + ".weight";
      if (tensors_.count(weight))
        llm::fail("{}: '{}' is stored both as a float tensor and as {} parts", p.qweight->file,
                  weight, methodName(quant_->method));
      for (const char *s : {".qweight", ".qzeros", ".scales", ".g_idx"})
        tensors_.erase(prefix + s);
      SourceTensor s;
      s.name = weight;
      s.shape = {p.out, p.in};
      s.dtype = packedDType();
      s.file = p.qweight->file;
      s.convertible = true;
      tensors_.emplace(weight, std::move(s));
      packed_.emplace(weight, p);
    }
  }

  WeightSet set_;
  std::optional<QuantizationConfig> quant_;
  std::map<std::string, SourceTensor, std::less<>> tensors_;
  std::map<std::string, PackedLinear, std::less<>> packed_;
};

} // namespace

std::unique_ptr<WeightSource>
openSafetensorsFolder(const std::string &dir, const std::optional<QuantizationConfig> &quantization) {
  return std::make_unique<SafetensorsSource>(WeightSet::openFolder(dir), quantization);
}

} // namespace llmc
