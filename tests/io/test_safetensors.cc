#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "test_util.h"
#include "io/safetensors.h"

namespace quanta {
namespace {

namespace fs = std::filesystem;

using testing_util::temp_dir;

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
}

// A safetensors file from a header string and data bytes; `header_len` overrides the length.
std::string raw_file(const std::string& header, const std::string& data, int64_t header_len = -1) {
  const uint64_t n = header_len < 0 ? header.size() : uint64_t(header_len);
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[size_t(i)] = char((n >> (8 * i)) & 0xff);
  return out + header + data;
}

// The message of the quanta::Error that fn throws ("" if none).
using testing_util::error_of;

#define EXPECT_ERROR_HAS(stmt, text)                                      \
  do {                                                                    \
    EXPECT_THROW(stmt, ::quanta::Error);                                  \
    const std::string msg_ = error_of([&] { stmt; });                     \
    EXPECT_NE(msg_.find(text), std::string::npos) << "message: " << msg_; \
  } while (0)

template <typename T>
std::vector<uint8_t> as_bytes(const std::vector<T>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(T));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

TEST(Safetensors, RoundTripAllDtypes) {
  const std::string path = temp_dir() + "/model.safetensors";
  const std::vector<float> f32 = {1.0f, -2.5f, 3.25f, 0.0f, 1e-8f, -7.0f};
  const std::vector<uint16_t> f16 = {f32_to_f16(1.0f), f32_to_f16(-0.5f), f32_to_f16(65504.0f)};
  const std::vector<uint16_t> bf16 = {f32_to_bf16(3.0f), f32_to_bf16(-1e10f)};
  const std::vector<int8_t> i8 = {-128, -1, 0, 1, 127};
  const std::vector<int32_t> i32 = {-2147483647, 0, 42, 7};
  const std::vector<uint8_t> f8 = {0x00, 0x38, 0xb8, 0x7e, 0x01};
  const std::vector<int64_t> i64 = {int64_t(1) << 40, -3};
  struct Case {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    std::vector<uint8_t> bytes;
  };
  const std::vector<Case> cases = {
      {"a.f32", DType::kF32, {2, 3}, as_bytes(f32)},
      {"b.f16", DType::kF16, {3}, as_bytes(f16)},
      {"c.bf16", DType::kBF16, {1, 2}, as_bytes(bf16)},
      {"d.i8", DType::kI8, {5}, as_bytes(i8)},
      {"e.i32", DType::kI32, {2, 2}, as_bytes(i32)},
      {"f.f8", DType::kF8E4M3, {5, 1}, f8},
      {"g.i64", DType::kI64, {2}, as_bytes(i64)},
      {"h.empty", DType::kF32, {0, 4}, {}},
      {"i.scalar", DType::kI32, {}, as_bytes(std::vector<int32_t>{9})},
  };
  SafetensorsWriter w;
  for (const auto& c : cases) w.add(c.name, c.dtype, c.shape, c.bytes.data(), c.bytes.size());
  w.set_metadata("format", "pt");
  w.write(path);
  EXPECT_FALSE(fs::exists(path + ".tmp-" + std::to_string(getpid())));

  // Header padded with spaces so the data section starts 8-byte aligned, as the Python library.
  std::ifstream in(path, std::ios::binary);
  uint64_t n = 0;
  in.read(reinterpret_cast<char*>(&n), 8);
  EXPECT_EQ(n % 8, 0u);

  const TensorStore s = TensorStore::open(path);
  EXPECT_EQ(s.tensors().size(), cases.size());
  EXPECT_EQ(s.metadata().at("format"), "pt");
  size_t total = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const TensorInfo& t = s.get(c.name);
    EXPECT_EQ(t.dtype, c.dtype);
    EXPECT_EQ(t.shape, c.shape);
    EXPECT_EQ(t.file, path);
    ASSERT_EQ(t.nbytes, c.bytes.size());
    if (t.nbytes > 0) {
      EXPECT_EQ(std::memcmp(t.data, c.bytes.data(), t.nbytes), 0);
      EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data) % dtype_size(t.dtype), 0u) << "misaligned";
    }
    total += t.nbytes;
  }
  EXPECT_EQ(s.total_bytes(), total);
  EXPECT_EQ(s.get("a.f32").numel(), 6);
  // A folder holding model.safetensors opens the same file.
  EXPECT_EQ(TensorStore::open(fs::path(path).parent_path().string()).tensors().size(),
            cases.size());
}

