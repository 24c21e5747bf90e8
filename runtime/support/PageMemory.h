// Anonymous memory for the runtime's big buffers that kernels stream through every decode step (the
// weights of a CPU plan, the paged KV cache), backed by 2 MiB transparent huge pages where the
// kernel gives them.
//
// Why: a decode step reads every weight once, tens to hundreds of MB. In 4 KiB pages that is one
// TLB miss per 4 KiB (the second-level TLB covers a few MB), and each miss is a page walk that, in
// a virtual machine, walks the guest's and the host's tables. Hardware prefetchers also stop at
// 4 KiB boundaries. With 2 MiB pages, a Q4_0 SmolLM2-135M decode ran 1.16x faster and its
// attention over a bf16 KV cache 1.10x (README "Weights and KV cache in huge pages").
//
// The region is 2 MiB-aligned and madvise(MADV_HUGEPAGE)'d, so it gets huge pages when the
// system's transparent_hugepage setting is `always` or `madvise`; with `never` it is ordinary
// memory and everything works the same. Pages are zero and committed on first touch, like calloc.
#pragma once

#include <cstddef>

namespace llm {

class PageMemory {
public:
  static constexpr size_t kHugePageBytes = size_t(2) << 20;

  // `bytes` zeroed bytes (none for 0). Throws llm::Error naming `what` and the size when the
  // memory cannot be had.
  static PageMemory allocate(size_t bytes, const char *what);

  PageMemory() = default;
  PageMemory(PageMemory &&other) noexcept;
  PageMemory &operator=(PageMemory &&other) noexcept;
  PageMemory(const PageMemory &) = delete;
  PageMemory &operator=(const PageMemory &) = delete;
  ~PageMemory();

  std::byte *data() const { return data_; }
  size_t size() const { return size_; }
  // Whether the kernel accepted MADV_HUGEPAGE for the region (false: THP is off or absent).
  bool hugePages() const { return hugePages_; }
  // Makes the region read-only: a stray write faults instead of corrupting weights.
  void protectReadOnly();

private:
  void release();

  std::byte *data_ = nullptr;
  size_t size_ = 0;   // what the caller asked for
  size_t mapped_ = 0; // size_ rounded up to whole huge pages: the mapping's length
  bool hugePages_ = false;
};

} // namespace llm
