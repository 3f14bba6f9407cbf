#include "core/huge_pages.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <utility>

#include "core/error.h"

namespace quanta {
namespace {
constexpr size_t kHugePage = size_t(2) << 20;
}  // namespace

bool huge_pages_enabled() {
  const char* e = std::getenv("QUANTA_HUGE_PAGES");
  return !(e && std::string_view(e) == "0");
}

HugePageBuffer::HugePageBuffer(size_t bytes) {
  if (bytes == 0) return;
  const size_t size = (bytes + kHugePage - 1) / kHugePage * kHugePage;
  // Over-allocate by one huge page so the buffer can start on a 2 MiB boundary (THP maps only
  // aligned 2 MiB ranges), then return the slack on both sides.
  void* raw = ::mmap(nullptr, size + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                     -1, 0);
  if (raw == MAP_FAILED)
    fail("cannot allocate {} bytes: {}", size, std::strerror(errno));
  const uintptr_t begin = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (begin + kHugePage - 1) / kHugePage * kHugePage;
  if (aligned > begin) ::munmap(raw, aligned - begin);
  const uintptr_t end = begin + size + kHugePage;
  if (end > aligned + size) ::munmap(reinterpret_cast<void*>(aligned + size), end - aligned - size);
  data_ = reinterpret_cast<uint8_t*>(aligned);
  size_ = size;
  // Advice only: where the kernel refuses it (THP "never"), the buffer is plain pages.
  if (huge_pages_enabled()) ::madvise(data_, size_, MADV_HUGEPAGE);
}

HugePageBuffer::~HugePageBuffer() {
  if (data_) ::munmap(data_, size_);
}

HugePageBuffer::HugePageBuffer(HugePageBuffer&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}

HugePageBuffer& HugePageBuffer::operator=(HugePageBuffer&& o) noexcept {
  if (this != &o) {
    if (data_) ::munmap(data_, size_);
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
  }
  return *this;
}

void release_mapped_pages(const void* p, size_t n) {
  constexpr uintptr_t kPage = 4096;
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(p) + kPage - 1) / kPage * kPage;
  const uintptr_t end = (reinterpret_cast<uintptr_t>(p) + n) / kPage * kPage;
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

}  // namespace quanta
