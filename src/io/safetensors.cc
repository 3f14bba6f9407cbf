#include "io/safetensors.h"

#include <algorithm>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "io/mapped_file.h"

namespace quanta {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// Same bound as the Python/Rust library (MAX_HEADER_SIZE).
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

// numel of `shape`; false on a negative dim or overflow past int64.
bool checked_numel(const std::vector<int64_t>& shape, int64_t* out) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) return false;
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / d) return false;
    n *= d;
  }
  *out = n;
  return true;
}

uint64_t read_u64_le(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

std::vector<int64_t> parse_shape(const json& j, const std::string& name) {
  if (!j.is_array()) fail("tensor '{}': shape must be an array, got {}", name, j.dump());
  std::vector<int64_t> shape;
  for (const auto& d : j) {
    if (!d.is_number_integer() || d.get<int64_t>() < 0)
      fail("tensor '{}': shape {} must hold non-negative integers", name, j.dump());
    shape.push_back(d.get<int64_t>());
  }
  return shape;
}

struct Span {
  uint64_t begin, end;
  const std::string* name;
};

// Parses and validates one file's header; adds its tensors to `out` (duplicates are an error).
void parse_file(const MappedFile& f, std::map<std::string, TensorInfo>* out,
                std::map<std::string, std::string>* metadata) {
  const std::string& path = f.path();
  with_context(path, [&] {
    if (f.size() < 8)
      fail("file is {} bytes, too short for the 8-byte safetensors header length", f.size());
    const uint64_t n = read_u64_le(f.data());
    if (n > kMaxHeaderBytes) fail("header length {} exceeds the {} byte limit", n, kMaxHeaderBytes);
    if (n > f.size() - 8)
      fail("header length {} runs past the end of the file ({} bytes)", n, f.size());
    const char* hb = reinterpret_cast<const char*>(f.data() + 8);
    json header;
    try {
      header = json::parse(hb, hb + n);
    } catch (const json::exception& e) {
      fail("header is not valid JSON: {}", e.what());
    }
    if (!header.is_object()) fail("header must be a JSON object, got {}", header.type_name());
    const uint8_t* data = f.data() + 8 + n;
    const uint64_t data_size = f.size() - 8 - n;
    std::vector<Span> spans;
    for (auto it = header.begin(); it != header.end(); ++it) {
      const std::string& name = it.key();
      const json& e = it.value();
      if (name == "__metadata__") {
        if (!e.is_object()) fail("__metadata__ must be an object of strings");
        for (auto m = e.begin(); m != e.end(); ++m) {
          if (!m.value().is_string())
            fail("__metadata__ field '{}' must be a string, got {}", m.key(), m.value().dump());
          if (metadata != nullptr) (*metadata)[m.key()] = m.value().get<std::string>();
        }
        continue;
      }
      if (!e.is_object()) fail("tensor '{}': entry must be an object", name);
      if (!e.contains("dtype") || !e["dtype"].is_string())
        fail("tensor '{}': missing string field 'dtype'", name);
      TensorInfo t;
      t.name = name;
      t.file = path;
      const std::string dt = e["dtype"].get<std::string>();
      if (!parse_dtype(dt, &t.dtype)) fail("tensor '{}': unknown dtype '{}'", name, dt);
      if (!e.contains("shape")) fail("tensor '{}': missing field 'shape'", name);
      t.shape = parse_shape(e["shape"], name);
      const json* off = e.contains("data_offsets") ? &e["data_offsets"] : nullptr;
      if (off == nullptr || !off->is_array() || off->size() != 2 ||
          !(*off)[0].is_number_unsigned() || !(*off)[1].is_number_unsigned())
        fail("tensor '{}': data_offsets must be [begin, end] with non-negative integers", name);
      const uint64_t begin = (*off)[0].get<uint64_t>();
      const uint64_t end = (*off)[1].get<uint64_t>();
      if (begin > end) fail("tensor '{}': data_offsets [{}, {}] has begin > end", name, begin, end);
      if (end > data_size)
        fail("tensor '{}': data_offsets [{}, {}] outside the data section of {} bytes", name, begin,
             end, data_size);
      int64_t numel = 0;
      if (!checked_numel(t.shape, &numel) ||
          uint64_t(numel) > std::numeric_limits<uint64_t>::max() / dtype_size(t.dtype) ||
          uint64_t(numel) * dtype_size(t.dtype) != end - begin)
        fail("tensor '{}': shape {} x {} ({} bytes each) does not match its {} bytes", name,
             e["shape"].dump(), dt, dtype_size(t.dtype), end - begin);
      t.data = data + begin;
      t.nbytes = size_t(end - begin);
      auto [pos, inserted] = out->emplace(name, std::move(t));
      if (!inserted) fail("tensor '{}' also appears in {}", name, pos->second.file);
      spans.push_back({begin, end, &pos->first});
    }
    std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
      return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    for (size_t i = 1; i < spans.size(); ++i) {
      const Span& a = spans[i - 1];
      const Span& b = spans[i];
      if (b.begin < a.end)
        fail("tensors '{}' [{}, {}] and '{}' [{}, {}] overlap", *a.name, a.begin, a.end, *b.name,
             b.begin, b.end);
    }
  });
}

}  // namespace

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

