// Files: a read-only memory map of a whole file (RAII; tensor views into checkpoints point into
// it), and an atomic writer (PATH.tmp-<pid>, fsync, rename) so readers never see half a file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace quanta {

class MappedFile {
 public:
  // Maps `path` read-only. Throws quanta::Error naming the path if it cannot be opened, is not a
  // regular file, or cannot be mapped. An empty file maps to data() == nullptr, size() == 0.
  static std::unique_ptr<MappedFile> open(const std::string& path);

  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile(std::string path, const uint8_t* data, size_t size)
      : path_(std::move(path)), data_(data), size_(size) {}

  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Writes PATH.tmp-<pid>; commit() fsyncs it and renames it to PATH. Destroyed uncommitted, it
// removes the temp file. Errors throw quanta::Error naming PATH.
class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(std::string path);
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;
  ~AtomicFileWriter();

  void write(const void* data, size_t n);
  void write(std::string_view s) { write(s.data(), s.size()); }
  void commit();
  size_t bytes_written() const { return written_; }

 private:
  std::string path_;
  std::string tmp_path_;
  int fd_ = -1;
  size_t written_ = 0;
};

// Writes `contents` to `path` atomically.
void write_file_atomic(const std::string& path, std::string_view contents);

}  // namespace quanta
