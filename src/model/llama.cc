#include "model/llama.h"

#include <fmt/format.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <string_view>

#include "core/error.h"
#include "kernels/matmul.h"
#include "ops/activation.h"
#include "ops/attention.h"
#include "ops/linear.h"
#include "ops/norm.h"
#include "ops/rope.h"
#include "quant/rtn.h"
#include "quant/compressed_tensors.h"

namespace quanta {
namespace {

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

const TensorInfo& expect(const TensorStore& st, const std::string& name,
                         std::vector<int64_t> shape) {
  const TensorInfo& t = st.get(name);
  if (t.shape != shape)
    fail("tensor {} in {} has shape {}, expected {} (from config.json)", name, t.file,
         shape_str(t.shape), shape_str(shape));
  if (t.dtype != DType::kF32 && t.dtype != DType::kF16 && t.dtype != DType::kBF16)
    fail("tensor {} in {} has dtype {}; this engine runs F32, F16 and BF16 weights", name, t.file,
         dtype_name(t.dtype));
  return t;
}

MatrixView bind_matrix(const TensorStore& st, const std::string& name, int64_t rows, int64_t cols) {
  const TensorInfo& t = expect(st, name, {rows, cols});
  return MatrixView{t.data, t.dtype, rows, cols};
}

std::vector<float> bind_vector(const TensorStore& st, const std::string& name, int64_t n) {
  const TensorInfo& t = expect(st, name, {n});
  std::vector<float> v(static_cast<size_t>(n));
  kernels::to_f32(t.data, t.dtype, v.data(), n, kernels::Isa::kScalar);
  return v;
}

bool dequantize_from_env() {
  const char* v = std::getenv("QUANTA_DEQUANT_WEIGHTS");
  return v != nullptr && std::string_view(v) == "1";
}

bool is_quantization_part(const std::string& name, const std::map<std::string, MatrixView>& q) {
  for (const char* suffix : {"_packed", "_scale", "_zero_point", "_shape", "_g_idx", ""}) {
    const size_t n = std::strlen(suffix);
    if (name.size() > n && name.compare(name.size() - n, n, suffix) == 0 &&
        q.count(name.substr(0, name.size() - n)))
      return true;
  }
  return false;
}

}  // namespace

void LlamaModel::load_compressed(const std::string& dir, ActQuant act,
                                 std::map<std::string, MatrixView>& views) {
  for_each_quantized_weight(dir, store_, [&](const std::string& name, QuantizedWeight&& q) {
    if (std::optional<PackedWeight> p = pack_weight(q, act)) {
      packed_.push_back(std::make_unique<PackedWeight>(std::move(*p)));
      views[name] = packed_.back()->view;
      return;
    }
    // No kernel runs this one compressed: dequantize; ops::linear still quantizes its input.
    owned_.push_back(std::make_unique<std::vector<float>>(size_t(q.rows * q.cols)));
    q.dequantize(owned_.back()->data());
    MatrixView v{owned_.back()->data(), DType::kF32, q.rows, q.cols};
    v.act = act;
    views[name] = v;
  });
}

LlamaModel LlamaModel::load(const std::string& dir, WeightMode mode) {
  LlamaModel m;
  m.config_ = load_model_config(dir);
  m.pool_ = &ThreadPool::global();
  // Compressed Linears by weight name (kCompressed mode).
  std::map<std::string, MatrixView> qviews;
  if (mode == WeightMode::kFromEnv)
    mode = dequantize_from_env() ? WeightMode::kDequantized : WeightMode::kCompressed;
  m.reference_path_ = mode == WeightMode::kDequantized;
  if (is_compressed_tensors(dir)) {
    const std::optional<QuantArgs> act_args = input_activation_args(dir);
    const std::optional<ActQuant> act = act_quant_kind(act_args);
    if (mode == WeightMode::kCompressed && act) {
      m.store_ = TensorStore::open(dir);
      with_context(dir, [&] { m.load_compressed(dir, *act, qviews); });
    } else {
      m.store_ = load_compressed_tensors(dir);
      m.act_quant_ = act_args;
    }
  } else {
    m.store_ = TensorStore::open(dir);
  }
  for (const auto& [name, t] : m.store_.tensors())
    if (!is_quantization_part(name, qviews)) m.n_params_ += t.numel();
  for (const auto& [name, v] : qviews) m.n_params_ += v.numel();
  const ModelConfig& c = m.config_;
  const TensorStore& st = m.store_;
  const int64_t d = c.hidden_size, hd = c.head_dim;
  auto bind_linear = [&](const std::string& name, int64_t rows, int64_t cols) {
    auto it = qviews.find(name);
    if (it == qviews.end()) return bind_matrix(st, name, rows, cols);
    if (it->second.rows != rows || it->second.cols != cols)
      fail("tensor {} in {} has shape [{}, {}], expected [{}, {}] (from config.json)", name, dir,
           it->second.rows, it->second.cols, rows, cols);
    return it->second;
  };
  m.embed_ = bind_matrix(st, "model.embed_tokens.weight", c.vocab_size, d);
  if (qviews.count("lm_head.weight")) {
    m.lm_head_ = bind_linear("lm_head.weight", c.vocab_size, d);
  } else if (st.contains("lm_head.weight")) {
    m.lm_head_ = bind_matrix(st, "lm_head.weight", c.vocab_size, d);
  } else if (c.tie_word_embeddings) {
    m.lm_head_ = m.embed_;
  } else {
    st.get("lm_head.weight");  // throws: missing tensor
  }
  m.final_norm_ = bind_vector(st, "model.norm.weight", d);
  for (int64_t i = 0; i < c.n_layers; ++i) {
    const std::string p = fmt::format("model.layers.{}.", i);
    LlamaLayer L;
    L.attn_norm = bind_vector(st, p + "input_layernorm.weight", d);
    L.mlp_norm = bind_vector(st, p + "post_attention_layernorm.weight", d);
    L.wq = bind_linear(p + "self_attn.q_proj.weight", c.n_heads * hd, d);
    L.wk = bind_linear(p + "self_attn.k_proj.weight", c.n_heads_kv * hd, d);
    L.wv = bind_linear(p + "self_attn.v_proj.weight", c.n_heads_kv * hd, d);
    L.wo = bind_linear(p + "self_attn.o_proj.weight", d, c.n_heads * hd);
    if (c.qkv_bias) {
      L.bq = bind_vector(st, p + "self_attn.q_proj.bias", c.n_heads * hd);
      L.bk = bind_vector(st, p + "self_attn.k_proj.bias", c.n_heads_kv * hd);
      L.bv = bind_vector(st, p + "self_attn.v_proj.bias", c.n_heads_kv * hd);
    }
    if (c.qk_norm) {
      L.q_norm = bind_vector(st, p + "self_attn.q_norm.weight", hd);
      L.k_norm = bind_vector(st, p + "self_attn.k_norm.weight", hd);
    }
    L.w_gate = bind_linear(p + "mlp.gate_proj.weight", c.intermediate_size, d);
    L.w_up = bind_linear(p + "mlp.up_proj.weight", c.intermediate_size, d);
    L.w_down = bind_linear(p + "mlp.down_proj.weight", d, c.intermediate_size);
    m.layers_.push_back(std::move(L));
  }
  ops::RopeParams rp;
  rp.theta = c.rope_theta;
  rp.kind = c.rope_scaling == RopeScaling::kLlama3 ? 1 : c.rope_scaling == RopeScaling::kLinear ? 2 : 0;
  rp.factor = c.rope_factor;
  rp.low_freq_factor = c.rope_low_freq_factor;
  rp.high_freq_factor = c.rope_high_freq_factor;
  rp.original_max_position = c.rope_original_max_position;
  m.inv_freq_ = ops::rope_inv_freq(hd, rp);
  return m;
}

size_t LlamaModel::weight_bytes() const { return store_.total_bytes(); }

void LlamaModel::set_kv_type(DType t) {
  check_kv_dtype(t);
  kv_type_ = t;
}

KvCache LlamaModel::make_cache(int64_t capacity, DType kv_type) const {
  return KvCache(config_.n_layers, capacity, config_.n_heads_kv, config_.head_dim, kv_type);
}

const std::vector<std::string>& LlamaModel::linear_names() {
  static const std::vector<std::string> kNames = {
      "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
      "mlp.gate_proj",    "mlp.up_proj",      "mlp.down_proj"};
  return kNames;
}

MatrixView& LlamaModel::linear_ref(int64_t l, const std::string& name) {
  QUANTA_ASSERT(l >= 0 && l < int64_t(layers_.size()));
  LlamaLayer& L = layers_[size_t(l)];
  if (name == "self_attn.q_proj") return L.wq;
  if (name == "self_attn.k_proj") return L.wk;
  if (name == "self_attn.v_proj") return L.wv;
  if (name == "self_attn.o_proj") return L.wo;
  if (name == "mlp.gate_proj") return L.w_gate;
  if (name == "mlp.up_proj") return L.w_up;
  if (name == "mlp.down_proj") return L.w_down;
  fail("unknown Linear '{}' (expected one of self_attn.q_proj .. mlp.down_proj)", name);
}

const MatrixView& LlamaModel::linear(int64_t l, const std::string& name) const {
  return const_cast<LlamaModel*>(this)->linear_ref(l, name);
}

void LlamaModel::set_linear(int64_t l, const std::string& name, std::vector<float> w) {
  MatrixView& v = linear_ref(l, name);
  QUANTA_ASSERT(int64_t(w.size()) == v.rows * v.cols);
  owned_.push_back(std::make_unique<std::vector<float>>(std::move(w)));
  const ActQuant act = v.act;  // a dense f32 matrix in the input's column order from now on
  v = MatrixView{owned_.back()->data(), DType::kF32, v.rows, v.cols};
  v.act = act;
}

void LlamaModel::embed(const int32_t* tokens, int64_t T, float* x) const {
  const int64_t d = config_.hidden_size;
  for (int64_t t = 0; t < T; ++t) {
    if (tokens[t] < 0 || tokens[t] >= config_.vocab_size)
      fail("token id {} is outside the vocabulary (size {})", tokens[t], config_.vocab_size);
    ops::embedding_row(embed_, tokens[t], x + t * d);
  }
}

void LlamaModel::layer_forward(int64_t l, float* x, int64_t T, KvCache& cache,
                               const LinearInputHook& on_input) {
  const ModelConfig& c = config_;
  const int64_t d = c.hidden_size, hd = c.head_dim, ff = c.intermediate_size;
  const int64_t qdim = c.n_heads * hd, kvdim = c.n_heads_kv * hd;
  const int64_t pos0 = cache.n_past();
  if (pos0 + T > cache.capacity())
    fail("context overflow: {} cached + {} new tokens exceed the context of {} tokens", pos0, T,
         cache.capacity());
  xn_.resize(size_t(T * d));
  q_.resize(size_t(T * qdim));
  k_.resize(size_t(T * kvdim));
  v_.resize(size_t(T * kvdim));
  attn_.resize(size_t(T * qdim));
  gate_.resize(size_t(T * ff));
  up_.resize(size_t(T * ff));
  ThreadPool& pool = *pool_;
  auto hook = [&](const char* name, float* in) {
    if (on_input) on_input(name, in, T);
    // Note: q/k/v and gate/up share one input, quantized once (at q and gate): quantizing a
    // quantized row again is not the identity (its absmax, so its scale, changed).
    const std::string_view n(name);
    const bool shared_again = n == "self_attn.k_proj" || n == "self_attn.v_proj" || n == "mlp.up_proj";
    if (act_quant_ && !shared_again)
      quantize_dequantize_rows(in, T, linear_ref(l, name).cols, *act_quant_);
  };
  const LlamaLayer& L = layers_[size_t(l)];
  const ops::AttentionShape shape{c.n_heads, c.n_heads_kv, hd, c.sliding_window};
  float* kc = k_.data();
  float* vc = v_.data();
  // Attention block: x += o_proj(attn(rope(q), rope(k), v)) on rmsnorm(x).
  ops::rmsnorm(x, L.attn_norm.data(), T, d, c.rms_norm_eps, xn_.data());
  hook("self_attn.q_proj", xn_.data());
  hook("self_attn.k_proj", xn_.data());
  hook("self_attn.v_proj", xn_.data());
  const ops::LinearPart qkv[] = {{&L.wq, L.bq.empty() ? nullptr : L.bq.data(), q_.data()},
                                 {&L.wk, L.bk.empty() ? nullptr : L.bk.data(), kc},
                                 {&L.wv, L.bv.empty() ? nullptr : L.bv.data(), vc}};
  ops::linear_fused(xn_.data(), T, qkv, 3, pool);
  if (c.qk_norm) {
    ops::rmsnorm(q_.data(), L.q_norm.data(), T * c.n_heads, hd, c.rms_norm_eps, q_.data());
    ops::rmsnorm(kc, L.k_norm.data(), T * c.n_heads_kv, hd, c.rms_norm_eps, kc);
  }
  if (rope_pos0_ != pos0 || rope_T_ != T) {
    rope_positions_.resize(size_t(T));
    for (int64_t t = 0; t < T; ++t) rope_positions_[size_t(t)] = pos0 + t;
    ops::rope_table(rope_positions_.data(), T, inv_freq_, rope_);
    rope_pos0_ = pos0;
    rope_T_ = T;
  }
  ops::rope_rotate(q_.data(), T, c.n_heads, hd, rope_.cos.data(), rope_.sin.data());
  ops::rope_rotate(kc, T, c.n_heads_kv, hd, rope_.cos.data(), rope_.sin.data());
  cache.write(l, pos0, kc, vc, T);  // rounded to the cache's dtype: attention reads them back
  ops::attention(q_.data(), T, pos0, cache.layer(l), shape, attn_.data(), pool);
  hook("self_attn.o_proj", attn_.data());
  const ops::LinearPart o_proj{&L.wo, nullptr, xn_.data(), x};
  ops::linear_fused(attn_.data(), T, &o_proj, 1, pool);  // x += o_proj(attn)
  // MLP block: x += down(silu(gate(h)) * up(h)), h = rmsnorm(x).
  ops::rmsnorm(x, L.mlp_norm.data(), T, d, c.rms_norm_eps, xn_.data());
  hook("mlp.gate_proj", xn_.data());
  hook("mlp.up_proj", xn_.data());
  const ops::LinearPart gate_up[] = {{&L.w_gate, nullptr, gate_.data()}, {&L.w_up, nullptr, up_.data()}};
  ops::linear_fused(xn_.data(), T, gate_up, 2, pool);
  ops::silu_mul(gate_.data(), up_.data(), gate_.data(), T * ff, pool);
  hook("mlp.down_proj", gate_.data());
  const ops::LinearPart down{&L.w_down, nullptr, xn_.data(), x};
  ops::linear_fused(gate_.data(), T, &down, 1, pool);  // x += down(silu(gate) * up)
}

void LlamaModel::forward(const int32_t* tokens, int64_t T, KvCache& cache, float* logits,
                         int64_t n_logits) {
  const ModelConfig& c = config_;
  const int64_t d = c.hidden_size;
  const int64_t pos0 = cache.n_past();
  if (T <= 0) return;
  if (pos0 + T > cache.capacity())
    fail("context overflow: {} cached + {} new tokens exceed the context of {} tokens", pos0, T,
         cache.capacity());
  x_.resize(size_t(T * d));
  embed(tokens, T, x_.data());
  for (int64_t l = 0; l < c.n_layers; ++l) layer_forward(l, x_.data(), T, cache);
  cache.set_n_past(pos0 + T);
  if (!logits) return;
  QUANTA_ASSERT(n_logits >= 1 && n_logits <= T);
  xn_.resize(size_t(T * d));
  const float* last = x_.data() + (T - n_logits) * d;
  ops::rmsnorm(last, final_norm_.data(), n_logits, d, c.rms_norm_eps, xn_.data());
  ops::linear(xn_.data(), n_logits, lm_head_, nullptr, logits, *pool_);
}

}  // namespace quanta
