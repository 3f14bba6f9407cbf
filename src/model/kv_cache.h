// Per-sequence KV cache, f32: for each layer, keys and values of positions 0..n_past-1,
// laid out (capacity, n_heads_kv, head_dim).
#pragma once

#include <cstdint>
#include <vector>

namespace quanta {

class KvCache {
 public:
  KvCache(int64_t n_layers, int64_t capacity, int64_t n_heads_kv, int64_t head_dim)
      : n_layers_(n_layers), capacity_(capacity), row_(n_heads_kv * head_dim),
        k_(size_t(n_layers * capacity * row_)), v_(size_t(n_layers * capacity * row_)) {}

  int64_t capacity() const { return capacity_; }
  int64_t n_past() const { return n_past_; }
  void set_n_past(int64_t n) { n_past_ = n; }
  void clear() { n_past_ = 0; }
  size_t bytes() const { return (k_.size() + v_.size()) * sizeof(float); }

  float* k(int64_t layer) { return k_.data() + layer * capacity_ * row_; }
  float* v(int64_t layer) { return v_.data() + layer * capacity_ * row_; }
  int64_t row() const { return row_; }

 private:
  int64_t n_layers_, capacity_, row_;
  int64_t n_past_ = 0;
  std::vector<float> k_, v_;
};

}  // namespace quanta
