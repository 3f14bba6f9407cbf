// Per-sequence KV cache: for each layer, keys and values of positions 0..n_past-1, laid out
// (capacity, n_heads_kv, head_dim), stored as F32, F16 or BF16 (converted when written).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"

namespace quanta {

// Whether t can hold the KV cache (F32, F16, BF16); names the accepted types otherwise.
inline void check_kv_dtype(DType t) {
  if (t != DType::kF32 && t != DType::kF16 && t != DType::kBF16)
    fail("KV cache dtype {} not supported (expected F32, F16 or BF16)", dtype_name(t));
}

// "f32" | "f16" | "bf16" (the --kv-type spellings) -> DType; throws quanta::Error otherwise.
inline DType parse_kv_type(std::string_view name) {
  if (name == "f32") return DType::kF32;
  if (name == "f16") return DType::kF16;
  if (name == "bf16") return DType::kBF16;
  fail("KV cache type '{}' not supported (expected f32, f16 or bf16)", name);
}

class KvCache {
 public:
  KvCache(int64_t n_layers, int64_t capacity, int64_t n_heads_kv, int64_t head_dim,
          DType dtype = DType::kF32)
      : dtype_(dtype), capacity_(capacity), row_(n_heads_kv * head_dim) {
    check_kv_dtype(dtype);
    const size_t n = size_t(n_layers * capacity * row_) * dtype_size(dtype);
    k_.resize(n);
    v_.resize(n);
  }

  DType dtype() const { return dtype_; }
  int64_t capacity() const { return capacity_; }
  int64_t n_past() const { return n_past_; }
  void set_n_past(int64_t n) { n_past_ = n; }
  void clear() { n_past_ = 0; }
  size_t bytes() const { return k_.size() + v_.size(); }

  // Layer l's (capacity, row) K or V, in dtype().
  const void* k(int64_t layer) const { return k_.data() + offset(layer, 0); }
  const void* v(int64_t layer) const { return v_.data() + offset(layer, 0); }
  int64_t row() const { return row_; }  // n_heads_kv * head_dim

  // Stores k, v (T, row) f32 as positions pos .. pos + T - 1 of layer l.
  void write(int64_t layer, int64_t pos, const float* k, const float* v, int64_t T) {
    QUANTA_ASSERT(pos >= 0 && pos + T <= capacity_);
    f32_to_dtype(k, dtype_, k_.data() + offset(layer, pos), T * row_);
    f32_to_dtype(v, dtype_, v_.data() + offset(layer, pos), T * row_);
  }

 private:
  size_t offset(int64_t layer, int64_t pos) const {
    return size_t((layer * capacity_ + pos) * row_) * dtype_size(dtype_);
  }

  DType dtype_;
  int64_t capacity_, row_;
  int64_t n_past_ = 0;
  std::vector<uint8_t> k_, v_;
};

}  // namespace quanta
