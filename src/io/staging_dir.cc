#include "io/staging_dir.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <regex>

#include "core/error.h"
#include "io/manifest.h"

namespace quanta {

namespace fs = std::filesystem;

namespace {

// Removes OUT.tmp-<pid> folders left by processes that no longer run (killed mid-write).
void remove_stale_staging(const fs::path& out) {
  const fs::path parent = out.parent_path().empty() ? fs::path(".") : out.parent_path();
  const std::regex pattern(R"(\.tmp-([0-9]+))");
  const std::string prefix = out.filename().string();
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(parent, ec)) {
    const std::string name = e.path().filename().string();
    std::smatch m;
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string rest = name.substr(prefix.size());
    if (!std::regex_match(rest, m, pattern)) continue;
    const long pid = std::stol(m[1].str());
    if (pid <= 0 || pid == long(::getpid())) continue;
    if (::kill(pid_t(pid), 0) == 0 || errno != ESRCH) continue;  // alive (or not ours to judge)
    std::error_code rec;
    fs::remove_all(e.path(), rec);
  }
}

void fsync_dir(const fs::path& dir) {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

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
  remove_stale_staging(out_);
  if (!fs::create_directories(tmp_, ec))
    fail("{}: cannot create folder: {}", tmp_.string(), ec ? ec.message() : "already exists");
}

StagingDir::~StagingDir() {
  if (committed_) return;
  std::error_code ec;
  fs::remove_all(tmp_, ec);
}

void StagingDir::commit() {
  // The manifest goes in last, inside the staging folder: a folder named OUT with a manifest that
  // verifies was written completely.
  write_manifest(tmp_.string());
  fsync_dir(tmp_);
  std::error_code ec;
  fs::rename(tmp_, out_, ec);  // replaces `out` if it is an empty folder
  if (ec) fail("cannot rename {} to {}: {}", tmp_.string(), out_.string(), ec.message());
  fsync_dir(out_.parent_path());
  committed_ = true;
}

}  // namespace quanta
