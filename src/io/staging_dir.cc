#include "io/staging_dir.h"

#include <unistd.h>

#include "core/error.h"

namespace quanta {

namespace fs = std::filesystem;

StagingDir::StagingDir(const std::string& out_dir) {
  out_ = fs::path(out_dir).lexically_normal();
  if (out_.filename().empty()) out_ = out_.parent_path();  // "dir/" -> "dir"
  if (out_.empty()) fail("empty output folder name");
  std::error_code ec;
  if (fs::exists(out_, ec)) {
    if (!fs::is_directory(out_, ec)) fail("{}: exists and is not a folder", out_.string());
    if (!fs::is_empty(out_, ec))
      fail("{}: folder exists and is not empty; refusing to overwrite", out_.string());
  }
  tmp_ = out_.string() + ".tmp-" + std::to_string(::getpid());
  fs::remove_all(tmp_, ec);
  if (!out_.parent_path().empty()) fs::create_directories(out_.parent_path(), ec);
  if (!fs::create_directories(tmp_, ec))
    fail("{}: cannot create folder: {}", tmp_.string(), ec ? ec.message() : "already exists");
}

StagingDir::~StagingDir() {
  if (committed_) return;
  std::error_code ec;
  fs::remove_all(tmp_, ec);
}

void StagingDir::commit() {
  std::error_code ec;
  fs::rename(tmp_, out_, ec);  // replaces `out` if it is an empty folder
  if (ec) fail("cannot rename {} to {}: {}", tmp_.string(), out_.string(), ec.message());
  committed_ = true;
}

}  // namespace quanta