TEST(Safetensors, WriterRejectsWrongSize) {
  SafetensorsWriter w;
  const float x[3] = {1, 2, 3};
  EXPECT_ERROR_HAS(w.add("x", DType::kF32, {2, 2}, x, sizeof(x)), "'x'");
  EXPECT_ERROR_HAS(w.add("y", DType::kF32, {-1, 3}, x, sizeof(x)), "'y'");
  w.add("z", DType::kF32, {3}, x, sizeof(x));
  EXPECT_ERROR_HAS(w.add("z", DType::kF32, {3}, x, sizeof(x)), "twice");
}

TEST(Safetensors, ShardedIndex) {
  const std::string dir = temp_dir();
  const float a[2] = {1, 2}, b[3] = {3, 4, 5}, c[1] = {6};
  SafetensorsWriter w1, w2;
  w1.add("a", DType::kF32, {2}, a, sizeof(a));
  w1.add("b", DType::kF32, {3}, b, sizeof(b));
  w1.set_metadata("format", "pt");
  w2.add("c", DType::kF32, {1}, c, sizeof(c));
  w1.write(dir + "/model-00001-of-00002.safetensors");
  w2.write(dir + "/model-00002-of-00002.safetensors");
  nlohmann::json index = {{"metadata", {{"total_size", 24}}},
                          {"weight_map",
                           {{"a", "model-00001-of-00002.safetensors"},
                            {"b", "model-00001-of-00002.safetensors"},
                            {"c", "model-00002-of-00002.safetensors"}}}};
  write_bytes(dir + "/model.safetensors.index.json", index.dump());
  const TensorStore s = TensorStore::open(dir);
  ASSERT_EQ(s.tensors().size(), 3u);
  EXPECT_EQ(s.get("c").file, dir + "/model-00002-of-00002.safetensors");
  EXPECT_EQ(reinterpret_cast<const float*>(s.get("b").data)[2], 5.0f);
  EXPECT_EQ(s.metadata().at("format"), "pt");

  // A tensor the index puts in the wrong shard.
  index["weight_map"]["c"] = "model-00001-of-00002.safetensors";
  write_bytes(dir + "/model.safetensors.index.json", index.dump());
  EXPECT_ERROR_HAS(TensorStore::open(dir), "'c'");
  // A shard that does not exist.
  index["weight_map"]["c"] = "model-00003-of-00002.safetensors";
  write_bytes(dir + "/model.safetensors.index.json", index.dump());
  EXPECT_ERROR_HAS(TensorStore::open(dir), "model-00003-of-00002.safetensors");
}

TEST(Safetensors, DirWithoutModelFiles) {
  const std::string dir = temp_dir();
  EXPECT_ERROR_HAS(TensorStore::open(dir), dir);
}

TEST(Safetensors, MissingFile) {
  const std::string path = temp_dir() + "/nope.safetensors";
  EXPECT_ERROR_HAS(TensorStore::open(path), path);
}

