// Per-sequence KV cache: for each layer, keys and values of positions 0..n_past-1, laid out
// head-major, (n_heads_kv, capacity, head_dim), stored as F32, F16 or BF16 (converted when written)
// or as INT8 codes with one f32 scale per KV head and position, (n_heads_kv, capacity): W8A8's
// per-token rule (kernels/act_quant.h) applied to each head's row of head_dim values.
// Note: head-major because decode reads each KV head's positions in order, after the step's
// weights went through the caches: a contiguous stream the hardware prefetcher follows. Laid out
// (capacity, n_heads_kv, head_dim), a head's rows were a strided third of each position's row
// and decode attention ran about 3x slower from DRAM (Zen 3, F16, 512 positions).
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "kernels/act_quant.h"
#include "kernels/convert.h"
#include "ops/attention.h"

namespace quanta {

// Whether t can hold the KV cache (F32, F16, BF16, I8); names the accepted types otherwise.
inline void check_kv_dtype(DType t) {
  if (t != DType::kF32 && t != DType::kF16 && t != DType::kBF16 && t != DType::kI8)
    fail("KV cache dtype {} not supported (expected F32, F16, BF16 or I8)", dtype_name(t));
}

// "f32" | "f16" | "bf16" | "int8" (the --kv-type spellings) -> DType; throws quanta::Error
// otherwise.
inline DType parse_kv_type(std::string_view name) {
  if (name == "f32") return DType::kF32;
  if (name == "f16") return DType::kF16;
  if (name == "bf16") return DType::kBF16;
  if (name == "int8") return DType::kI8;
  fail("KV cache type '{}' not supported (expected f32, f16, bf16 or int8)", name);
}

// Bytes one position's K (or V) of one KV head takes in a cache of type t: hd values, plus the
// f32 scale of an I8 row.
inline int64_t kv_head_row_bytes(DType t, int64_t hd) {
  return hd * int64_t(dtype_size(t)) + (t == DType::kI8 ? int64_t(sizeof(float)) : 0);
}

// dst <- src (rows, hd) f32 as type t (rounded to nearest even); for I8 the codes, and scales
// (rows,) gets each row's scale.
inline void store_kv_rows(const float* src, int64_t rows, int64_t hd, DType t, void* dst,
                          float* scales) {
  if (t == DType::kI8)
    kernels::quantize_act_int8(src, rows, hd, static_cast<int8_t*>(dst), hd, scales);
  else if (t == DType::kF32)
    std::memcpy(dst, src, size_t(rows * hd) * sizeof(float));
  else
    kernels::f32_to_half(src, rows * hd, t, static_cast<uint16_t*>(dst), kernels::active_isa());
}

class KvCache {
 public:
  KvCache(int64_t n_layers, int64_t capacity, int64_t n_heads_kv, int64_t head_dim,
          DType dtype = DType::kF32)
      : dtype_(dtype),
        capacity_(capacity),
        heads_(n_heads_kv),
        hd_(head_dim),
        row_(n_heads_kv * head_dim) {
    check_kv_dtype(dtype);
    const size_t n = size_t(n_layers * capacity * row_) * dtype_size(dtype);
    k_.resize(n);
    v_.resize(n);
    if (dtype == DType::kI8) {
      ks_.resize(size_t(n_layers * capacity * heads_));
      vs_.resize(ks_.size());
    }
  }

  DType dtype() const { return dtype_; }
  int64_t capacity() const { return capacity_; }
  int64_t n_past() const { return n_past_; }
  void set_n_past(int64_t n) { n_past_ = n; }
  void clear() { n_past_ = 0; }
  size_t bytes() const { return k_.size() + v_.size() + (ks_.size() + vs_.size()) * sizeof(float); }

  // Layer l's (n_heads_kv, capacity, head_dim) K and V in dtype(), with their scales if I8.
  ops::KvLayer layer(int64_t l) const {
    const bool i8 = dtype_ == DType::kI8;
    const size_t s = size_t(row_index(l, 0, 0));
    return {k_.data() + offset(l, 0, 0), v_.data() + offset(l, 0, 0), dtype_,
            i8 ? ks_.data() + s : nullptr, i8 ? vs_.data() + s : nullptr,
            /*slot_stride=*/hd_, /*head_stride=*/capacity_ * hd_};
  }
  int64_t row() const { return row_; }  // n_heads_kv * head_dim

  // Stores k, v (T, row) f32 as positions pos .. pos + T - 1 of layer l.
  void write(int64_t layer, int64_t pos, const float* k, const float* v, int64_t T) {
    QUANTA_ASSERT(pos >= 0 && pos + T <= capacity_);
    const bool i8 = dtype_ == DType::kI8;
    for (int64_t t = 0; t < T; ++t)
      for (int64_t h = 0; h < heads_; ++h) {
        const size_t s = size_t(row_index(layer, h, pos + t));
        const int64_t src = (t * heads_ + h) * hd_;
        store_kv_rows(k + src, 1, hd_, dtype_, k_.data() + offset(layer, h, pos + t),
                      i8 ? ks_.data() + s : nullptr);
        store_kv_rows(v + src, 1, hd_, dtype_, v_.data() + offset(layer, h, pos + t),
                      i8 ? vs_.data() + s : nullptr);
      }
  }

 private:
  // Index of the row (one head_dim run) of layer, KV head h, position pos.
  int64_t row_index(int64_t layer, int64_t h, int64_t pos) const {
    return (layer * heads_ + h) * capacity_ + pos;
  }
  size_t offset(int64_t layer, int64_t h, int64_t pos) const {
    return size_t(row_index(layer, h, pos) * hd_) * dtype_size(dtype_);
  }

  DType dtype_;
  int64_t capacity_, heads_, hd_, row_;
  int64_t n_past_ = 0;
  std::vector<uint8_t> k_, v_;
  std::vector<float> ks_, vs_;  // I8 only: (n_layers, n_heads_kv, capacity)
};

}  // namespace quanta
