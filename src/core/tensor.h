// Non-owning views of weight matrices as they sit in memory (mmap'd or owned elsewhere).
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace quanta {

// A row-major matrix (rows, cols) of dtype elements; row stride = cols.
struct MatrixView {
  const void* data = nullptr;
  DType dtype = DType::kF32;
  int64_t rows = 0;
  int64_t cols = 0;

  int64_t numel() const { return rows * cols; }
  size_t nbytes() const { return size_t(numel()) * dtype_size(dtype); }
  const uint8_t* row(int64_t r) const {
    return static_cast<const uint8_t*>(data) + size_t(r) * size_t(cols) * dtype_size(dtype);
  }
};

}  // namespace quanta
