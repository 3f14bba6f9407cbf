// quanta import-gguf: a llama GGUF (llama.cpp) -> a Hugging Face folder with F32 safetensors.
#include <chrono>

#include "commands.h"
#include "io/gguf_import.h"

namespace quanta::cli {
namespace {

struct ImportGgufArgs {
  std::string gguf, out;
};

void run_import_gguf(const ImportGgufArgs& a) {
  const auto t0 = std::chrono::steady_clock::now();
  const GgufImportSummary s = import_gguf(a.gguf, a.out);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  fmt::print("imported     {}\n", a.gguf);
  fmt::print("into         {}\n", s.out_dir);
  fmt::print("tensors      {}\n", s.n_tensors);
  fmt::print("parameters   {} ({:.1f} M)\n", s.n_params, double(s.n_params) / 1e6);
  fmt::print("written      {} bytes ({:.1f} MB)\n", s.bytes_written, double(s.bytes_written) / 1e6);
  fmt::print("time         {:.2f} s\n", secs);
}

}  // namespace

void add_import_gguf(CLI::App& app) {
  auto a = std::make_shared<ImportGgufArgs>();
  auto* cmd = app.add_subcommand(
      "import-gguf", "Convert a llama GGUF (llama.cpp) into a Hugging Face model folder");
  cmd->footer(
      "Writes model.safetensors (F32, Hugging Face names and shapes, llama.cpp's Q/K row\n"
      "permutation undone), config.json, generation_config.json, tokenizer.json and\n"
      "tokenizer_config.json into OUT.tmp-<pid>/, then renames it to OUT.");
  cmd->add_option("--gguf", a->gguf, "GGUF file (F32/F16/BF16/Q8_0/Q4_0/Q4_1 tensors)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--out", a->out, "output folder; must not exist or be empty")->required();
  cmd->callback([a] { run_import_gguf(*a); });
}

}  // namespace quanta::cli
