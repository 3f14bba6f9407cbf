#include "eval/memory_plan.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "core/error.h"

namespace quanta {

double scheme_bytes_per_param(const std::string& scheme, int64_t group_size) {
  std::string s = scheme;
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  if (s == "FP32" || s == "F32") return 4.0;
  if (s == "BF16" || s == "FP16" || s == "F16") return 2.0;
  // 8-bit: one scale per output channel, i.e. 2 bytes per `cols` weights: under 0.1% for any
  // real layer, so not counted.
  if (s == "W8A16" || s == "W8A8" || s == "INT8" || s == "FP8" || s == "FP8_DYNAMIC") return 1.0;
  if (s == "W4A16" || s == "INT4" || s == "W4A16_ASYM") {
    const double scales = group_size > 0 ? 2.0 / double(group_size) : 0.0;
    const double zeros = s == "W4A16_ASYM" && group_size > 0 ? 0.5 / double(group_size) : 0.0;
    return 0.5 + scales + zeros;
  }
  fail("unknown scheme '{}' (expected FP32, BF16, FP16, W8A16, W8A8, INT8, FP8, W4A16, W4A16_ASYM, INT4)",
       scheme);
}

double config_params(const ModelConfig& c) {
  const double d = double(c.hidden_size), hd = double(c.head_dim), ff = double(c.intermediate_size);
  const double attn = d * (double(c.n_heads) * hd) * 2 + d * (double(c.n_heads_kv) * hd) * 2;
  const double mlp = 3 * d * ff;
  const double per_layer = attn + mlp + 2 * d;
  const double embed = double(c.vocab_size) * d;
  return embed * (c.tie_word_embeddings ? 1 : 2) + double(c.n_layers) * per_layer + d;
}

Plan make_plan(const PlanInput& in) {
  if (!(in.params > 0)) fail("--params must be positive (got {})", in.params);
  if (!(in.gpu_mem_gb > 0)) fail("--gpu-mem must be positive (got {})", in.gpu_mem_gb);
  Plan p;
  p.bytes_per_param = scheme_bytes_per_param(in.scheme, in.group_size);
  p.weight_gb = in.params * p.bytes_per_param / 1e9;
  if (in.config && in.ctx > 0 && in.batch > 0) {
    const ModelConfig& c = *in.config;
    p.kv_gb = double(c.n_layers) * 2 * double(c.n_heads_kv) * double(c.head_dim) * double(in.ctx) *
              double(in.batch) * in.kv_bytes / 1e9;
  }
  p.total_gb = p.weight_gb + p.kv_gb;
  p.usable_per_gpu_gb = in.gpu_mem_gb * kGpuUsableFraction;
  p.gpus = std::max<int64_t>(1, int64_t(std::ceil(p.total_gb / p.usable_per_gpu_gb - 1e-9)));
  return p;
}

}  // namespace quanta
