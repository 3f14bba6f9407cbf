// GGUF (llama.cpp/ggml model files, versions 2 and 3): a validating reader over a read-only mmap,
// metadata values, tensor infos, and dequantization of the common formats to f32.
// Format: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace quanta {

class MappedFile;

enum class GgufValueType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};
std::string_view gguf_value_type_name(GgufValueType t);

// ggml tensor types (ggml.h `enum ggml_type`; the numbers are part of the file format).
enum class GgmlType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kIQ2_XXS = 16,
  kIQ2_XS = 17,
  kIQ3_XXS = 18,
  kIQ1_S = 19,
  kIQ4_NL = 20,
  kIQ3_S = 21,
  kIQ2_S = 22,
  kIQ4_XS = 23,
  kI8 = 24,
  kI16 = 25,
  kI32 = 26,
  kI64 = 27,
  kF64 = 28,
  kIQ1_M = 29,
  kBF16 = 30,
  kTQ1_0 = 34,
  kTQ2_0 = 35,
  kMXFP4 = 39,
};

// Layout of one ggml type: `block_size` elements take `type_size` bytes.
struct GgmlTypeInfo {
  std::string_view name;
  int64_t block_size;
  size_t type_size;
};
// nullptr if `type` is not a ggml type this build knows.
const GgmlTypeInfo* ggml_type_info(uint32_t type);
std::string_view ggml_type_name(GgmlType t);

// One metadata value. Integers keep their signedness (uint64_t / int64_t), FLOAT32 is held
// exactly as a double, arrays hold values of `array_type()` (possibly nested arrays).
class GgufValue {
 public:
  using Array = std::vector<GgufValue>;
  using Storage = std::variant<uint64_t, int64_t, double, bool, std::string, Array>;

  GgufValue() = default;
  GgufValue(GgufValueType type, Storage v, GgufValueType array_type = GgufValueType::kUint8)
      : type_(type), array_type_(array_type), v_(std::move(v)) {}

  static GgufValue u32(uint32_t v) { return {GgufValueType::kUint32, uint64_t(v)}; }
  static GgufValue u64(uint64_t v) { return {GgufValueType::kUint64, v}; }
  static GgufValue i32(int32_t v) { return {GgufValueType::kInt32, int64_t(v)}; }
  static GgufValue f32(float v) { return {GgufValueType::kFloat32, double(v)}; }
  static GgufValue boolean(bool v) { return {GgufValueType::kBool, v}; }
  static GgufValue string(std::string v) { return {GgufValueType::kString, std::move(v)}; }
  static GgufValue strings(const std::vector<std::string>& v);
  static GgufValue i32s(const std::vector<int32_t>& v);

  GgufValueType type() const { return type_; }
  GgufValueType array_type() const { return array_type_; }
  bool is_integer() const;
  bool is_float() const {
    return type_ == GgufValueType::kFloat32 || type_ == GgufValueType::kFloat64;
  }

  // Accessors throw quanta::Error ("expected an integer, got string") on a type mismatch.
  int64_t as_int() const;    // any integer type that fits in int64
  double as_double() const;  // float or integer
  bool as_bool() const;
  const std::string& as_string() const;
  const Array& as_array() const;
  std::vector<std::string> as_strings() const;  // array of strings
  std::vector<int64_t> as_ints() const;         // array of integers
  // Short description for messages and `quanta info`: "u32 30", "string 'llama'", "[string x 3]".
  std::string describe() const;

  const Storage& storage() const { return v_; }

 private:
  GgufValueType type_ = GgufValueType::kUint8;
  GgufValueType array_type_ = GgufValueType::kUint8;
  Storage v_ = uint64_t(0);
};

// A tensor inside a mapped GGUF file. `data` stays valid while its GgufFile lives.
struct GgufTensor {
  std::string name;
  std::vector<int64_t> dims;  // ggml order: dims[0] = ne[0] is the innermost (contiguous) dim
  GgmlType type = GgmlType::kF32;
  uint64_t offset = 0;  // from the start of the data section
  const uint8_t* data = nullptr;
  size_t nbytes = 0;

  int64_t numel() const;
  // Row-major shape, outermost first (dims reversed): a linear [out, in] like Hugging Face.
  std::vector<int64_t> shape() const;
};

class GgufFile {
 public:
  // Maps and validates `path`: magic, version 2 or 3, counts bounded by the file size, strings and
  // arrays inside the file, known tensor types, dims divisible by the block size, tensor data
  // aligned and inside the file without overlaps. Throws quanta::Error naming the file and field.
  static std::unique_ptr<GgufFile> open(const std::string& path);
  ~GgufFile();

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  size_t alignment() const { return alignment_; }
  size_t data_offset() const { return data_offset_; }
  size_t file_size() const;

  // Metadata in file order.
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return metadata_; }
  const GgufValue* find(const std::string& key) const;
  // Typed getters; throw "FILE: metadata 'key': ..." when missing or of the wrong type.
  const GgufValue& get(const std::string& key) const;
  int64_t get_int(const std::string& key) const;
  int64_t get_int(const std::string& key, int64_t fallback) const;
  double get_double(const std::string& key) const;
  double get_double(const std::string& key, double fallback) const;
  bool get_bool(const std::string& key, bool fallback) const;
  std::string get_string(const std::string& key) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;
  std::vector<std::string> get_strings(const std::string& key) const;
  std::vector<int64_t> get_ints(const std::string& key) const;

  // Tensors in file order.
  const std::vector<GgufTensor>& tensors() const { return tensors_; }
  const GgufTensor* find_tensor(const std::string& name) const;
  // Throws "FILE: missing tensor NAME".
  const GgufTensor& tensor(const std::string& name) const;

 private:
  GgufFile() = default;
  void parse();

  std::string path_;
  std::unique_ptr<MappedFile> file_;
  uint32_t version_ = 0;
  size_t alignment_ = 32;
  size_t data_offset_ = 0;
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::map<std::string, size_t> metadata_index_;
  std::vector<GgufTensor> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

// True for the types dequantize_row handles: F32, F16, BF16, Q8_0, Q4_0, Q4_1.
bool can_dequantize(GgmlType type);
// Dequantizes `n` elements (a multiple of the type's block size) from `src` into `dst`, in f32
// exactly as ggml's dequantize_row_* (float(d) * q, float(d) * q + float(m)).
void dequantize_row(GgmlType type, const void* src, float* dst, int64_t n);
// Dequantizes a whole tensor (dims as stored). Throws naming the tensor for unsupported types.
std::vector<float> dequantize(const GgufTensor& t);

}  // namespace quanta
