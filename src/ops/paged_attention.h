// Causal grouped-query attention over a paged KV cache, for a batch of sequences at once: each
// sequence has its own new queries, its own start position and its own block table.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "core/thread_pool.h"
#include "ops/attention.h"

namespace quanta::ops {

struct PagedSeq {
  int64_t q_begin = 0;  // first row of this sequence's queries in q / out
  int64_t n_q = 0;      // new queries, at positions pos0 .. pos0 + n_q - 1
  int64_t pos0 = 0;
  const int32_t* block_table = nullptr;  // blocks covering positions 0 .. pos0 + n_q - 1
};

// q (rows, n_heads, hd); kv: pools of blocks of block_size slots (slot = block * block_size +
// position % block_size; its layout as KvLayer says, e.g. PagedKvCache's) with the K/V of every
// sequence's positions 0 .. pos0 + n_q - 1 already written; out (rows, n_heads * hd). Streamed
// softmax (kernels/attention.h), one call per block.
void paged_attention(const float* q, const PagedSeq* seqs, int64_t n_seqs, const KvLayer& kv,
                     int64_t block_size, const AttentionShape& s, float* out, ThreadPool& pool);

}  // namespace quanta::ops
