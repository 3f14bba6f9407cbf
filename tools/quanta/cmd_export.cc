// quanta export: a Hugging Face folder (plain or compressed-tensors) -> one GGUF file for llama.cpp.
#include <chrono>

#include "commands.h"
#include "quant/gguf_export.h"

namespace quanta::cli {
namespace {

struct ExportArgs {
  GgufExportOptions opt;
  std::string format = "gguf";
};

void run_export(const ExportArgs& a) {
  if (a.format != "gguf") fail("--format '{}': only gguf is supported", a.format);
  const auto t0 = std::chrono::steady_clock::now();
  const GgufExportSummary s = export_gguf(a.opt);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  fmt::print("exported     {}\n", a.opt.model_dir);
  fmt::print("into         {} ({})\n", s.path, s.file_type);
  std::string types;
  for (const auto& [t, n] : s.tensors_by_type) types += fmt::format(" {} x{}", t, n);
  fmt::print("tensors      {}:{}\n", s.n_tensors, types);
  fmt::print("parameters   {} ({:.1f} M)\n", s.n_params, double(s.n_params) / 1e6);
  fmt::print("written      {} bytes ({:.1f} MB)\n", s.bytes, double(s.bytes) / 1e6);
  if (s.n_quantized_weights > 0) {
    fmt::print("integers     {} quantized weights carried over unchanged\n", s.n_quantized_weights);
    fmt::print("f16 scales   {} of {} block scales/minima changed by f16 rounding (max rel {:.2g})\n",
               s.n_block_params_rounded, s.n_block_params, s.max_block_param_rel_change);
    fmt::print("weights      {} of {} dequantized weights differ (max abs {:.3g}, max rel {:.3g})\n",
               s.n_weights_changed, s.n_quantized_weights, s.max_weight_abs_change,
               s.max_weight_rel_change);
  }
  fmt::print("data sha256  {}\n", s.data_sha256);
  fmt::print("time         {:.2f} s\n", secs);
}

}  // namespace

void add_export(CLI::App& app) {
  auto a = std::make_shared<ExportArgs>();
  auto* cmd = app.add_subcommand("export", "Export a model folder to one GGUF file for llama.cpp");
  cmd->footer(
      "Plain F32/BF16/F16 folders become F16 (auto, from F32), BF16 or F32 GGUF files.\n"
      "compressed-tensors folders keep their integers: W8 symmetric group 32 -> Q8_0, W4 symmetric\n"
      "group 32 -> Q4_0, W4 asymmetric group 32 -> Q4_1 (scales stored as f16, as ggml does).\n"
      "Other schemes are refused with the GGUF type they would need. Norms are F32; embeddings keep\n"
      "their stored precision (F32 -> F16) unless --embed-type says otherwise. The file is written\n"
      "to FILE.tmp-<pid> and renamed; its metadata carries quanta.data_sha256 for `quanta verify`.");
  cmd->add_option("--model", a->opt.model_dir, "Hugging Face model folder")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--format", a->format, "output format")->capture_default_str();
  cmd->add_option("--out", a->opt.out_path, "output .gguf file")->required();
  cmd->add_option("--type", a->opt.type, "dense weights: auto | f16 | bf16 | f32")
      ->capture_default_str();
  cmd->add_option("--embed-type", a->opt.embed_type,
                  "token embeddings / lm_head: auto | f16 | bf16 | f32 | q8_0")
      ->capture_default_str();
  cmd->callback([a] { run_export(*a); });
}

}  // namespace quanta::cli
