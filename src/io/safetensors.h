// safetensors: read-only mmap of single-file and sharded checkpoints, with full header validation,
// and an atomic writer (temp file, then rename).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace quanta {

class MappedFile;

// A tensor inside a mapped safetensors file. `data` stays valid while its TensorStore lives.
struct TensorInfo {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
  std::string file;  // path of the file that holds it (for messages)

  int64_t numel() const;
};

// All tensors of a model folder: `model.safetensors`, or the shards listed in
// `model.safetensors.index.json`; or one explicit .safetensors file.
class TensorStore {
 public:
  // Opens DIR (single file or sharded index) or a single .safetensors path. Throws quanta::Error
  // naming the file and the problem on any malformed header (JSON size bound, offsets outside the
  // data section, overlaps, shape x dtype size != byte length, unknown dtype).
  static TensorStore open(const std::string& path);

  TensorStore();
  TensorStore(TensorStore&&) noexcept;
  TensorStore& operator=(TensorStore&&) noexcept;
  ~TensorStore();

  bool contains(const std::string& name) const;
  // Throws "missing tensor NAME in PATH" if absent.
  const TensorInfo& get(const std::string& name) const;
  const std::map<std::string, TensorInfo>& tensors() const { return tensors_; }
  // __metadata__ of the (first) file.
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // Total bytes of tensor data.
  size_t total_bytes() const;

  // Adds (or replaces) a tensor whose bytes the store owns, e.g. a dequantized weight; `file`
  // of its TensorInfo is `origin` (for messages). Size must equal numel(shape) * dtype_size.
  void add_owned(std::string name, DType dtype, std::vector<int64_t> shape,
                 std::vector<uint8_t> bytes, const std::string& origin = "(in memory)");
  // Removes a tensor (no-op if absent); mapped bytes stay mapped until the store dies.
  void erase(const std::string& name);
  // Whether [p, p + n) lies in one of the mapped files (not in bytes the store owns).
  bool maps(const void* p, size_t n) const;

 private:
  std::string source_;  // the path given to open(), for messages
  std::vector<std::unique_ptr<MappedFile>> files_;
  std::map<std::string, TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
  // Note: std::map nodes (and the vectors' heap buffers) do not move when the store moves, so
  // TensorInfo::data stays valid.
  std::map<std::string, std::vector<uint8_t>> owned_;
};

// Collects tensors and writes one .safetensors file atomically (PATH.tmp-XXXX, fsync, rename).
class SafetensorsWriter {
 public:
  // Copies `nbytes` from data; nbytes must equal numel(shape) * dtype_size(dtype).
  void add(const std::string& name, DType dtype, std::vector<int64_t> shape, const void* data,
           size_t nbytes);
  // Takes ownership of `bytes` (no copy); same size check.
  void add(const std::string& name, DType dtype, std::vector<int64_t> shape,
           std::vector<uint8_t>&& bytes);
  void set_metadata(const std::string& key, const std::string& value);
  void write(const std::string& path) const;

 private:
  struct Entry {
    DType dtype;
    std::vector<int64_t> shape;
    std::vector<uint8_t> bytes;
  };
  std::map<std::string, Entry> entries_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace quanta
