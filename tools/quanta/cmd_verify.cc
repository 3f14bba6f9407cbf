// quanta verify: checks an output folder against its manifest.json, or a GGUF file against the
// checksum in its metadata.
#include <cstdio>

#include "commands.h"
#include "io/manifest.h"

namespace quanta::cli {

void add_verify(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand(
      "verify", "Check that an output folder (or GGUF file) is complete and unchanged");
  cmd->footer(
      "Folders: every file listed in manifest.json must exist with its size and SHA-256, and no\n"
      "other file may be present. GGUF files: the structure, and quanta.data_sha256 over the tensor\n"
      "data. Prints 'ok N files' and exits 0; otherwise names the problem and exits 1.");
  cmd->add_option("path", *path, "output folder or .gguf file")->required();
  cmd->callback([path] {
    const VerifyResult r = verify_output(*path);
    if (!r.ok) fail("{}", r.message);
    fmt::print("{}\n", r.message);
  });
}

}  // namespace quanta::cli
