// The Llama family (LlamaForCausalLM; Mistral, Qwen2 and Qwen3 differ only by flags in
// ModelConfig: sliding window, q/k/v bias, q/k RMSNorm). Weights are bound by their HF names to
// views of the mmap'd safetensors; compute is f32.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/huge_pages.h"
#include "core/tensor.h"
#include "core/thread_pool.h"
#include "io/hf_config.h"
#include "io/safetensors.h"
#include "model/kv_cache.h"
#include "model/paged_kv_cache.h"
#include "ops/rope.h"
#include "quant/packed_weight.h"
#include "quant/quant_args.h"

namespace quanta {

struct LlamaLayer {
  std::vector<float> attn_norm, mlp_norm;  // (hidden,)
  std::vector<float> q_norm, k_norm;       // (head_dim,) Qwen3 only
  MatrixView wq, wk, wv, wo;               // (out, in)
  std::vector<float> bq, bk, bv;           // Qwen2 only
  MatrixView w_gate, w_up, w_down;
};

// How LlamaModel::load treats a compressed-tensors folder's quantized Linears.
enum class WeightMode {
  kFromEnv,      // kDequantized if QUANTA_DEQUANT_WEIGHTS=1, else kCompressed
  kCompressed,   // kept compressed (quant/packed_weight.h), run by the compressed kernels, with
                 // activation quantization inside ops::linear; weights no kernel runs compressed
                 // are dequantized to f32
  kDequantized,  // the reference: every weight dequantized to f32 at load, activations
                 // fake-quantized by a hook before each Linear
};

// One sequence's part of a batched step (LlamaModel::forward_batch).
struct BatchSeq {
  const int32_t* tokens = nullptr;  // the new tokens, at positions kv->n_past ..
  int64_t n_tokens = 0;
  SeqBlocks* kv = nullptr;  // must already hold room for n_past + n_tokens (PagedKvCache::reserve)
  bool want_logits = false;  // write the logits of its last new token
};

class LlamaModel {
 public:
  // Loads DIR (config.json + safetensors). Throws quanta::Error naming the file/tensor on any
  // missing tensor, shape mismatch or unsupported dtype.
  static LlamaModel load(const std::string& dir, WeightMode mode = WeightMode::kFromEnv);

  const ModelConfig& config() const { return config_; }
  const TensorStore& store() const { return store_; }
  int64_t n_params() const { return n_params_; }
  size_t weight_bytes() const;  // bytes of the weights as stored
  // True if some Linear runs compressed (WeightMode::kCompressed on a compressed folder).
  bool compressed() const { return !packed_.empty(); }
  const MatrixView& embedding() const { return embed_; }
  const MatrixView& lm_head() const { return lm_head_; }

  // KV caches are made in kv_type() (F32, F16, BF16 or I8; default kDefaultKvType); set_kv_type
  // throws quanta::Error for any other dtype.
  static constexpr DType kDefaultKvType = DType::kF16;
  DType kv_type() const { return kv_type_; }
  void set_kv_type(DType t);
  // Bytes of K and V one cached token takes over all layers, at kv_type().
  double kv_bytes_per_token() const {
    return 2.0 * double(config_.n_layers * config_.n_heads_kv) *
           double(kv_head_row_bytes(kv_type_, config_.head_dim));
  }
  KvCache make_cache(int64_t capacity) const { return make_cache(capacity, kv_type_); }
  KvCache make_cache(int64_t capacity, DType kv_type) const;

  // Replaces a dense lm_head (the tied embedding table when tied; the embedding lookups keep the
  // original) by an int8 copy, symmetric, one scale per `group_size` columns (0: per row) with
  // ggml's Q8_0 rule (scale = absmax / 127; llama.cpp stores the output matrix of its Q4_0/Q8_0
  // files this way), run by the W8A16 kernel: half the bytes of BF16 per decode step. On the
  // reference path (WeightMode::kDequantized) the codes are dequantized to f32 instead. Changes
  // the logits, so it is opt-in (--lm-head int8). Throws quanta::Error if lm_head is already
  // quantized or group_size does not divide hidden_size into groups of a multiple of 16.
  void quantize_lm_head_int8(int64_t group_size);
  bool lm_head_quantized() const { return lm_head_packed_ != nullptr || lm_head_f32_ != nullptr; }

