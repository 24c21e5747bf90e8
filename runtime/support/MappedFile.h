// A read-only image of a whole file in memory (RAII), in one of two backings:
//  - Mapped: a memory map of the file. Loading costs page faults, not copies, and processes that
//    map the same file share its page cache. Plans are read this way (the FlatBuffers reader sees
//    page-aligned memory).
//  - HugePages: the file read into anonymous memory in 2 MiB pages (PageMemory), then made
//    read-only. Loading costs one copy and the process holds its own bytes, but kernels that
//    stream the bytes every step take a TLB miss per 2 MiB instead of per 4 KiB (the page cache of
//    a regular file is mapped in 4 KiB pages here). A CPU plan's weights are read this way by
//    default (plan/PlanLoader.h, LoadOptions).
#pragma once

#include "support/PageMemory.h"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace llm {

class MappedFile {
public:
  enum class Backing { Mapped, HugePages };

  // Throws llm::Error naming the path when the file cannot be opened, mapped or read.
  static MappedFile open(const std::string &path, Backing backing = Backing::Mapped);

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
  Backing backing() const { return backing_; }
  // HugePages backing: whether the kernel accepted huge pages for the copy.
  bool hugePages() const { return copy_.hugePages(); }

private:
  void readInto(int fd);
  void unmap();

  const uint8_t *data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
  Backing backing_ = Backing::Mapped;
  PageMemory copy_; // the HugePages backing's memory (data_ points into it)
};

} // namespace llm
