// Capacity planning: memory for a model's weights under a compression scheme plus its KV cache,
// and the GPUs of a given size that hold them. Units: GB = 1e9 bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "io/hf_config.h"

namespace quanta {

// Fraction of each GPU's memory left for weights and KV cache; the rest (5%) is headroom for the
// CUDA context, activations and allocator fragmentation.
inline constexpr double kGpuUsableFraction = 0.95;

struct PlanInput {
  double params = 0;          // parameter count
  std::string scheme = "BF16";  // FP32, BF16, FP16, W8A16, W8A8, INT8, FP8, W4A16, INT4
  int64_t group_size = 128;   // 4-bit schemes: weights per scale (0: per channel)
  double gpu_mem_gb = 80;
  int64_t ctx = 0, batch = 0;  // KV cache for batch sequences of ctx tokens (needs config)
  double kv_bytes = 2;         // bytes per cached K/V value (BF16)
  std::optional<ModelConfig> config;
};

struct Plan {
  double bytes_per_param = 0;  // including scale overhead
  double weight_gb = 0, kv_gb = 0, total_gb = 0;
  double usable_per_gpu_gb = 0;
  int64_t gpus = 0;
};

// Bytes per parameter of a scheme: the weight bits / 8 plus one 16-bit scale per group (4-bit
// schemes, group_size weights) or per output channel (8-bit schemes; negligible). Throws
// quanta::Error naming the scheme if unknown.
double scheme_bytes_per_param(const std::string& scheme, int64_t group_size);
// Parameter count of a Llama-family config (embeddings, layers, norms, untied lm_head).
double config_params(const ModelConfig& c);
Plan make_plan(const PlanInput& in);

}  // namespace quanta
