// quanta: compress, run and measure LLMs. Thin CLI: parses flags, calls libquanta, prints.
#include <cstdio>
#include <exception>

#include "commands.h"
#include "core/error.h"

int main(int argc, char** argv) {
  CLI::App app{"quanta: make LLMs smaller and faster, then run and measure them"};
  app.require_subcommand(1);
  quanta::cli::add_info(app);
  quanta::cli::add_generate(app);
  quanta::cli::add_ppl(app);
  quanta::cli::add_bench(app);
  quanta::cli::add_import_gguf(app);
  quanta::cli::add_tokenize(app);
  quanta::cli::add_compress(app);
  quanta::cli::add_export(app);
  quanta::cli::add_verify(app);
  quanta::cli::add_serve(app);
  quanta::cli::add_loadtest(app);
  quanta::cli::add_plan(app);
  quanta::cli::add_report(app);
  quanta::cli::add_hellaswag(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const quanta::Error& e) {
    std::fprintf(stderr, "quanta: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "quanta: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
