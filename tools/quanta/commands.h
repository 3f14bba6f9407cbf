// Subcommands of the quanta CLI. Each add_* registers one subcommand on the app; the callback
// parses nothing itself beyond CLI11 options and calls into libquanta.
#pragma once

#include <fmt/format.h>

#include <CLI/CLI.hpp>

#include "core/error.h"

namespace quanta::cli {

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
