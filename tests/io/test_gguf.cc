#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <tuple>

#include "core/dtype.h"
#include "core/error.h"
#include "test_util.h"
#include "io/gguf.h"
#include "io/gguf_import.h"
#include "io/gguf_writer.h"

namespace quanta {
namespace {

namespace fs = std::filesystem;
using VT = GgufValueType;

using testing_util::temp_path;

void write_bytes(const std::string& path, const std::vector<uint8_t>& b) {
  // Note: a fresh inode each time; truncating and rewriting makes ext4 flush (auto_da_alloc).
  fs::remove(path);
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

using testing_util::error_of;

void put_f16(std::vector<uint8_t>& out, float x) {
  const uint16_t h = f32_to_f16(x);
  out.push_back(uint8_t(h & 0xff));
  out.push_back(uint8_t(h >> 8));
}

// Two Q8_0 blocks: d = 0.25, q = j - 16; d = -2, q = 4j - 64.
std::vector<uint8_t> q8_0_blocks() {
  std::vector<uint8_t> b;
  put_f16(b, 0.25f);
  for (int j = 0; j < 32; ++j) b.push_back(uint8_t(int8_t(j - 16)));
  put_f16(b, -2.0f);
  for (int j = 0; j < 32; ++j) b.push_back(uint8_t(int8_t(4 * j - 64)));
  return b;
}

// Q4_1 / Q4_0 blocks with qs[j] = j | (15 - j) << 4, so element j is j, element j+16 is 15-j.
std::vector<uint8_t> q4_blocks(bool with_min, int n_blocks) {
  std::vector<uint8_t> b;
  for (int k = 0; k < n_blocks; ++k) {
    put_f16(b, with_min ? 0.5f * float(k + 1) : 0.125f);
    if (with_min) put_f16(b, -1.0f);
    for (int j = 0; j < 16; ++j) b.push_back(uint8_t(j | ((15 - j) << 4)));
  }
  return b;
}

// A small GGUF with every metadata value type and one tensor of each dequantizable type.
GgufWriter sample_writer() {
  GgufWriter w;
  w.set("general.architecture", GgufValue::string("llama"));
  w.set("t.u8", {VT::kUint8, uint64_t(200)});
  w.set("t.i8", {VT::kInt8, int64_t(-100)});
  w.set("t.u16", {VT::kUint16, uint64_t(60000)});
  w.set("t.i16", {VT::kInt16, int64_t(-30000)});
  w.set("t.u32", GgufValue::u32(4000000000u));
  w.set("t.i32", GgufValue::i32(-2000000000));
  w.set("t.f32", GgufValue::f32(1e-5f));
  w.set("t.bool", GgufValue::boolean(true));
  w.set("t.u64", GgufValue::u64(uint64_t(1) << 40));
  w.set("t.i64", {VT::kInt64, int64_t(-5)});
  w.set("t.f64", {VT::kFloat64, 0.1});
  w.set("t.strings", GgufValue::strings({"a", "", "Ġhello", "<|im_end|>"}));
  w.set("t.i32s", GgufValue::i32s({1, -2, 3}));
  w.set("t.nested",
        {VT::kArray, GgufValue::Array{GgufValue::i32s({7}), GgufValue::i32s({})}, VT::kArray});
  const std::vector<float> f32 = {1.5f, -2.0f, 3.0f, 0.25f, 5.0f, 6.0f};
  w.add_tensor("f32", GgmlType::kF32, {3, 2}, f32.data(), f32.size() * 4);
  std::vector<uint8_t> f16;
  for (float x : {1.0f, -0.5f, 65504.0f, 6e-8f}) put_f16(f16, x);
  w.add_tensor("f16", GgmlType::kF16, {4}, f16.data(), f16.size());
  const uint16_t bf16[2] = {f32_to_bf16(3.0f), f32_to_bf16(-0.15625f)};
  w.add_tensor("bf16", GgmlType::kBF16, {2}, bf16, sizeof(bf16));
  const auto q8 = q8_0_blocks();
  w.add_tensor("q8_0", GgmlType::kQ8_0, {64}, q8.data(), q8.size());
  const auto q41 = q4_blocks(true, 2);
  w.add_tensor("q4_1", GgmlType::kQ4_1, {32, 2}, q41.data(), q41.size());
  const auto q40 = q4_blocks(false, 1);
  w.add_tensor("q4_0", GgmlType::kQ4_0, {32}, q40.data(), q40.size());
  return w;
}

TEST(Gguf, MetadataRoundTrip) {
  const std::string path = temp_path("m.gguf");
  sample_writer().write(path);
  const auto f = GgufFile::open(path);
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->alignment(), 32u);
  EXPECT_EQ(f->data_offset() % 32, 0u);
  EXPECT_EQ(f->get_string("general.architecture"), "llama");
  EXPECT_EQ(f->get_int("t.u8"), 200);
  EXPECT_EQ(f->get_int("t.i8"), -100);
  EXPECT_EQ(f->get_int("t.u16"), 60000);
  EXPECT_EQ(f->get_int("t.i16"), -30000);
  EXPECT_EQ(f->get_int("t.u32"), 4000000000LL);
  EXPECT_EQ(f->get_int("t.i32"), -2000000000LL);
  EXPECT_EQ(float(f->get_double("t.f32")), 1e-5f);
  EXPECT_EQ(f->get("t.f32").type(), VT::kFloat32);
  EXPECT_TRUE(f->get_bool("t.bool", false));
  EXPECT_EQ(f->get_int("t.u64"), int64_t(1) << 40);
  EXPECT_EQ(f->get_int("t.i64"), -5);
  EXPECT_EQ(f->get_double("t.f64"), 0.1);
  EXPECT_EQ(f->get_strings("t.strings"),
            (std::vector<std::string>{"a", "", "Ġhello", "<|im_end|>"}));
  EXPECT_EQ(f->get_ints("t.i32s"), (std::vector<int64_t>{1, -2, 3}));
  EXPECT_EQ(f->get("t.nested").as_array().at(0).as_ints(), std::vector<int64_t>{7});
  EXPECT_EQ(f->metadata().size(), 15u);
  EXPECT_EQ(f->metadata()[1].first, "t.u8");  // file order kept
  EXPECT_EQ(f->get_int("absent", 42), 42);
  // Wrong type and missing key name the file and key.
  std::string msg = error_of([&] { f->get_int("general.architecture"); });
  EXPECT_NE(msg.find("general.architecture"), std::string::npos) << msg;
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  msg = error_of([&] { f->get_string("no.such.key"); });
  EXPECT_NE(msg.find("no.such.key"), std::string::npos) << msg;
}

TEST(Gguf, TensorInfosAndDequantization) {
  const std::string path = temp_path("t.gguf");
  sample_writer().write(path);
  const auto f = GgufFile::open(path);
  ASSERT_EQ(f->tensors().size(), 6u);
  const GgufTensor& q41 = f->tensor("q4_1");
  EXPECT_EQ(q41.type, GgmlType::kQ4_1);
  EXPECT_EQ(q41.dims, (std::vector<int64_t>{32, 2}));
  EXPECT_EQ(q41.shape(), (std::vector<int64_t>{2, 32}));  // ne[0] is the column dim
  EXPECT_EQ(q41.nbytes, 40u);
  for (const auto& t : f->tensors()) EXPECT_EQ(t.offset % 32, 0u) << t.name;

  EXPECT_EQ(dequantize(f->tensor("f32")),
            (std::vector<float>{1.5f, -2.0f, 3.0f, 0.25f, 5.0f, 6.0f}));
  const std::vector<float> f16 = dequantize(f->tensor("f16"));
  EXPECT_EQ(f16[0], 1.0f);
  EXPECT_EQ(f16[1], -0.5f);
  EXPECT_EQ(f16[2], 65504.0f);
  EXPECT_EQ(f16[3], std::ldexp(1.0f, -24));  // f16 subnormal nearest to 6e-8
  EXPECT_EQ(dequantize(f->tensor("bf16")), (std::vector<float>{3.0f, -0.15625f}));

  const std::vector<float> q8 = dequantize(f->tensor("q8_0"));
  ASSERT_EQ(q8.size(), 64u);
  for (int j = 0; j < 32; ++j) {
    EXPECT_EQ(q8[size_t(j)], 0.25f * float(j - 16)) << j;
    EXPECT_EQ(q8[size_t(32 + j)], -2.0f * float(4 * j - 64)) << j;
  }
  const std::vector<float> q4 = dequantize(q41);
  ASSERT_EQ(q4.size(), 64u);
  for (int k = 0; k < 2; ++k) {
    const float d = 0.5f * float(k + 1);
    for (int j = 0; j < 16; ++j) {
      EXPECT_EQ(q4[size_t(32 * k + j)], d * float(j) - 1.0f) << k << " " << j;  // low nibbles
      EXPECT_EQ(q4[size_t(32 * k + j + 16)], d * float(15 - j) - 1.0f) << k << " " << j;
    }
  }
  EXPECT_EQ(q4[1], -0.5f);   // hand: 0.5 * 1 - 1
  EXPECT_EQ(q4[16], 6.5f);   // hand: 0.5 * 15 - 1
  EXPECT_EQ(q4[63], -1.0f);  // hand: 1.0 * 0 - 1
  const std::vector<float> q40 = dequantize(f->tensor("q4_0"));
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(q40[size_t(j)], 0.125f * float(j - 8)) << j;
    EXPECT_EQ(q40[size_t(j + 16)], 0.125f * float(7 - j)) << j;
  }
}

TEST(Gguf, CustomAlignment) {
  GgufWriter w;
  w.set("general.alignment", GgufValue::u32(64));
  const float a[3] = {1, 2, 3}, b[2] = {4, 5};
  w.add_tensor("a", GgmlType::kF32, {3}, a, sizeof(a));
  w.add_tensor("b", GgmlType::kF32, {2}, b, sizeof(b));
  const std::string path = temp_path("a.gguf");
  w.write(path);
  const auto f = GgufFile::open(path);
  EXPECT_EQ(f->alignment(), 64u);
  EXPECT_EQ(f->data_offset() % 64, 0u);
  EXPECT_EQ(f->tensor("b").offset, 64u);
  EXPECT_EQ(dequantize(f->tensor("b")), (std::vector<float>{4, 5}));
}

TEST(Gguf, UnsupportedDequantizationNamesTensor) {
  GgufWriter w;
  const std::vector<uint8_t> q6k(210, 0);
  w.add_tensor("blk.0.ffn_down.weight", GgmlType::kQ6_K, {256}, q6k.data(), q6k.size());
  const std::string path = temp_path("q6k.gguf");
  w.write(path);
  const auto f = GgufFile::open(path);  // known type: the file itself is valid
  EXPECT_FALSE(can_dequantize(GgmlType::kQ6_K));
  const std::string msg = error_of([&] { dequantize(f->tensor("blk.0.ffn_down.weight")); });
  EXPECT_NE(msg.find("blk.0.ffn_down.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("Q6_K"), std::string::npos) << msg;
}

// One F32 tensor named "t" with dims {8}, no metadata: fixed byte positions to corrupt.
constexpr size_t kTypePos = 24 + 8 + 1 + 4 + 8;  // header, name, n_dims, dims
constexpr size_t kOffsetPos = kTypePos + 4;

std::vector<uint8_t> one_tensor_file() {
  GgufWriter w;
  const float x[8] = {};
  w.add_tensor("t", GgmlType::kF32, {8}, x, sizeof(x));
  return w.serialize();
}

void put_u64(std::vector<uint8_t>& b, size_t pos, uint64_t v) { std::memcpy(&b[pos], &v, 8); }

TEST(Gguf, BadMagic) {
  auto b = one_tensor_file();
  b[0] = 'X';
  const std::string path = temp_path("magic.gguf");
  write_bytes(path, b);
  const std::string msg = error_of([&] { GgufFile::open(path); });
  EXPECT_NE(msg.find("magic"), std::string::npos) << msg;
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
}

TEST(Gguf, UnsupportedVersion) {
  auto b = one_tensor_file();
  b[4] = 1;
  const std::string path = temp_path("v1.gguf");
  write_bytes(path, b);
  EXPECT_NE(error_of([&] { GgufFile::open(path); }).find("version 1"), std::string::npos);
}

TEST(Gguf, EveryTruncationThrows) {
  const auto full = sample_writer().serialize();
  const std::string path = temp_path("trunc.gguf");
  write_bytes(path, full);
  size_t end = 0;  // end of the last tensor's data; only alignment padding follows
  {
    const auto f = GgufFile::open(path);
    for (const auto& t : f->tensors()) end = std::max(end, f->data_offset() + t.offset + t.nbytes);
  }
  for (size_t n = 0; n < end; n += (n < 600 ? 1 : 7)) {
    write_bytes(path, std::vector<uint8_t>(full.begin(), full.begin() + long(n)));
    const std::string msg = error_of([&] { GgufFile::open(path); });
    EXPECT_NE(msg.find(path), std::string::npos) << "length " << n << ": '" << msg << "'";
  }
}

TEST(Gguf, CorruptBytesNeverCrash) {
  // Each header byte set to 0xff: the reader either accepts the file or throws quanta::Error.
  const auto full = sample_writer().serialize();
  const std::string path = temp_path("corrupt.gguf");
  write_bytes(path, full);
  const size_t header_bytes = GgufFile::open(path)->data_offset();
  for (size_t i = 0; i < header_bytes; ++i) {
    auto b = full;
    b[i] = 0xff;
    write_bytes(path, b);
    try {
      GgufFile::open(path);
    } catch (const Error&) {
    }
  }
}

TEST(Gguf, TensorOffsetOutsideFile) {
  auto b = one_tensor_file();
  put_u64(b, kOffsetPos, 1 << 20);
  const std::string path = temp_path("off.gguf");
  write_bytes(path, b);
  std::string msg = error_of([&] { GgufFile::open(path); });
  EXPECT_NE(msg.find("'t'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("outside"), std::string::npos) << msg;
  put_u64(b, kOffsetPos, 4);  // not aligned
  write_bytes(path, b);
  msg = error_of([&] { GgufFile::open(path); });
  EXPECT_NE(msg.find("alignment"), std::string::npos) << msg;
}

TEST(Gguf, UnknownTensorType) {
  auto b = one_tensor_file();
  b[kTypePos] = 99;
  const std::string path = temp_path("type.gguf");
  write_bytes(path, b);
  const std::string msg = error_of([&] { GgufFile::open(path); });
  EXPECT_NE(msg.find("'t'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("99"), std::string::npos) << msg;
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
}

TEST(Gguf, CountsBoundedByFileSize) {
  auto b = one_tensor_file();
  put_u64(b, 8, uint64_t(1) << 60);  // tensor count
  const std::string path = temp_path("count.gguf");
  write_bytes(path, b);
  EXPECT_NE(error_of([&] { GgufFile::open(path); }).find("tensor count"), std::string::npos);
}

TEST(Gguf, WriterValidatesSizes) {
  GgufWriter w;
  const uint8_t x[40] = {};
  EXPECT_THROW(w.add_tensor("q", GgmlType::kQ4_1, {32}, x, 21), Error);
  EXPECT_THROW(w.add_tensor("q", GgmlType::kQ4_1, {16}, x, 10), Error);  // not a whole block
  w.add_tensor("q", GgmlType::kQ4_1, {64}, x, 40);
}

// llama.cpp's converter permutes Q/K rows for its rotary layout:
//   w.reshape(n_head, 2, rows // n_head // 2, cols).swapaxes(1, 2).reshape(rows, cols)
std::vector<float> llama_cpp_permute(const std::vector<float>& w, int64_t rows, int64_t cols,
                                     int64_t n_head) {
  const int64_t half = rows / n_head / 2;
  std::vector<float> out(w.size());
  for (int64_t h = 0; h < n_head; ++h)
    for (int64_t i = 0; i < half; ++i)
      for (int64_t j = 0; j < 2; ++j)  // out[h, i, j] = w[h, j, i]
        for (int64_t c = 0; c < cols; ++c)
          out[size_t(((h * half + i) * 2 + j) * cols + c)] =
              w[size_t(((h * 2 + j) * half + i) * cols + c)];
  return out;
}

TEST(Gguf, UnpermuteQkByHand) {
  // One head of dim 4: the converter stored HF rows in the order 0, 2, 1, 3.
  const std::vector<float> gguf = {0, 2, 1, 3};
  EXPECT_EQ(unpermute_qk_rows(gguf.data(), 4, 1, 1), (std::vector<float>{0, 1, 2, 3}));
  // Two heads of dim 4, two columns: rows (h, r) -> value 10 * (4h + r) + column.
  const std::vector<float> gguf2 = {0, 1, 20, 21, 10, 11, 30, 31, 40, 41, 60, 61, 50, 51, 70, 71};
  const std::vector<float> hf2 = {0, 1, 10, 11, 20, 21, 30, 31, 40, 41, 50, 51, 60, 61, 70, 71};
  EXPECT_EQ(unpermute_qk_rows(gguf2.data(), 8, 2, 2), hf2);
  EXPECT_EQ(llama_cpp_permute(hf2, 8, 2, 2), gguf2);
}

TEST(Gguf, UnpermuteInvertsLlamaCppPermute) {
  for (const auto& [n_head, head_dim, cols] :
       std::vector<std::tuple<int64_t, int64_t, int64_t>>{{3, 8, 5}, {9, 64, 3}, {1, 2, 1}}) {
    const int64_t rows = n_head * head_dim;
    std::vector<float> w(size_t(rows * cols));
    for (size_t i = 0; i < w.size(); ++i) w[i] = float(i);
    const std::vector<float> permuted = llama_cpp_permute(w, rows, cols, n_head);
    if (head_dim > 2) {
      EXPECT_NE(permuted, w);  // (head dim 2 is the identity)
    }
    EXPECT_EQ(unpermute_qk_rows(permuted.data(), rows, cols, n_head), w) << n_head << " heads";
  }
}

}  // namespace
}  // namespace quanta
