#include "io/gguf_writer.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "io/mapped_file.h"

namespace quanta {
namespace {

template <typename T>
void put(std::vector<uint8_t>& out, T v) {
  const size_t at = out.size();
  out.resize(at + sizeof(T));
  std::memcpy(out.data() + at, &v, sizeof(T));
}

void put_string(std::vector<uint8_t>& out, const std::string& s) {
  put<uint64_t>(out, s.size());
  out.insert(out.end(), s.begin(), s.end());
}

void put_value(std::vector<uint8_t>& out, const GgufValue& v) {
  switch (v.type()) {
    case GgufValueType::kUint8:
      put<uint8_t>(out, uint8_t(std::get<uint64_t>(v.storage())));
      break;
    case GgufValueType::kInt8:
      put<int8_t>(out, int8_t(std::get<int64_t>(v.storage())));
      break;
    case GgufValueType::kUint16:
      put<uint16_t>(out, uint16_t(std::get<uint64_t>(v.storage())));
      break;
    case GgufValueType::kInt16:
      put<int16_t>(out, int16_t(std::get<int64_t>(v.storage())));
      break;
    case GgufValueType::kUint32:
      put<uint32_t>(out, uint32_t(std::get<uint64_t>(v.storage())));
      break;
    case GgufValueType::kInt32:
      put<int32_t>(out, int32_t(std::get<int64_t>(v.storage())));
      break;
    case GgufValueType::kUint64:
      put<uint64_t>(out, std::get<uint64_t>(v.storage()));
      break;
    case GgufValueType::kInt64:
      put<int64_t>(out, std::get<int64_t>(v.storage()));
      break;
    case GgufValueType::kFloat32:
      put<float>(out, float(std::get<double>(v.storage())));
      break;
    case GgufValueType::kFloat64:
      put<double>(out, std::get<double>(v.storage()));
      break;
    case GgufValueType::kBool:
      put<uint8_t>(out, std::get<bool>(v.storage()) ? 1 : 0);
      break;
    case GgufValueType::kString:
      put_string(out, std::get<std::string>(v.storage()));
      break;
    case GgufValueType::kArray: {
      const auto& a = std::get<GgufValue::Array>(v.storage());
      put<uint32_t>(out, uint32_t(v.array_type()));
      put<uint64_t>(out, a.size());
      for (const auto& e : a) {
        if (e.type() != v.array_type())
          fail("gguf writer: array of {} holds a {}", gguf_value_type_name(v.array_type()),
               gguf_value_type_name(e.type()));
        put_value(out, e);
      }
      break;
    }
  }
}

void pad_to(std::vector<uint8_t>& out, size_t alignment) {
  out.resize((out.size() + alignment - 1) / alignment * alignment, 0);
}

}  // namespace

void GgufWriter::set(const std::string& key, GgufValue value) {
  if (key == "general.alignment") {
    const int64_t a = value.as_int();
    if (a <= 0 || (a & (a - 1)) != 0) fail("gguf writer: alignment {} is not a power of two", a);
    alignment_ = size_t(a);
  }
  for (auto& [k, v] : metadata_) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  metadata_.emplace_back(key, std::move(value));
}

void GgufWriter::add_tensor(const std::string& name, GgmlType type, std::vector<int64_t> dims,
                            const void* data, size_t nbytes) {
  const auto* p = static_cast<const uint8_t*>(data);
  add_tensor(name, type, std::move(dims), std::vector<uint8_t>(p, p + nbytes));
}

void GgufWriter::add_tensor(const std::string& name, GgmlType type, std::vector<int64_t> dims,
                            std::vector<uint8_t>&& bytes) {
  const GgmlTypeInfo* info = ggml_type_info(uint32_t(type));
  if (info == nullptr) fail("gguf writer: tensor '{}': unknown type {}", name, uint32_t(type));
  int64_t numel = 1;
  for (int64_t d : dims) {
    if (d < 0) fail("gguf writer: tensor '{}': negative dim", name);
    numel *= d;
  }
  if (!dims.empty() && dims[0] % info->block_size != 0)
    fail("gguf writer: tensor '{}': dim 0 = {} is not a multiple of the {} block size {}", name,
         dims[0], info->name, info->block_size);
  const size_t expected = size_t(numel / info->block_size) * info->type_size;
  if (bytes.size() != expected)
    fail("gguf writer: tensor '{}': {} {} elements take {} bytes, got {}", name, numel, info->name,
         expected, bytes.size());
  tensors_.push_back({name, type, std::move(dims), std::move(bytes)});
}

std::vector<uint8_t> GgufWriter::header() const {
  std::vector<uint8_t> out;
  put<uint32_t>(out, 0x46554747);  // "GGUF"
  put<uint32_t>(out, 3);
  put<uint64_t>(out, tensors_.size());
  put<uint64_t>(out, metadata_.size());
  for (const auto& [key, value] : metadata_) {
    put_string(out, key);
    put<uint32_t>(out, uint32_t(value.type()));
    put_value(out, value);
  }
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    put_string(out, t.name);
    put<uint32_t>(out, uint32_t(t.dims.size()));
    for (int64_t d : t.dims) put<uint64_t>(out, uint64_t(d));
    put<uint32_t>(out, uint32_t(t.type));
    put<uint64_t>(out, offset);
    offset += (t.bytes.size() + alignment_ - 1) / alignment_ * alignment_;
  }
  pad_to(out, alignment_);
  return out;
}

void GgufWriter::for_each_data_chunk(const std::function<void(const uint8_t*, size_t)>& fn) const {
  static const uint8_t kZeros[256] = {};
  for (const auto& t : tensors_) {
    fn(t.bytes.data(), t.bytes.size());
    size_t pad = (alignment_ - t.bytes.size() % alignment_) % alignment_;
    while (pad > 0) {
      const size_t n = std::min(pad, sizeof(kZeros));
      fn(kZeros, n);
      pad -= n;
    }
  }
}

std::vector<uint8_t> GgufWriter::serialize() const {
  std::vector<uint8_t> out = header();
  for_each_data_chunk([&](const uint8_t* p, size_t n) { out.insert(out.end(), p, p + n); });
  return out;
}

void GgufWriter::write(const std::string& path) const {
  with_context("writing " + path, [&] {
    // Streamed: the tensors are not copied a second time into one big buffer.
    const std::vector<uint8_t> head = header();
    AtomicFileWriter w(path);
    w.write(head.data(), head.size());
    for_each_data_chunk([&](const uint8_t* p, size_t n) { w.write(p, n); });
    w.commit();
  });
}

}  // namespace quanta
