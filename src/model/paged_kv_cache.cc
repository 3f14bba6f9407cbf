#include "model/paged_kv_cache.h"

#include "core/error.h"
#include "model/kv_cache.h"

namespace quanta {

PagedKvCache::PagedKvCache(int64_t n_layers, int64_t n_blocks, int64_t block_size,
                           int64_t n_heads_kv, int64_t head_dim, DType dtype)
    : dtype_(dtype),
      elem_(dtype_size(dtype)),
      n_layers_(n_layers),
      n_blocks_(n_blocks),
      block_size_(block_size),
      heads_(n_heads_kv),
      hd_(head_dim),
      row_(n_heads_kv * head_dim),
      layer_stride_(n_blocks * block_size * row_) {
  if (n_blocks <= 0 || block_size <= 0)
    fail("KV cache: need at least one block of at least one token (got {} blocks of {})", n_blocks,
         block_size);
  check_kv_dtype(dtype);
  k_.resize(size_t(n_layers_ * layer_stride_) * elem_);
  v_.resize(size_t(n_layers_ * layer_stride_) * elem_);
  if (dtype == DType::kI8) {
    ks_.resize(size_t(n_layers_ * n_blocks * block_size * heads_));
    vs_.resize(ks_.size());
  }
  free_.reserve(size_t(n_blocks));
  for (int64_t b = n_blocks - 1; b >= 0; --b) free_.push_back(int32_t(b));
}

bool PagedKvCache::reserve(SeqBlocks& seq, int64_t positions) {
  const int64_t need = blocks_for(positions) - int64_t(seq.table.size());
  if (need <= 0) return true;
  if (need > n_free()) return false;
  for (int64_t i = 0; i < need; ++i) {
    seq.table.push_back(free_.back());
    free_.pop_back();
  }
  return true;
}

void PagedKvCache::release(SeqBlocks& seq) {
  for (int32_t b : seq.table) free_.push_back(b);
  seq.table.clear();
  seq.n_past = 0;
}

int64_t PagedKvCache::offset(const SeqBlocks& s, int64_t p, int64_t h) const {
  QUANTA_ASSERT(p >= 0 && p / block_size_ < int64_t(s.table.size()));
  const int64_t block = s.table[size_t(p / block_size_)];
  return ((block * heads_ + h) * block_size_ + p % block_size_) * hd_;
}

ops::KvLayer PagedKvCache::layer(int64_t l) const {
  const size_t at = size_t(l * layer_stride_) * elem_;
  const bool i8 = dtype_ == DType::kI8;
  const size_t sat = size_t(l * n_blocks_ * block_size_ * heads_);
  return {k_.data() + at,
          v_.data() + at,
          dtype_,
          i8 ? ks_.data() + sat : nullptr,
          i8 ? vs_.data() + sat : nullptr,
          /*slot_stride=*/hd_,
          /*head_stride=*/block_size_ * hd_,
          /*block_slots=*/block_size_,
          /*block_stride=*/heads_ * block_size_ * hd_};
}

void PagedKvCache::write(int64_t layer, const SeqBlocks& s, int64_t p, const float* k,
                         const float* v) {
  const bool i8 = dtype_ == DType::kI8;
  for (int64_t h = 0; h < heads_; ++h) {
    const int64_t off = offset(s, p, h);
    const size_t at = size_t(layer * layer_stride_ + off) * elem_;
    const size_t sat = size_t(layer * n_blocks_ * block_size_ * heads_ + off / hd_);
    store_kv_rows(k + h * hd_, 1, hd_, dtype_, k_.data() + at, i8 ? ks_.data() + sat : nullptr);
    store_kv_rows(v + h * hd_, 1, hd_, dtype_, v_.data() + at, i8 ? vs_.data() + sat : nullptr);
  }
}

}  // namespace quanta
