// quanta info: what a model folder holds and what it costs in memory.
#include <filesystem>
#include <map>

#include "commands.h"
#include "kernels/isa.h"
#include "model/llama.h"

namespace quanta::cli {
namespace {

struct InfoArgs {
  std::string model;
  std::string kv_type = "f16";
  int64_t ctx = 2048;
};

uint64_t dir_bytes(const std::string& dir) {
  uint64_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.is_regular_file()) n += e.file_size();
  return n;
}

void run_info(const InfoArgs& a) {
  LlamaModel m = LlamaModel::load(a.model);
  const ModelConfig& c = m.config();
  std::map<std::string, int64_t> by_dtype;
  for (const auto& [name, t] : m.store().tensors()) by_dtype[std::string(dtype_name(t.dtype))] += t.numel();
  m.set_kv_type(parse_kv_type(a.kv_type));
  const double kv = m.kv_bytes_per_token() * double(a.ctx);
  fmt::print("model          {}\n", a.model);
  fmt::print("architecture   {} ({})\n", c.architecture, c.model_type);
  fmt::print("layers         {}  hidden {}  ffn {}  heads {} / kv {}  head_dim {}\n", c.n_layers,
             c.hidden_size, c.intermediate_size, c.n_heads, c.n_heads_kv, c.head_dim);
  fmt::print("vocab          {}  tied embeddings: {}  rope_theta {}\n", c.vocab_size,
             c.tie_word_embeddings ? "yes" : "no", c.rope_theta);
  fmt::print("parameters     {} ({:.1f} M)\n", m.n_params(), double(m.n_params()) / 1e6);
  for (const auto& [dt, n] : by_dtype) fmt::print("dtype          {}: {} parameters\n", dt, n);
  fmt::print("size on disk   {:.1f} MiB\n", double(dir_bytes(a.model)) / 1048576.0);
  fmt::print("weights memory {:.1f} MiB (mmap'd as stored)\n", double(m.weight_bytes()) / 1048576.0);
  fmt::print("KV cache       {:.1f} MiB at context {} ({})\n", kv / 1048576.0, a.ctx, a.kv_type);
  fmt::print("kernels        {} (detected {})\n", kernels::isa_name(kernels::active_isa()),
             kernels::isa_name(kernels::detected_isa()));
}

}  // namespace

void add_info(CLI::App& app) {
  auto args = std::make_shared<InfoArgs>();
  auto* cmd = app.add_subcommand("info", "Architecture, parameters, dtypes, size on disk and memory");
  cmd->add_option("--model", args->model, "Hugging Face model folder")->required();
  cmd->add_option("--ctx", args->ctx, "context length for the KV-cache estimate")->capture_default_str();
  add_kv_type_option(cmd, args->kv_type);
  cmd->callback([args] { run_info(*args); });
}

}  // namespace quanta::cli