TensorStore::TensorStore() = default;
TensorStore::TensorStore(TensorStore&&) noexcept = default;
TensorStore& TensorStore::operator=(TensorStore&&) noexcept = default;
TensorStore::~TensorStore() = default;

TensorStore TensorStore::open(const std::string& path) {
  TensorStore s;
  s.source_ = path;
  std::error_code ec;
  std::string index_path;
  std::string single_path = path;
  if (fs::is_directory(path, ec)) {
    const fs::path dir(path);
    if (fs::exists(dir / "model.safetensors", ec)) {
      single_path = (dir / "model.safetensors").string();
    } else if (fs::exists(dir / "model.safetensors.index.json", ec)) {
      index_path = (dir / "model.safetensors.index.json").string();
    } else {
      fail("{}: directory has neither model.safetensors nor model.safetensors.index.json", path);
    }
  } else if (path.size() >= 11 && path.ends_with(".index.json")) {
    index_path = path;
  }

  if (index_path.empty()) {
    s.files_.push_back(MappedFile::open(single_path));
    parse_file(*s.files_.back(), &s.tensors_, &s.metadata_);
    return s;
  }

  // Sharded: the index's weight_map names the shard of every tensor.
  auto index_file = MappedFile::open(index_path);
  const char* ib = reinterpret_cast<const char*>(index_file->data());
  json index;
  try {
    index = json::parse(ib, ib + index_file->size());
  } catch (const json::exception& e) {
    fail("{}: not valid JSON: {}", index_path, e.what());
  }
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
    fail("{}: expected an object with a 'weight_map' object", index_path);
  const fs::path dir = fs::path(index_path).parent_path();
  std::map<std::string, std::string> shard_of;  // tensor -> shard path
  std::vector<std::string> shards;              // in order of first mention
  for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
    if (!it.value().is_string())
      fail("{}: weight_map['{}'] must be a file name", index_path, it.key());
    const std::string shard = it.value().get<std::string>();
    const fs::path rel(shard);
    if (shard.empty() || rel.is_absolute() || shard.find("..") != std::string::npos)
      fail("{}: weight_map['{}'] = '{}' must be a plain file name in the same folder", index_path,
           it.key(), shard);
    const std::string shard_path = (dir / rel).string();
    if (std::find(shards.begin(), shards.end(), shard_path) == shards.end()) {
      if (!fs::exists(shard_path, ec))
        fail("{}: shard '{}' (for tensor '{}') does not exist", index_path, shard_path, it.key());
      shards.push_back(shard_path);
    }
    shard_of[it.key()] = shard_path;
  }
  for (const auto& shard : shards) {
    s.files_.push_back(MappedFile::open(shard));
    parse_file(*s.files_.back(), &s.tensors_, s.files_.size() == 1 ? &s.metadata_ : nullptr);
  }
  for (const auto& [name, shard] : shard_of) {
    auto it = s.tensors_.find(name);
    if (it == s.tensors_.end())
      fail("{}: tensor '{}' is listed in shard '{}' but that file does not hold it", index_path,
           name, shard);
    if (it->second.file != shard)
      fail("{}: tensor '{}' is listed in shard '{}' but found in '{}'", index_path, name, shard,
           it->second.file);
  }
  return s;
}

