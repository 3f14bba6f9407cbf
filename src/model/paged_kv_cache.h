// Paged KV cache: one pool of fixed-size blocks shared by all sequences (vLLM's PagedAttention
// layout), stored as F32, F16 or BF16 (converted when written) or INT8 with one f32 scale per
// position and KV head (model/kv_cache.h). Inside a block each KV head's slots are together,
// (n_heads_kv, block_size, head_dim), so attention reads a head's rows of a block as one run
// (see KvCache for why). A sequence owns a block table
// (block ids in position order); position p lives in block table[p / block_size], slot
// p % block_size. Blocks come from a free list and go back to it the moment a sequence is
// released.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/dtype.h"
#include "ops/attention.h"

namespace quanta {

// One sequence's view of the cache: its blocks and how many positions hold K/V.
struct SeqBlocks {
  std::vector<int32_t> table;
  int64_t n_past = 0;
};

class PagedKvCache {
 public:
  // Per layer: k/v pools of (n_blocks, n_heads_kv, block_size, head_dim) in dtype.
  PagedKvCache(int64_t n_layers, int64_t n_blocks, int64_t block_size, int64_t n_heads_kv,
               int64_t head_dim, DType dtype = DType::kF32);

  DType dtype() const { return dtype_; }
  int64_t n_blocks() const { return n_blocks_; }
  int64_t block_size() const { return block_size_; }
  int64_t n_free() const { return int64_t(free_.size()); }
  int64_t n_used() const { return n_blocks_ - n_free(); }
  int64_t row() const { return row_; }  // n_heads_kv * head_dim
  size_t bytes() const { return k_.size() + v_.size() + (ks_.size() + vs_.size()) * sizeof(float); }
  // Blocks needed to hold n positions.
  int64_t blocks_for(int64_t n) const { return (n + block_size_ - 1) / block_size_; }

  // Grows seq's table so it holds `positions` positions. Returns false (and changes nothing) if
  // the free list is too short.
  bool reserve(SeqBlocks& seq, int64_t positions);
  // Returns all of seq's blocks to the free list and empties it.
  void release(SeqBlocks& seq);

  // Layer l's K and V pools in dtype(), with their (n_blocks, n_heads_kv, block_size) scales if I8.
  ops::KvLayer layer(int64_t l) const;
  // Stores k, v (row,) f32 as position p of sequence s in layer l.
  void write(int64_t layer, const SeqBlocks& s, int64_t p, const float* k, const float* v);

 private:
  // Element offset in a layer's pool of the row of sequence s, position p, KV head h.
  int64_t offset(const SeqBlocks& s, int64_t p, int64_t h) const;

  DType dtype_;
  size_t elem_;  // bytes per value
  int64_t n_layers_, n_blocks_, block_size_, heads_, hd_, row_, layer_stride_;
  std::vector<uint8_t> k_, v_;
  std::vector<float> ks_, vs_;  // I8 only: (n_layers, n_blocks, n_heads_kv, block_size)
  std::vector<int32_t> free_;  // a stack: the most recently freed block is reused first
};

}  // namespace quanta
