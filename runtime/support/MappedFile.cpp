#include "support/MappedFile.h"

#include "support/Error.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

namespace llm {

MappedFile MappedFile::open(const std::string &path, Backing backing) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    fail("cannot open '{}': {}", path, std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    fail("cannot stat '{}': {}", path, std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    fail("'{}' is not a regular file", path);
  }
  MappedFile file;
  file.path_ = path;
  file.size_ = static_cast<size_t>(st.st_size);
  file.backing_ = backing;
  if (file.size_ > 0 && backing == Backing::HugePages) {
    try {
      file.readInto(fd);
    } catch (...) {
      ::close(fd);
      throw;
    }
  } else if (file.size_ > 0) {
    void *p = ::mmap(nullptr, file.size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      fail("cannot map '{}': {}", path, std::strerror(err));
    }
    file.data_ = static_cast<const uint8_t *>(p);
  }
  ::close(fd);
  return file;
}

void MappedFile::readInto(int fd) {
  copy_ = PageMemory::allocate(size_, path_.c_str());
  auto *out = reinterpret_cast<uint8_t *>(copy_.data());
  size_t done = 0;
  while (done < size_) {
    ssize_t n = ::pread(fd, out + done, size_ - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      fail("cannot read '{}' at byte {}: {}", path_, done, std::strerror(errno));
    if (n == 0)
      fail("'{}' ended at byte {} while being read, expected {} bytes (the file shrank)", path_,
           done, size_);
    done += static_cast<size_t>(n);
  }
  copy_.protectReadOnly();
  data_ = out;
}

MappedFile::MappedFile(MappedFile &&other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)),
      path_(std::move(other.path_)), backing_(other.backing_), copy_(std::move(other.copy_)) {}

MappedFile &MappedFile::operator=(MappedFile &&other) noexcept {
  if (this != &other) {
    unmap();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    path_ = std::move(other.path_);
    backing_ = other.backing_;
    copy_ = std::move(other.copy_);
  }
  return *this;
}

MappedFile::~MappedFile() { unmap(); }

void MappedFile::unmap() {
  if (data_ && backing_ == Backing::Mapped)
    ::munmap(const_cast<uint8_t *>(data_), size_);
  data_ = nullptr; // a HugePages copy is released by copy_
}

} // namespace llm
