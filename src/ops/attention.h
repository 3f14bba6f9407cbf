// Causal grouped-query attention of T new queries over a KV cache stored as F32, F16, BF16 or
// INT8 (per position and KV head one f32 scale), exact softmax (computed in f32).
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "core/thread_pool.h"
#include "kernels/attention.h"

namespace quanta::ops {

struct AttentionShape {
  int64_t n_heads = 0;
  int64_t n_heads_kv = 0;
  int64_t head_dim = 0;
  int64_t window = 0;  // sliding window in tokens; 0: unlimited
};

// One layer's cached keys and values in type (F32, F16, BF16 or I8): the row of head_dim values
// of slot j and KV head h starts at element j * slot_stride + h * head_stride of k and of v, or,
// in blocks of block_slots slots, at (j / block_slots) * block_stride + (j % block_slots) *
// slot_stride + h * head_stride; for I8 the value of (j, h, d) is its code times the row's
// k_scale / v_scale, stored at that offset divided by head_dim. Strides 0 mean (slots,
// n_heads_kv, hd): slot_stride n_heads_kv * hd, head_stride hd. KvCache keeps each head's slots
// together instead, (n_heads_kv, slots, hd), and PagedKvCache each head's slots of a block,
// (blocks, n_heads_kv, block_slots, hd), so decode attention reads a head's K and V as
// contiguous runs.
struct KvLayer {
  const void* k = nullptr;
  const void* v = nullptr;
  DType type = DType::kF32;
  const float* k_scale = nullptr;
  const float* v_scale = nullptr;
  int64_t slot_stride = 0;   // elements; 0: n_heads_kv * head_dim
  int64_t head_stride = 0;   // elements; 0: head_dim
  int64_t block_slots = 0;   // slots per block; 0: not blocked
  int64_t block_stride = 0;  // elements from one block to the next
};

// Throws quanta::Error, prefixed by op, unless kv's type is F32, F16, BF16, or I8 with its scales.
void check_kv_layer(const KvLayer& kv, const char* op);

// The kernel's view (kernels/attention.h) of kv's rows of KV head kvh from slot pos on: row
// stride slot_stride, scales slot_stride / hd apart (in a blocked layout, up to the block's end).
kernels::KvRows kv_rows_at(const KvLayer& kv, int64_t pos, int64_t kvh, const AttentionShape& s);

// q (T, n_heads, hd): queries of positions pos0 .. pos0+T-1.
// kv: the cached keys/values of positions 0 .. pos0+T-1.
// out (T, n_heads * hd). Query head h reads kv head h / (n_heads / n_heads_kv).
// Few queries (decode): the streamed-softmax kernel (kernels/attention.h), the query heads of a
// GQA group together, a long context split across threads; many (prefill): two matmuls per head.
void attention(const float* q, int64_t T, int64_t pos0, const KvLayer& kv, const AttentionShape& s,
               float* out, ThreadPool& pool);

}  // namespace quanta::ops
