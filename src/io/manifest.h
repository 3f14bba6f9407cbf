// Output manifests: DIR/manifest.json lists every file of a finished output folder with its size and
// SHA-256. It is written inside the staging folder just before the rename (StagingDir::commit), so
// a folder that verifies is one that was completely written. Single GGUF files carry the SHA-256
// of their tensor data section in their own metadata (quanta.data_sha256) instead.
#pragma once

#include <cstdint>
#include <string>

namespace quanta {

inline constexpr const char* kManifestFile = "manifest.json";
inline constexpr const char* kGgufDataSha256Key = "quanta.data_sha256";

// Writes DIR/manifest.json over every regular file under DIR (relative paths, sorted), except
// manifest.json itself. Atomic (temp file + rename).
void write_manifest(const std::string& dir);

struct VerifyResult {
  bool ok = false;
  int64_t n_files = 0;
  std::string message;  // "ok N files", or what is missing / changed
};

// Checks a folder against its manifest.json (missing, changed or unlisted files; a staging folder
// OUT.tmp-<pid>), or a GGUF file's structure and quanta.data_sha256.
VerifyResult verify_output(const std::string& path);

}  // namespace quanta
