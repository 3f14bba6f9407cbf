// SHA-256 (FIPS 180-4), incremental, for output manifests and GGUF data checksums.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace quanta {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t n);
  void update(std::string_view s) { update(s.data(), s.size()); }
  // The digest; the object must not be updated afterwards.
  std::array<uint8_t, 32> digest();
  // The digest as 64 lowercase hex characters.
  std::string hex_digest();

 private:
  void compress(const uint8_t* block);

  uint32_t h_[8];
  uint8_t buf_[64];
  size_t buf_len_ = 0;
  uint64_t total_ = 0;  // bytes
};

// Hex SHA-256 of a string.
std::string sha256_hex(std::string_view data);
// Hex SHA-256 of a whole file (read in chunks). Throws quanta::Error naming the path.
std::string sha256_file_hex(const std::string& path, uint64_t* size = nullptr);

}  // namespace quanta
