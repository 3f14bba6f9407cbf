// Anonymous memory advised for transparent huge pages (2 MiB pages where the kernel's THP mode is
// "madvise" or "always"). Streaming a decode step's weights through 4 KiB pages costs a TLB miss
// and a page walk every 4 KiB; through 2 MiB pages, one per 2 MiB.
#pragma once

#include <cstddef>
#include <cstdint>

namespace quanta {

// False when QUANTA_HUGE_PAGES=0: then no buffer is advised and the model's weights
// stay where loading put them (LlamaModel::place_weights_on_huge_pages).
bool huge_pages_enabled();

class HugePageBuffer {
 public:
  HugePageBuffer() = default;
  // bytes rounded up to whole 2 MiB pages on a 2 MiB boundary, zero-filled, advised for THP
  // unless huge_pages_enabled() is false. Throws quanta::Error if mmap fails.
  explicit HugePageBuffer(size_t bytes);
  ~HugePageBuffer();
  HugePageBuffer(HugePageBuffer&& o) noexcept;
  HugePageBuffer& operator=(HugePageBuffer&& o) noexcept;
  HugePageBuffer(const HugePageBuffer&) = delete;
  HugePageBuffer& operator=(const HugePageBuffer&) = delete;

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Drops the pages of [p, p + n) that lie wholly inside it from this process's page tables
// (madvise MADV_DONTNEED): for a read-only file mapping whose bytes were copied elsewhere, so they
// stop counting in the resident set. Reading them again faults them back in from the file.
void release_mapped_pages(const void* p, size_t n);

}  // namespace quanta
