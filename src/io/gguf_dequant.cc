// Dequantization of GGUF tensors to f32, following ggml's dequantize_row_* (ggml-quants.c)
// operation for operation, so the results are bit-identical to ggml and to gguf-py.
// Note: `d * q + m` must not be contracted into an FMA (which rounds once instead of twice);
// this file is built without -mfma, so the compiler cannot fuse it.
#include <cstring>

#include "core/dtype.h"
#include "core/error.h"
#include "io/gguf.h"

namespace quanta {
namespace {

constexpr int kQK = 32;  // elements per block of Q4_0, Q4_1, Q8_0

uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

// block_q8_0: f16 d, int8 qs[32]; x = d * q.
void dequantize_q8_0(const uint8_t* src, float* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, src += 2 + kQK, dst += kQK) {
    const float d = f16_to_f32(load_u16(src));
    const auto* qs = reinterpret_cast<const int8_t*>(src + 2);
    for (int j = 0; j < kQK; ++j) dst[j] = float(qs[j]) * d;
  }
}

// block_q4_0: f16 d, uint8 qs[16]; element j is the low nibble of qs[j], element j + 16 the high
// nibble; x = d * (q - 8).
void dequantize_q4_0(const uint8_t* src, float* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, src += 2 + kQK / 2, dst += kQK) {
    const float d = f16_to_f32(load_u16(src));
    const uint8_t* qs = src + 2;
    for (int j = 0; j < kQK / 2; ++j) {
      const int x0 = (qs[j] & 0x0F) - 8;
      const int x1 = (qs[j] >> 4) - 8;
      dst[j] = float(x0) * d;
      dst[j + kQK / 2] = float(x1) * d;
    }
  }
}

// block_q4_1: f16 d, f16 m, uint8 qs[16]; same nibble order; x = d * q + m.
void dequantize_q4_1(const uint8_t* src, float* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, src += 4 + kQK / 2, dst += kQK) {
    const float d = f16_to_f32(load_u16(src));
    const float m = f16_to_f32(load_u16(src + 2));
    const uint8_t* qs = src + 4;
    for (int j = 0; j < kQK / 2; ++j) {
      const int x0 = qs[j] & 0x0F;
      const int x1 = qs[j] >> 4;
      dst[j] = float(x0) * d + m;
      dst[j + kQK / 2] = float(x1) * d + m;
    }
  }
}

}  // namespace

bool can_dequantize(GgmlType type) {
  switch (type) {
    case GgmlType::kF32:
    case GgmlType::kF16:
    case GgmlType::kBF16:
    case GgmlType::kQ8_0:
    case GgmlType::kQ4_0:
    case GgmlType::kQ4_1:
      return true;
    default:
      return false;
  }
}

void dequantize_row(GgmlType type, const void* src, float* dst, int64_t n) {
  const GgmlTypeInfo* info = ggml_type_info(uint32_t(type));
  if (info == nullptr || !can_dequantize(type))
    fail("dequantizing {} tensors is not supported (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1)",
         info ? info->name : "unknown");
  if (n % info->block_size != 0)
    fail("{} elements are not a multiple of the {} block size {}", n, info->name, info->block_size);
  if (n == 0) return;  // a zero-sized dim is allowed (as in ggml); dst may then be null
  const auto* p = static_cast<const uint8_t*>(src);
  switch (type) {
    case GgmlType::kF32:
      std::memcpy(dst, p, size_t(n) * 4);
      break;
    case GgmlType::kF16:
      for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32(load_u16(p + 2 * i));
      break;
    case GgmlType::kBF16:
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(load_u16(p + 2 * i));
      break;
    case GgmlType::kQ8_0:
      dequantize_q8_0(p, dst, n / kQK);
      break;
    case GgmlType::kQ4_0:
      dequantize_q4_0(p, dst, n / kQK);
      break;
    case GgmlType::kQ4_1:
      dequantize_q4_1(p, dst, n / kQK);
      break;
    default:
      QUANTA_ASSERT(false);
  }
}

std::vector<float> dequantize(const GgufTensor& t) {
  std::vector<float> out(size_t(t.numel()));
  with_context(fmt::format("tensor '{}'", t.name),
               [&] { dequantize_row(t.type, t.data, out.data(), t.numel()); });
  return out;
}

}  // namespace quanta
