// quanta compress: RTN / GPTQ / SparseGPT / magnitude pruning to a compressed-tensors folder.
#include <algorithm>

#include "commands.h"
#include "compress/pipeline.h"
#include "progress.h"

namespace quanta::cli {
namespace {

// Where vLLM (the main consumer of compressed-tensors folders) cannot serve a scheme.
void warn_serving_limits(const CompressOptions& o) {
  if (o.scheme == "W8A16" || o.scheme == "FP8")
    fmt::print(stderr, "note: vLLM has no CPU kernel for {} (weight-only 8-bit); it serves it on GPUs only\n",
               o.scheme);
  if (o.scheme.rfind("W4A16", 0) == 0)
    fmt::print(stderr, "note: vLLM serves {} on GPUs and on CPUs with AVX-512 only\n", o.scheme);
  if (o.actorder == "group")
    fmt::print(stderr, "note: --actorder group writes weight_g_idx; compressed-tensors >= 0.19 (so transformers and "
               "vLLM) refuses actorder 'group' since 2026-08: quanta runs it; use --actorder static for them\n");
  if (!o.sparsity.empty())
    fmt::print(stderr, "note: pruned weights are saved in a dense format (vLLM no longer serves 2:4 sparse formats)\n");
}

void run_compress(const CompressOptions& o) {
  warn_serving_limits(o);
  ProgressBar bar("layers");
  const CompressReport r = compress_model(o, [&](int64_t d, int64_t t) { bar.update(d, t); });
  fmt::print("wrote {}\n", o.out_dir);
  fmt::print("method {} scheme {}  {:.1f} s  peak RSS {:.0f} MiB  calibration tokens {:.0f}\n", o.method,
             o.scheme, r.seconds, double(r.peak_rss) / 1048576.0, r.calib_tokens);
  fmt::print("size on disk {:.1f} MiB -> {:.1f} MiB ({:.2f}x smaller)\n", double(r.bytes_before) / 1048576.0,
             double(r.bytes_after) / 1048576.0, double(r.bytes_before) / double(r.bytes_after));
  double total = 0;
  for (const auto& l : r.layers) total += l.loss;
  fmt::print("reconstruction loss: total {:.4g} over {} Linears; largest:\n", total, r.layers.size());
  std::vector<LayerReport> top = r.layers;
  std::sort(top.begin(), top.end(), [](const auto& a, const auto& b) { return a.loss > b.loss; });
  for (size_t i = 0; i < std::min<size_t>(5, top.size()); ++i)
    fmt::print("  {:40s} {:.4g}  ({:.2f} s)\n", top[i].name, top[i].loss, top[i].seconds);
}

}  // namespace

void add_compress(CLI::App& app) {
  auto o = std::make_shared<CompressOptions>();
  auto* cmd = app.add_subcommand(
      "compress",
      "Quantize (and/or prune) a model layer by layer and save it as compressed-tensors.\n"
      "Schemes: W8A16, W4A16 (group 128 default), W4A16_ASYM, W8A8, FP8_DYNAMIC, FP8; DENSE with a\n"
      "pruning method saves pruned BF16 weights. Calibration: --samples x --seq-len tokens of --calib\n"
      "(defaults 64 x 512: minutes on 2 cores; llm-compressor's 512 x 2048 is far too slow on a CPU).");
  cmd->add_option("--model", o->model_dir, "Hugging Face model folder")->required();
  cmd->add_option("--out", o->out_dir, "output folder (must not exist or be empty, unless --overwrite)")->required();
  cmd->add_flag("--overwrite", o->overwrite, "replace a non-empty --out, once the new folder is complete");
  cmd->add_option("--scheme", o->scheme, "quantization scheme")->capture_default_str();
  cmd->add_option("--method", o->method, "rtn | gptq | sparsegpt | magnitude")->capture_default_str();
  cmd->add_option("--group-size", o->group_size, "group size; 0 = per channel; -1 = the scheme's default")
      ->capture_default_str();
  cmd->add_option("--actorder", o->actorder,
                  "GPTQ activation order: static (columns by descending Hessian diagonal, contiguous "
                  "groups; llm-compressor's default) or group (groups in that order; writes weight_g_idx)")
      ->check(CLI::IsMember({"none", "static", "group"}));
  cmd->add_option("--scale-rule", o->scale_rule,
                  "symmetric int4/int8 scales: minmax (compressed-tensors: absmax / 7.5, bf16) or ggml "
                  "(llama.cpp's Q4_0/Q8_0 rule: the largest-magnitude weight / -8, f16; with --group-size 32 "
                  "`quanta export --format gguf` writes exactly llama-quantize's blocks for RTN)")
      ->capture_default_str()
      ->check(CLI::IsMember({"minmax", "ggml"}));
  cmd->add_flag("--act-order{static}", o->actorder, "same as --actorder static");
  cmd->add_option("--damp", o->damp, "GPTQ/SparseGPT dampening, fraction of mean diag(H)")->capture_default_str();
  cmd->add_option("--sparsity", o->sparsity, "pruning: a fraction such as 0.5, or n:m such as 2:4");
  cmd->add_option("--targets", o->targets,
                  "modules to compress: Linear (all), module names, or re:REGEX")->capture_default_str();
  cmd->add_option("--ignore", o->ignore, "modules kept at original precision (names or re:REGEX)")
      ->capture_default_str();
  cmd->add_option("--calib", o->calib_file, "calibration text, e.g. ../shared/data/tinyshakespeare/input.txt")
      ->check(CLI::ExistingFile);
  cmd->add_option("--samples", o->samples, "calibration samples")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--seq-len", o->seq_len, "tokens per calibration sample")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->callback([o] { run_compress(*o); });
}

}  // namespace quanta::cli
