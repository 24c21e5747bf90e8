#include "support/PageMemory.h"

#include "support/Error.h"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <sys/mman.h>
#include <utility>

namespace llm {

PageMemory PageMemory::allocate(size_t bytes, const char *what) {
  PageMemory m;
  if (bytes == 0)
    return m;
  if (bytes > SIZE_MAX / 2)
    fail("{}: {} bytes do not fit in memory", what, bytes);
  const size_t mapped = (bytes + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
  // Over-allocate by one huge page, then unmap the unaligned head and the tail: what remains
  // starts on a 2 MiB boundary, so every huge page of it can be one TLB entry.
  const size_t reserve = mapped + kHugePageBytes;
  void *raw = ::mmap(nullptr, reserve, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED)
    fail("{}: cannot allocate {} bytes: {}", what, bytes, std::strerror(errno));
  const uintptr_t start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (start + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
  if (aligned > start)
    ::munmap(raw, aligned - start);
  if (const size_t tail = start + reserve - (aligned + mapped); tail > 0)
    ::munmap(reinterpret_cast<void *>(aligned + mapped), tail);
  m.data_ = reinterpret_cast<std::byte *>(aligned);
  m.size_ = bytes;
  m.mapped_ = mapped;
  m.hugePages_ = ::madvise(m.data_, mapped, MADV_HUGEPAGE) == 0;
  return m;
}

PageMemory::PageMemory(PageMemory &&other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)),
      mapped_(std::exchange(other.mapped_, 0)), hugePages_(std::exchange(other.hugePages_, false)) {
}

PageMemory &PageMemory::operator=(PageMemory &&other) noexcept {
  if (this != &other) {
    release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    mapped_ = std::exchange(other.mapped_, 0);
    hugePages_ = std::exchange(other.hugePages_, false);
  }
  return *this;
}

PageMemory::~PageMemory() { release(); }

void PageMemory::release() {
  if (data_)
    ::munmap(data_, mapped_);
  data_ = nullptr;
  size_ = mapped_ = 0;
  hugePages_ = false;
}

void PageMemory::protectReadOnly() {
  if (data_ && ::mprotect(data_, mapped_, PROT_READ) != 0)
    fail("cannot make {} bytes read-only: {}", size_, std::strerror(errno));
}

} // namespace llm
