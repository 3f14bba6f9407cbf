#include "io/gguf.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "io/mapped_file.h"

namespace quanta {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" little-endian
constexpr uint32_t kMaxDims = 4;         // GGML_MAX_DIMS
constexpr int kMaxArrayDepth = 4;

struct TypeEntry {
  uint32_t id;
  GgmlTypeInfo info;
};

// From ggml's type_traits / gguf-py GGML_QUANT_SIZES.
constexpr TypeEntry kTypes[] = {
    {0, {"F32", 1, 4}},         {1, {"F16", 1, 2}},         {2, {"Q4_0", 32, 18}},
    {3, {"Q4_1", 32, 20}},      {6, {"Q5_0", 32, 22}},      {7, {"Q5_1", 32, 24}},
    {8, {"Q8_0", 32, 34}},      {9, {"Q8_1", 32, 36}},      {10, {"Q2_K", 256, 84}},
    {11, {"Q3_K", 256, 110}},   {12, {"Q4_K", 256, 144}},   {13, {"Q5_K", 256, 176}},
    {14, {"Q6_K", 256, 210}},   {15, {"Q8_K", 256, 292}},   {16, {"IQ2_XXS", 256, 66}},
    {17, {"IQ2_XS", 256, 74}},  {18, {"IQ3_XXS", 256, 98}}, {19, {"IQ1_S", 256, 50}},
    {20, {"IQ4_NL", 32, 18}},   {21, {"IQ3_S", 256, 110}},  {22, {"IQ2_S", 256, 82}},
    {23, {"IQ4_XS", 256, 136}}, {24, {"I8", 1, 1}},         {25, {"I16", 1, 2}},
    {26, {"I32", 1, 4}},        {27, {"I64", 1, 8}},        {28, {"F64", 1, 8}},
    {29, {"IQ1_M", 256, 56}},   {30, {"BF16", 1, 2}},       {34, {"TQ1_0", 256, 54}},
    {35, {"TQ2_0", 256, 66}},   {39, {"MXFP4", 32, 17}},
};

constexpr std::string_view kValueTypeNames[] = {
    "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"};

// Bounds-checked little-endian reads over the mapped file; errors give the byte offset.
class Cursor {
 public:
  Cursor(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  size_t pos() const { return pos_; }
  size_t remaining() const { return size_ - pos_; }

  void need(size_t n, std::string_view what) const {
    if (n > remaining())
      fail("truncated: {} needs {} bytes at offset {}, file has {}", what, n, pos_, size_);
  }
  template <typename T>
  T read(std::string_view what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string read_string(std::string_view what) {
    const uint64_t n = read<uint64_t>(what);
    need(n, what);
    std::string s(reinterpret_cast<const char*>(data_ + pos_), size_t(n));
    pos_ += size_t(n);
    return s;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// Smallest encoded size of one value of `t` (to bound array counts by the bytes left).
size_t min_value_bytes(GgufValueType t) {
  switch (t) {
    case GgufValueType::kUint8:
    case GgufValueType::kInt8:
    case GgufValueType::kBool:
      return 1;
    case GgufValueType::kUint16:
    case GgufValueType::kInt16:
      return 2;
    case GgufValueType::kUint32:
    case GgufValueType::kInt32:
    case GgufValueType::kFloat32:
      return 4;
    case GgufValueType::kString:
    case GgufValueType::kUint64:
    case GgufValueType::kInt64:
    case GgufValueType::kFloat64:
      return 8;
    case GgufValueType::kArray:
      return 12;
  }
  return 1;
}

GgufValueType read_value_type(Cursor& c, std::string_view what) {
  const uint32_t t = c.read<uint32_t>(what);
  if (t > uint32_t(GgufValueType::kFloat64)) fail("{}: unknown value type {}", what, t);
  return GgufValueType(t);
}

GgufValue read_value(Cursor& c, GgufValueType t, int depth) {
  switch (t) {
    case GgufValueType::kUint8:
      return {t, uint64_t(c.read<uint8_t>("u8"))};
    case GgufValueType::kInt8:
      return {t, int64_t(c.read<int8_t>("i8"))};
    case GgufValueType::kUint16:
      return {t, uint64_t(c.read<uint16_t>("u16"))};
    case GgufValueType::kInt16:
      return {t, int64_t(c.read<int16_t>("i16"))};
    case GgufValueType::kUint32:
      return {t, uint64_t(c.read<uint32_t>("u32"))};
    case GgufValueType::kInt32:
      return {t, int64_t(c.read<int32_t>("i32"))};
    case GgufValueType::kUint64:
      return {t, c.read<uint64_t>("u64")};
    case GgufValueType::kInt64:
      return {t, c.read<int64_t>("i64")};
    case GgufValueType::kFloat32:
      return {t, double(c.read<float>("f32"))};
    case GgufValueType::kFloat64:
      return {t, c.read<double>("f64")};
    case GgufValueType::kBool: {
      const uint8_t b = c.read<uint8_t>("bool");
      if (b > 1) fail("bool value {} at offset {} is not 0 or 1", b, c.pos() - 1);
      return {t, b == 1};
    }
    case GgufValueType::kString:
      return {t, c.read_string("string")};
    case GgufValueType::kArray: {
      if (depth >= kMaxArrayDepth) fail("arrays nested deeper than {}", kMaxArrayDepth);
      const GgufValueType et = read_value_type(c, "array element type");
      const uint64_t n = c.read<uint64_t>("array length");
      if (n > c.remaining() / min_value_bytes(et))
        fail("array of {} {} values at offset {} cannot fit in the {} bytes left", n,
             gguf_value_type_name(et), c.pos(), c.remaining());
      GgufValue::Array a;
      a.reserve(size_t(n));
      for (uint64_t i = 0; i < n; ++i) a.push_back(read_value(c, et, depth + 1));
      return {t, std::move(a), et};
    }
  }
  fail("unknown value type {}", uint32_t(t));
}

}  // namespace

std::string_view gguf_value_type_name(GgufValueType t) {
  const auto i = size_t(t);
  return i < std::size(kValueTypeNames) ? kValueTypeNames[i] : "unknown";
}

const GgmlTypeInfo* ggml_type_info(uint32_t type) {
  for (const auto& e : kTypes)
    if (e.id == type) return &e.info;
  return nullptr;
}

std::string_view ggml_type_name(GgmlType t) {
  const GgmlTypeInfo* info = ggml_type_info(uint32_t(t));
  return info ? info->name : "unknown";
}

// --- GgufValue --------------------------------------------------------------------------------

GgufValue GgufValue::strings(const std::vector<std::string>& v) {
  Array a;
  a.reserve(v.size());
  for (const auto& s : v) a.push_back(string(s));
  return {GgufValueType::kArray, std::move(a), GgufValueType::kString};
}

GgufValue GgufValue::i32s(const std::vector<int32_t>& v) {
  Array a;
  a.reserve(v.size());
  for (int32_t x : v) a.push_back(i32(x));
  return {GgufValueType::kArray, std::move(a), GgufValueType::kInt32};
}

bool GgufValue::is_integer() const {
  return std::holds_alternative<uint64_t>(v_) || std::holds_alternative<int64_t>(v_);
}

int64_t GgufValue::as_int() const {
  if (const auto* u = std::get_if<uint64_t>(&v_)) {
    if (*u > uint64_t(std::numeric_limits<int64_t>::max())) fail("integer {} is too large", *u);
    return int64_t(*u);
  }
  if (const auto* i = std::get_if<int64_t>(&v_)) return *i;
  fail("expected an integer, got {}", describe());
}

double GgufValue::as_double() const {
  if (const auto* d = std::get_if<double>(&v_)) return *d;
  if (const auto* u = std::get_if<uint64_t>(&v_)) return double(*u);
  if (const auto* i = std::get_if<int64_t>(&v_)) return double(*i);
  fail("expected a number, got {}", describe());
}

bool GgufValue::as_bool() const {
  if (const auto* b = std::get_if<bool>(&v_)) return *b;
  fail("expected a bool, got {}", describe());
}

const std::string& GgufValue::as_string() const {
  if (const auto* s = std::get_if<std::string>(&v_)) return *s;
  fail("expected a string, got {}", describe());
}

const GgufValue::Array& GgufValue::as_array() const {
  if (const auto* a = std::get_if<Array>(&v_)) return *a;
  fail("expected an array, got {}", describe());
}

std::vector<std::string> GgufValue::as_strings() const {
  const Array& a = as_array();
  if (array_type_ != GgufValueType::kString)
    fail("expected an array of strings, got {}", describe());
  std::vector<std::string> out;
  out.reserve(a.size());
  for (const auto& v : a) out.push_back(v.as_string());
  return out;
}

std::vector<int64_t> GgufValue::as_ints() const {
  const Array& a = as_array();
  std::vector<int64_t> out;
  out.reserve(a.size());
  for (const auto& v : a) {
    if (!v.is_integer()) fail("expected an array of integers, got {}", describe());
    out.push_back(v.as_int());
  }
  return out;
}

std::string GgufValue::describe() const {
  const std::string_view tn = gguf_value_type_name(type_);
  if (const auto* a = std::get_if<Array>(&v_))
    return fmt::format("[{} x {}]", gguf_value_type_name(array_type_), a->size());
  if (const auto* s = std::get_if<std::string>(&v_)) {
    if (s->size() > 60)
      return fmt::format("{} '{}...' ({} bytes)", tn, s->substr(0, 60), s->size());
    return fmt::format("{} '{}'", tn, *s);
  }
  if (const auto* u = std::get_if<uint64_t>(&v_)) return fmt::format("{} {}", tn, *u);
  if (const auto* i = std::get_if<int64_t>(&v_)) return fmt::format("{} {}", tn, *i);
  if (const auto* b = std::get_if<bool>(&v_)) return fmt::format("{} {}", tn, *b);
  const double d = std::get<double>(v_);
  if (type_ == GgufValueType::kFloat32) return fmt::format("{} {}", tn, float(d));
  return fmt::format("{} {}", tn, d);
}

// --- GgufTensor -------------------------------------------------------------------------------

int64_t GgufTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

std::vector<int64_t> GgufTensor::shape() const { return {dims.rbegin(), dims.rend()}; }

// --- GgufFile ---------------------------------------------------------------------------------

GgufFile::~GgufFile() = default;

std::unique_ptr<GgufFile> GgufFile::open(const std::string& path) {
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->path_ = path;
  f->file_ = MappedFile::open(path);
  with_context(path, [&] { f->parse(); });
  return f;
}

size_t GgufFile::file_size() const { return file_->size(); }

void GgufFile::parse() {
  Cursor c(file_->data(), file_->size());
  const uint32_t magic = c.read<uint32_t>("magic");
  if (magic != kMagic) {
    char m[4];
    std::memcpy(m, &magic, 4);
    std::string shown;
    for (char ch : m) shown += (ch >= 32 && ch < 127) ? ch : '?';
    fail("bad magic '{}' (0x{:08x}), expected 'GGUF': not a GGUF file", shown, magic);
  }
  version_ = c.read<uint32_t>("version");
  if (version_ == 0x02000000u || version_ == 0x03000000u)
    fail("big-endian GGUF files are not supported");
  if (version_ != 2 && version_ != 3)
    fail("GGUF version {} is not supported (expected 2 or 3)", version_);
  const uint64_t n_tensors = c.read<uint64_t>("tensor count");
  const uint64_t n_kv = c.read<uint64_t>("metadata count");
  // Every KV takes >= 13 bytes (key length, type, 1-byte value), every tensor info >= 24.
  if (n_kv > c.remaining() / 13)
    fail("metadata count {} cannot fit in a {} byte file", n_kv, file_->size());
  if (n_tensors > c.remaining() / 24)
    fail("tensor count {} cannot fit in a {} byte file", n_tensors, file_->size());

  metadata_.reserve(size_t(n_kv));
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = c.read_string(fmt::format("key of metadata entry {}", i));
    with_context(fmt::format("metadata '{}'", key), [&] {
      const GgufValueType t = read_value_type(c, "value type");
      GgufValue v = read_value(c, t, 0);
      if (!metadata_index_.emplace(key, metadata_.size()).second) fail("duplicate key");
      metadata_.emplace_back(key, std::move(v));
    });
  }

  if (const GgufValue* a = find("general.alignment")) {
    const int64_t al = with_context("metadata 'general.alignment'", [&] { return a->as_int(); });
    if (al <= 0 || (al & (al - 1)) != 0 || al > (1 << 20))
      fail("metadata 'general.alignment' = {} must be a power of two", al);
    alignment_ = size_t(al);
  }

  tensors_.reserve(size_t(n_tensors));
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensor t;
    t.name = c.read_string(fmt::format("name of tensor {}", i));
    with_context(fmt::format("tensor '{}'", t.name), [&] {
      const uint32_t n_dims = c.read<uint32_t>("n_dims");
      if (n_dims > kMaxDims) fail("{} dims, at most {} supported", n_dims, kMaxDims);
      int64_t numel = 1;
      for (uint32_t d = 0; d < n_dims; ++d) {
        const uint64_t ne = c.read<uint64_t>("dim");
        if (ne > uint64_t(std::numeric_limits<int64_t>::max()) ||
            (ne != 0 && uint64_t(numel) > uint64_t(std::numeric_limits<int64_t>::max()) / ne))
          fail("dim {} = {} is too large", d, ne);
        t.dims.push_back(int64_t(ne));
        numel *= int64_t(ne);
      }
      const uint32_t type = c.read<uint32_t>("type");
      const GgmlTypeInfo* info = ggml_type_info(type);
      if (info == nullptr) fail("unknown ggml tensor type {}", type);
      t.type = GgmlType(type);
      t.offset = c.read<uint64_t>("offset");
      const int64_t ne0 = t.dims.empty() ? 1 : t.dims[0];
      if (ne0 % info->block_size != 0)
        fail("dim 0 = {} is not a multiple of the {} block size {}", ne0, info->name,
             info->block_size);
      if (uint64_t(numel / info->block_size) > file_->size() / info->type_size)
        fail("{} {} elements cannot fit in a {} byte file", numel, info->name, file_->size());
      t.nbytes = size_t(numel / info->block_size) * info->type_size;
      if (!tensor_index_.emplace(t.name, tensors_.size()).second) fail("duplicate tensor name");
    });
    tensors_.push_back(std::move(t));
  }

  // Tensor data starts at the next multiple of the alignment.
  data_offset_ = (c.pos() + alignment_ - 1) / alignment_ * alignment_;
  if (data_offset_ > file_->size() && !tensors_.empty())
    fail("truncated: tensor data would start at offset {} past the end of the file ({} bytes)",
         data_offset_, file_->size());
  const uint64_t data_size = file_->size() > data_offset_ ? file_->size() - data_offset_ : 0;
  std::vector<const GgufTensor*> by_offset;
  for (auto& t : tensors_) {
    if (t.offset % alignment_ != 0)
      fail("tensor '{}': offset {} is not a multiple of the alignment {}", t.name, t.offset,
           alignment_);
    if (t.offset > data_size || t.nbytes > data_size - t.offset)
      fail("tensor '{}': data [{}, {}) lies outside the file's {} byte data section", t.name,
           t.offset, t.offset + t.nbytes, data_size);
    t.data = file_->data() + data_offset_ + t.offset;
    by_offset.push_back(&t);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](auto* a, auto* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const GgufTensor& a = *by_offset[i - 1];
    const GgufTensor& b = *by_offset[i];
    if (b.offset < a.offset + a.nbytes && b.nbytes > 0 && a.nbytes > 0)
      fail("tensors '{}' and '{}' overlap (offsets {} + {} bytes, {})", a.name, b.name, a.offset,
           a.nbytes, b.offset);
  }
}

const GgufValue* GgufFile::find(const std::string& key) const {
  auto it = metadata_index_.find(key);
  return it == metadata_index_.end() ? nullptr : &metadata_[it->second].second;
}

const GgufValue& GgufFile::get(const std::string& key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) fail("{}: missing metadata '{}'", path_, key);
  return *v;
}

namespace {

// get(key), then fn(value) with a type mismatch reported as "FILE: metadata 'KEY': ...".
template <typename Fn>
auto typed_get(const GgufFile& f, const std::string& key, Fn fn) {
  const GgufValue& v = f.get(key);
  return with_context(fmt::format("{}: metadata '{}'", f.path(), key), [&] { return fn(v); });
}

}  // namespace

int64_t GgufFile::get_int(const std::string& key) const {
  return typed_get(*this, key, [](const GgufValue& v) { return v.as_int(); });
}
int64_t GgufFile::get_int(const std::string& key, int64_t fallback) const {
  return find(key) ? get_int(key) : fallback;
}
double GgufFile::get_double(const std::string& key) const {
  return typed_get(*this, key, [](const GgufValue& v) { return v.as_double(); });
}
double GgufFile::get_double(const std::string& key, double fallback) const {
  return find(key) ? get_double(key) : fallback;
}
bool GgufFile::get_bool(const std::string& key, bool fallback) const {
  if (!find(key)) return fallback;
  return typed_get(*this, key, [](const GgufValue& v) { return v.as_bool(); });
}
std::string GgufFile::get_string(const std::string& key) const {
  return typed_get(*this, key, [](const GgufValue& v) { return v.as_string(); });
}
std::string GgufFile::get_string(const std::string& key, const std::string& fallback) const {
  return find(key) ? get_string(key) : fallback;
}
std::vector<std::string> GgufFile::get_strings(const std::string& key) const {
  return typed_get(*this, key, [](const GgufValue& v) { return v.as_strings(); });
}
std::vector<int64_t> GgufFile::get_ints(const std::string& key) const {
  return typed_get(*this, key, [](const GgufValue& v) { return v.as_ints(); });
}

const GgufTensor* GgufFile::find_tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const GgufTensor& GgufFile::tensor(const std::string& name) const {
  const GgufTensor* t = find_tensor(name);
  if (t == nullptr) fail("{}: missing tensor '{}'", path_, name);
  return *t;
}

}  // namespace quanta