bool TensorStore::contains(const std::string& name) const { return tensors_.count(name) != 0; }

const TensorInfo& TensorStore::get(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) fail("missing tensor {} in {}", name, source_);
  return it->second;
}

void TensorStore::add_owned(std::string name, DType dtype, std::vector<int64_t> shape,
                            std::vector<uint8_t> bytes, const std::string& origin) {
  int64_t n = 0;
  if (!checked_numel(shape, &n) || uint64_t(n) * dtype_size(dtype) != bytes.size())
    fail("tensor {}: {} bytes do not match shape {} x {}", name, bytes.size(),
         json(shape).dump(), dtype_name(dtype));
  erase(name);
  TensorInfo info;
  info.name = name;
  info.dtype = dtype;
  info.shape = std::move(shape);
  info.nbytes = bytes.size();
  info.file = origin;
  auto& owned = owned_[name];
  owned = std::move(bytes);
  info.data = owned.data();
  tensors_[name] = std::move(info);
}

void TensorStore::erase(const std::string& name) {
  tensors_.erase(name);
  owned_.erase(name);
}

bool TensorStore::maps(const void* p, size_t n) const {
  const auto* b = static_cast<const uint8_t*>(p);
  for (const auto& f : files_)
    if (f->data() && b >= f->data() && n <= f->size() && size_t(b - f->data()) <= f->size() - n)
      return true;
  return false;
}

size_t TensorStore::total_bytes() const {
  size_t n = 0;
  for (const auto& [name, t] : tensors_) n += t.nbytes;
  return n;
}

void SafetensorsWriter::add(const std::string& name, DType dtype, std::vector<int64_t> shape,
                            const void* data, size_t nbytes) {
  const auto* p = static_cast<const uint8_t*>(data);
  add(name, dtype, std::move(shape), std::vector<uint8_t>(p, p + nbytes));
}

void SafetensorsWriter::add(const std::string& name, DType dtype, std::vector<int64_t> shape,
                            std::vector<uint8_t>&& bytes) {
  if (name.empty() || name == "__metadata__") fail("safetensors: invalid tensor name '{}'", name);
  if (entries_.count(name) != 0) fail("safetensors: tensor '{}' added twice", name);
  int64_t numel = 0;
  if (!checked_numel(shape, &numel))
    fail("safetensors: tensor '{}': shape has a negative or too large dimension", name);
  if (uint64_t(numel) * dtype_size(dtype) != bytes.size())
    fail("safetensors: tensor '{}': {} elements of {} need {} bytes, got {}", name, numel,
         dtype_name(dtype), uint64_t(numel) * dtype_size(dtype), bytes.size());
  entries_.emplace(name, Entry{dtype, std::move(shape), std::move(bytes)});
}

void SafetensorsWriter::set_metadata(const std::string& key, const std::string& value) {
  metadata_[key] = value;
}

void SafetensorsWriter::write(const std::string& path) const {
  // Like the reference library: data packed without holes, widest dtypes first (so every tensor
  // is aligned to its element size), then by name.
  std::vector<const std::pair<const std::string, Entry>*> order;
  for (const auto& kv : entries_) order.push_back(&kv);
  std::stable_sort(order.begin(), order.end(), [](auto* a, auto* b) {
    return dtype_size(a->second.dtype) > dtype_size(b->second.dtype);
  });
  json header = json::object();
  if (!metadata_.empty()) header["__metadata__"] = metadata_;
  uint64_t offset = 0;
  for (const auto* kv : order) {
    const Entry& e = kv->second;
    header[kv->first] = {{"dtype", std::string(dtype_name(e.dtype))},
                         {"shape", e.shape},
                         {"data_offsets", {offset, offset + e.bytes.size()}}};
    offset += e.bytes.size();
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');  // data section starts 8-byte aligned
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = uint8_t(uint64_t(h.size()) >> (8 * i));
  with_context("writing " + path, [&] {
    AtomicFileWriter w(path);
    w.write(len, 8);
    w.write(h);
    for (const auto* kv : order) w.write(kv->second.bytes.data(), kv->second.bytes.size());
    w.commit();
  });
}

}  // namespace quanta
