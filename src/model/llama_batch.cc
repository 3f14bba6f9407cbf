// LlamaModel::forward_batch: one step of continuous batching over a paged KV cache. The Linears
// see all sequences' new tokens stacked as one (N, in) input, so each weight matrix is read once
// per step instead of once per sequence (decode is memory-bound: this is where batching pays).
#include <algorithm>

#include "core/error.h"
#include "model/llama.h"
#include "ops/activation.h"
#include "ops/linear.h"
#include "ops/norm.h"
#include "ops/paged_attention.h"
#include "ops/rope.h"
#include "quant/rtn.h"

namespace quanta {

PagedKvCache LlamaModel::make_paged_cache(int64_t n_blocks, int64_t block_size) const {
  return PagedKvCache(config_.n_layers, n_blocks, block_size, config_.n_heads_kv, config_.head_dim,
                      kv_type_);
}

void LlamaModel::forward_batch(const std::vector<BatchSeq>& seqs, PagedKvCache& cache,
                               float* logits) {
  const ModelConfig& c = config_;
  const int64_t d = c.hidden_size, hd = c.head_dim, ff = c.intermediate_size;
  const int64_t qdim = c.n_heads * hd, kvdim = c.n_heads_kv * hd;
  QUANTA_ASSERT(cache.row() == kvdim);
  // Rows of each sequence in the stacked input, and the attention descriptors.
  std::vector<ops::PagedSeq> ps;
  int64_t N = 0, n_logits = 0;
  for (const BatchSeq& s : seqs) {
    QUANTA_ASSERT(s.kv && s.n_tokens > 0);
    if (s.kv->n_past + s.n_tokens > int64_t(s.kv->table.size()) * cache.block_size())
      fail("KV cache: sequence at {} + {} new tokens has only {} blocks reserved", s.kv->n_past,
           s.n_tokens, s.kv->table.size());
    ps.push_back({N, s.n_tokens, s.kv->n_past, s.kv->table.data()});
    N += s.n_tokens;
    n_logits += s.want_logits ? 1 : 0;
  }
  if (N == 0) return;
  std::vector<int32_t> tokens;
  tokens.reserve(size_t(N));
  for (const BatchSeq& s : seqs) tokens.insert(tokens.end(), s.tokens, s.tokens + s.n_tokens);
  std::vector<float> x(size_t(N * d)), xn(size_t(N * d)), q(size_t(N * qdim)),
      k(size_t(N * kvdim)), v(size_t(N * kvdim)), attn(size_t(N * qdim)), gate(size_t(N * ff)),
      up(size_t(N * ff));
  embed(tokens.data(), N, x.data());
  ThreadPool& pool = *pool_;
  // Dynamic activation quantization, per token as layer_forward applies it (so stacking tokens
  // does not change it).
  auto act_quant = [&](float* in, int64_t cols) {
    if (act_quant_) quantize_dequantize_rows(in, N, cols, *act_quant_);
  };
  const ops::AttentionShape shape{c.n_heads, c.n_heads_kv, hd, c.sliding_window};
  // Rotary cos/sin of every stacked row's position, once for all layers.
  std::vector<int64_t> positions;
  positions.reserve(size_t(N));
  for (const ops::PagedSeq& p : ps)
    for (int64_t t = 0; t < p.n_q; ++t) positions.push_back(p.pos0 + t);
  ops::RopeTable rope;
  ops::rope_table(positions.data(), N, inv_freq_, rope);
  const int64_t half = hd / 2;
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const LlamaLayer& L = layers_[size_t(l)];
    ops::rmsnorm(x.data(), L.attn_norm.data(), N, d, c.rms_norm_eps, xn.data());
    act_quant(xn.data(), d);
    const ops::LinearPart qkv[] = {{&L.wq, L.bq.empty() ? nullptr : L.bq.data(), q.data()},
                                   {&L.wk, L.bk.empty() ? nullptr : L.bk.data(), k.data()},
                                   {&L.wv, L.bv.empty() ? nullptr : L.bv.data(), v.data()}};
    ops::linear_fused(xn.data(), N, qkv, 3, pool);
    if (c.qk_norm) {
      ops::rmsnorm(q.data(), L.q_norm.data(), N * c.n_heads, hd, c.rms_norm_eps, q.data());
      ops::rmsnorm(k.data(), L.k_norm.data(), N * c.n_heads_kv, hd, c.rms_norm_eps, k.data());
    }
    for (size_t i = 0; i < seqs.size(); ++i) {
      const ops::PagedSeq& p = ps[i];
      const float* cs = rope.cos.data() + p.q_begin * half;
      const float* sn = rope.sin.data() + p.q_begin * half;
      ops::rope_rotate(q.data() + p.q_begin * qdim, p.n_q, c.n_heads, hd, cs, sn);
      ops::rope_rotate(k.data() + p.q_begin * kvdim, p.n_q, c.n_heads_kv, hd, cs, sn);
      for (int64_t t = 0; t < p.n_q; ++t)
        cache.write(l, *seqs[i].kv, p.pos0 + t, k.data() + (p.q_begin + t) * kvdim,
                    v.data() + (p.q_begin + t) * kvdim);
    }
    ops::paged_attention(q.data(), ps.data(), int64_t(ps.size()), cache.layer(l),
                         cache.block_size(), shape, attn.data(), pool);
    act_quant(attn.data(), qdim);
    const ops::LinearPart o_proj{&L.wo, nullptr, xn.data(), x.data()};
    ops::linear_fused(attn.data(), N, &o_proj, 1, pool);  // x += o_proj(attn)
    ops::rmsnorm(x.data(), L.mlp_norm.data(), N, d, c.rms_norm_eps, xn.data());
    act_quant(xn.data(), d);
    const ops::LinearPart gate_up[] = {{&L.w_gate, nullptr, gate.data()}, {&L.w_up, nullptr, up.data()}};
    ops::linear_fused(xn.data(), N, gate_up, 2, pool);
    ops::silu_mul(gate.data(), up.data(), gate.data(), N * ff, pool);
    act_quant(gate.data(), ff);
    const ops::LinearPart down{&L.w_down, nullptr, xn.data(), x.data()};
    ops::linear_fused(gate.data(), N, &down, 1, pool);  // x += down(silu(gate) * up)
  }
  for (const BatchSeq& s : seqs) s.kv->n_past += s.n_tokens;
  if (!logits || n_logits == 0) return;
  // Final norm and lm_head on the last token of each sequence that wants logits.
  std::vector<float> last(size_t(n_logits * d));
  int64_t r = 0;
  for (size_t i = 0; i < seqs.size(); ++i)
    if (seqs[i].want_logits)
      ops::rmsnorm(x.data() + (ps[i].q_begin + ps[i].n_q - 1) * d, final_norm_.data(), 1, d,
                   c.rms_norm_eps, last.data() + (r++) * d);
  ops::linear(last.data(), n_logits, lm_head_, nullptr, logits, pool);
}

}  // namespace quanta
