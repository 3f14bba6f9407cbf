// Subcommands of the quanta CLI. Each add_* registers one subcommand on the app; the callback
// parses nothing itself beyond CLI11 options and calls into libquanta.
#pragma once

#include <fmt/format.h>

#include <CLI/CLI.hpp>

#include "core/error.h"
#include "model/kv_cache.h"

namespace quanta::cli {

// --kv-type f32|f16|bf16 on the commands that run the model; default: the model's
// (LlamaModel::kDefaultKvType).
inline CLI::Option* add_kv_type_option(CLI::App* cmd, std::string& kv_type) {
  return cmd->add_option("--kv-type", kv_type, "KV cache storage: f32, f16 or bf16")
      ->capture_default_str()
      ->check(CLI::IsMember({"f32", "f16", "bf16"}));
}

void add_info(CLI::App& app);
void add_generate(CLI::App& app);
void add_ppl(CLI::App& app);
void add_bench(CLI::App& app);
void add_import_gguf(CLI::App& app);
void add_tokenize(CLI::App& app);
void add_compress(CLI::App& app);
void add_export(CLI::App& app);
void add_verify(CLI::App& app);
void add_serve(CLI::App& app);
void add_loadtest(CLI::App& app);
void add_plan(CLI::App& app);
void add_report(CLI::App& app);
void add_hellaswag(CLI::App& app);

}  // namespace quanta::cli
