// Writes GGUF v3 files: metadata KVs and tensors (any ggml type, bytes given as stored).
// Used by tests to build small files, and later to export models for llama.cpp.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "io/gguf.h"

namespace quanta {

class GgufWriter {
 public:
  explicit GgufWriter(size_t alignment = 32) : alignment_(alignment) {}

  // Adds or replaces a metadata entry (kept in insertion order). Setting "general.alignment"
  // (an integer) also changes the alignment used by write().
  void set(const std::string& key, GgufValue value);
  // `dims` in ggml order (dims[0] innermost); `nbytes` must match dims and the type's block layout.
  void add_tensor(const std::string& name, GgmlType type, std::vector<int64_t> dims,
                  const void* data, size_t nbytes);
  // Same, taking ownership of the bytes (no copy).
  void add_tensor(const std::string& name, GgmlType type, std::vector<int64_t> dims,
                  std::vector<uint8_t>&& bytes);

  // The whole file as bytes (tests corrupt these to make bad inputs).
  std::vector<uint8_t> serialize() const;
  // The file up to the start of the tensor data (header, metadata, tensor infos, padding).
  std::vector<uint8_t> header() const;
  // The tensor data section in order, each tensor followed by its zero padding.
  void for_each_data_chunk(const std::function<void(const uint8_t*, size_t)>& fn) const;
  size_t n_tensors() const { return tensors_.size(); }
  // Writes atomically (PATH.tmp-<pid>, fsync, rename).
  void write(const std::string& path) const;

 private:
  struct Tensor {
    std::string name;
    GgmlType type;
    std::vector<int64_t> dims;
    std::vector<uint8_t> bytes;
  };
  size_t alignment_;
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::vector<Tensor> tensors_;
};

}  // namespace quanta
