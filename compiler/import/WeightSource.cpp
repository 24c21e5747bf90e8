#include "import/WeightSource.h"

#include "import/Safetensors.h"
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

class SafetensorsSource : public WeightSource {
public:
  explicit SafetensorsSource(WeightSet set) : set_(std::move(set)) {
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
  }

  const SourceTensor *find(std::string_view name) const override {
    auto it = tensors_.find(name);
    return it == tensors_.end() ? nullptr : &it->second;
  }
  void readFloat32(std::string_view name, std::span<float> out) const override {
    toFloat32(set_.get(name), out);
  }
  std::string location() const override { return set_.dir(); }
  std::string dominantDType() const override { return std::string(set_.dominantDType()); }

private:
  WeightSet set_;
  std::map<std::string, SourceTensor, std::less<>> tensors_;
};

} // namespace

std::unique_ptr<WeightSource> openSafetensorsFolder(const std::string &dir) {
  return std::make_unique<SafetensorsSource>(WeightSet::openFolder(dir));
}

} // namespace llmc
