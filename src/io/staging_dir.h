// Crash-safe output folders: files are written into OUT.tmp-<pid>/; commit() adds manifest.json
// (size and SHA-256 of every file) last and renames the folder to OUT. If the writer throws (or the
// process dies), no folder named OUT appears.
#pragma once

#include <filesystem>
#include <string>

namespace quanta {

class StagingDir {
 public:
  // Checks OUT (an existing OUT must be an empty folder), removes OUT.tmp-<pid> folders of processes
  // that no longer run, and creates the staging folder. Throws quanta::Error naming the folder
  // otherwise.
  explicit StagingDir(const std::string& out_dir);
  ~StagingDir();  // removes the staging folder unless committed
  StagingDir(const StagingDir&) = delete;
  StagingDir& operator=(const StagingDir&) = delete;

  const std::filesystem::path& path() const { return tmp_; }
  const std::filesystem::path& out() const { return out_; }
  // Writes manifest.json into the staging folder, then renames it to OUT (replacing an empty OUT).
  void commit();

 private:
  std::filesystem::path out_, tmp_;
  bool committed_ = false;
};

}  // namespace quanta