TEST(Safetensors, TruncatedFile) {
  const std::string path = temp_dir() + "/t.safetensors";
  write_bytes(path, std::string("\x10\x00\x00", 3));
  EXPECT_ERROR_HAS(TensorStore::open(path), path);
  // A valid file cut inside its data section: the offsets now run past the end.
  const std::string full =
      raw_file(R"({"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", std::string(16, '\1'));
  write_bytes(path, full.substr(0, full.size() - 5));
  const std::string msg = error_of([&] { TensorStore::open(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("'x'"), std::string::npos) << msg;
}

TEST(Safetensors, HeaderLengthPastEof) {
  const std::string path = temp_dir() + "/h.safetensors";
  write_bytes(path, raw_file("{}", "", 1000));
  EXPECT_ERROR_HAS(TensorStore::open(path), path);
  write_bytes(path, raw_file("{}", "", int64_t(1) << 40));  // also above the 100 MB bound
  EXPECT_ERROR_HAS(TensorStore::open(path), "limit");
}

TEST(Safetensors, HeaderNotJson) {
  const std::string path = temp_dir() + "/j.safetensors";
  write_bytes(path, raw_file("{\"x\": [1, 2", ""));
  EXPECT_ERROR_HAS(TensorStore::open(path), path);
  write_bytes(path, raw_file("[1, 2]", ""));
  EXPECT_ERROR_HAS(TensorStore::open(path), "object");
}

TEST(Safetensors, OffsetsOutOfRange) {
  const std::string path = temp_dir() + "/o.safetensors";
  write_bytes(path, raw_file(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})",
                             std::string(16, '\0')));
  EXPECT_ERROR_HAS(TensorStore::open(path), "'w'");
  write_bytes(path, raw_file(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}})",
                             std::string(16, '\0')));
  EXPECT_ERROR_HAS(TensorStore::open(path), "begin > end");
  write_bytes(path, raw_file(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}})",
                             std::string(16, '\0')));
  EXPECT_ERROR_HAS(TensorStore::open(path), "'w'");
}

TEST(Safetensors, OverlappingTensors) {
  const std::string path = temp_dir() + "/ov.safetensors";
  write_bytes(path, raw_file(R"({"p":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                             R"("q":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                             std::string(16, '\0')));
  const std::string msg = error_of([&] { TensorStore::open(path); });
  EXPECT_NE(msg.find("overlap"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'p'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'q'"), std::string::npos) << msg;
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
}

TEST(Safetensors, ShapeTimesDtypeMismatch) {
  const std::string path = temp_dir() + "/s.safetensors";
  write_bytes(path, raw_file(R"({"m":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,8]}})",
                             std::string(8, '\0')));
  EXPECT_ERROR_HAS(TensorStore::open(path), "'m'");
  write_bytes(path, raw_file(R"({"m":{"dtype":"F32","shape":[2,-2],"data_offsets":[0,16]}})",
                             std::string(16, '\0')));
  EXPECT_ERROR_HAS(TensorStore::open(path), "non-negative");
}

TEST(Safetensors, UnknownDtype) {
  const std::string path = temp_dir() + "/u.safetensors";
  write_bytes(path, raw_file(R"({"k":{"dtype":"Q4_K","shape":[2],"data_offsets":[0,2]}})",
                             std::string(8, '\0')));
  const std::string msg = error_of([&] { TensorStore::open(path); });
  EXPECT_NE(msg.find("Q4_K"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'k'"), std::string::npos) << msg;
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
}

TEST(Safetensors, MetadataMustBeStrings) {
  const std::string path = temp_dir() + "/m.safetensors";
  write_bytes(path, raw_file(R"({"__metadata__":{"format":3}})", ""));
  EXPECT_ERROR_HAS(TensorStore::open(path), "format");
}

TEST(Safetensors, MissingTensorOnGet) {
  const std::string path = temp_dir() + "/g.safetensors";
  SafetensorsWriter w;
  const float x = 1.0f;
  w.add("present", DType::kF32, {1}, &x, 4);
  w.write(path);
  const TensorStore s = TensorStore::open(path);
  EXPECT_TRUE(s.contains("present"));
  EXPECT_FALSE(s.contains("absent"));
  const std::string msg = error_of([&] { s.get("absent"); });
  EXPECT_NE(msg.find("absent"), std::string::npos) << msg;
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
}

}  // namespace
}  // namespace quanta