  // Runs tokens[0..T) at positions cache.n_past() .. + T - 1 and appends their K/V to the cache.
  // If logits is non-null, writes the logits of the last n_logits tokens: (n_logits, vocab).
  void forward(const int32_t* tokens, int64_t T, KvCache& cache, float* logits, int64_t n_logits);

  // One step for several sequences at once (continuous batching; llama_batch.cc): each runs its
  // new tokens (a prefill chunk or one decode token) at its own positions; the Linears run once
  // on all tokens stacked, attention per sequence through its block table. Appends K/V and
  // advances each kv->n_past. logits (number of seqs with want_logits, vocab), in seqs' order.
  void forward_batch(const std::vector<BatchSeq>& seqs, PagedKvCache& cache, float* logits);
  PagedKvCache make_paged_cache(int64_t n_blocks, int64_t block_size) const;

  // Copies the weights a decode step streams (every layer's Linears, the lm_head, and the
  // embedding when tied to it) into one buffer advised for transparent huge pages, and points
  // the model at the copies; the originals are freed, or dropped from the resident set when
  // they are file-mapped. For inference (weights read once per token, every token); not for
  // calibration, which replaces weights layer by layer. No-op on the reference path
  // (WeightMode::kDequantized), with QUANTA_HUGE_PAGES=0, or when called again (call it after
  // quantize_lm_head_int8). Returns the bytes placed.
  size_t place_weights_on_huge_pages();

  // Pieces of forward, for layer-by-layer calibration.
  // x (T, hidden) <- embeddings of tokens.
  void embed(const int32_t* tokens, int64_t T, float* x) const;
  // x (T, hidden) <- decoder layer l applied to x, for tokens at positions cache.n_past() ..;
  // writes layer l's K/V into the cache (does not advance n_past). If on_input is set, it is
  // called with the input of each Linear before it runs: (linear name as in HF, e.g.
  // "self_attn.q_proj"; x (T, in_features)); q/k/v and gate/up share one input, reported once
  // under each name.
  using LinearInputHook = std::function<void(const std::string&, const float*, int64_t)>;
  void layer_forward(int64_t l, float* x, int64_t T, KvCache& cache,
                     const LinearInputHook& on_input = {});

  // The Linear weights of layer l by HF name ("self_attn.q_proj", ..., "mlp.down_proj").
  static const std::vector<std::string>& linear_names();
  const MatrixView& linear(int64_t l, const std::string& name) const;
  // Replaces a Linear's weight with w (rows, cols) f32, owned by the model from now on.
  void set_linear(int64_t l, const std::string& name, std::vector<float> w);

 private:
  ModelConfig config_;
  TensorStore store_;
  MatrixView embed_, lm_head_;
  std::vector<float> final_norm_;
  std::vector<LlamaLayer> layers_;
  std::vector<float> inv_freq_;
  ThreadPool* pool_ = nullptr;
  DType kv_type_ = kDefaultKvType;
  // Dynamic per-token activation quantization (W8A8 / FP8_DYNAMIC folders): each Linear's input
  // is quantized and dequantized per token before the (dequantized-weight) matmul, which gives
  // the numerics of an int8 x int8 / fp8 x fp8 kernel.
  std::optional<QuantArgs> act_quant_;
  std::vector<std::unique_ptr<std::vector<float>>> owned_;  // weights set by set_linear
  std::vector<std::unique_ptr<PackedWeight>> packed_;       // compressed Linears
  std::unique_ptr<PackedWeight> lm_head_packed_;            // quantize_lm_head_int8
  std::unique_ptr<std::vector<float>> lm_head_f32_;         // ... on the reference path
  bool reference_path_ = false;                             // WeightMode::kDequantized
  HugePageBuffer weight_arena_;                             // place_weights_on_huge_pages
  int64_t n_params_ = 0;

  MatrixView& linear_ref(int64_t l, const std::string& name);
  // Packs every quantized weight of the folder (store_ opened as stored) into views by name.
  void load_compressed(const std::string& dir, ActQuant act,
                       std::map<std::string, MatrixView>& views);

  // Scratch, resized per call.
  std::vector<float> x_, xn_, q_, k_, v_, attn_, gate_, up_;
  // Rotary cos/sin of the positions layer_forward last saw (rope_pos0_, rope_T_): the layers of
  // one step share them.
  ops::RopeTable rope_;
  int64_t rope_pos0_ = -1, rope_T_ = 0;
  std::vector<int64_t> rope_positions_;
};

}  // namespace quanta
