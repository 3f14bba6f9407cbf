// quanta plan: how much memory a model needs under a scheme (weights + KV cache) and how many
// GPUs of a given size hold it.
#include <cstdio>

#include "commands.h"
#include "eval/memory_plan.h"
#include "io/hf_config.h"

namespace quanta::cli {
namespace {

struct PlanArgs {
  double params = 0;
  std::string model, scheme = "BF16";
  int64_t group_size = 128, ctx = 0, batch = 1;
  double gpu_mem = 80, kv_bytes = 2;
};

void run_plan(const PlanArgs& a) {
  PlanInput in;
  in.scheme = a.scheme;
  in.group_size = a.group_size;
  in.gpu_mem_gb = a.gpu_mem;
  in.ctx = a.ctx;
  in.batch = a.batch;
  in.kv_bytes = a.kv_bytes;
  if (!a.model.empty()) in.config = load_model_config(a.model);
  in.params = a.params > 0 ? a.params : in.config ? config_params(*in.config) : 0;
  if (in.params <= 0) fail("give --params or --model");
  const Plan p = make_plan(in);
  std::printf("parameters        %.4g\n", in.params);
  std::printf("scheme            %s (%.4f bytes/param incl. scales%s)\n", a.scheme.c_str(),
              p.bytes_per_param,
              a.group_size > 0 && p.bytes_per_param < 1 ? fmt::format(", group {}", a.group_size).c_str() : "");
  std::printf("weights           %.2f GB\n", p.weight_gb);
  if (in.config && a.ctx > 0)
    std::printf("KV cache          %.2f GB (%lld layers x 2 x %lld kv heads x %lld head dim x %lld ctx x %lld seqs x %g B)\n",
                p.kv_gb, (long long)in.config->n_layers, (long long)in.config->n_heads_kv,
                (long long)in.config->head_dim, (long long)a.ctx, (long long)a.batch, a.kv_bytes);
  else if (a.ctx > 0)
    std::printf("KV cache          not counted (needs --model DIR for layers, kv heads, head dim)\n");
  std::printf("total             %.2f GB\n", p.total_gb);
  std::printf("usable per GPU    %.2f GB (%.0f%% of %g GB; the rest is headroom for runtime and activations)\n",
              p.usable_per_gpu_gb, kGpuUsableFraction * 100, a.gpu_mem);
  std::printf("GPUs needed       %lld\n", (long long)p.gpus);
}

}  // namespace

void add_plan(CLI::App& app) {
  auto a = std::make_shared<PlanArgs>();
  auto* cmd = app.add_subcommand("plan", "Memory for weights + KV cache under a scheme, and GPUs needed (GB = 1e9 bytes)");
  cmd->add_option("--params", a->params, "parameter count, e.g. 109e9 (default: from --model's config)");
  cmd->add_option("--model", a->model, "HF model folder: config.json gives layers/kv heads/head dim (and params)");
  cmd->add_option("--scheme", a->scheme, "FP32, BF16, FP16, W8A16, W8A8, INT8, FP8, W4A16, W4A16_ASYM, INT4")->capture_default_str();
  cmd->add_option("--group-size", a->group_size, "4-bit schemes: weights per scale (0: per channel)")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--gpu-mem", a->gpu_mem, "memory per GPU in GB")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--ctx", a->ctx, "tokens per sequence in the KV cache")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--batch", a->batch, "concurrent sequences in the KV cache")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--kv-bytes", a->kv_bytes, "bytes per cached value (2: BF16, 1: FP8)")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->callback([a] { run_plan(*a); });
}

}  // namespace quanta::cli
