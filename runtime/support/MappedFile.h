// A read-only memory map of a whole file (RAII). Plans and weight files are read through it, so
// loading costs page faults, not copies, and the FlatBuffers reader sees page-aligned memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace llm {

class MappedFile {
public:
  // Throws llm::Error naming the path when the file cannot be opened or mapped.
  static MappedFile open(const std::string &path);

  MappedFile() = default;
  MappedFile(MappedFile &&other) noexcept;
  MappedFile &operator=(MappedFile &&other) noexcept;
  MappedFile(const MappedFile &) = delete;
  MappedFile &operator=(const MappedFile &) = delete;
  ~MappedFile();

  const uint8_t *data() const { return data_; }
  size_t size() const { return size_; }
  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  const std::string &path() const { return path_; }

private:
  const uint8_t *data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

} // namespace llm
