// ggml's 32-element block formats written from quantized integers: a compressed-tensors group of
// 32 columns maps onto one ggml block with the same integers (nothing is re-rounded except the
// f16 storage of the block's scale / minimum).
//   Q8_0: f16 d, int8 q[32];               x = d * q
//   Q4_0: f16 d, uint8 qs[16];             x = d * (nibble - 8); element j < 16 is the low nibble of
//                                          qs[j], element j + 16 the high nibble of qs[j]
//   Q4_1: f16 d, f16 m, uint8 qs[16];      x = d * nibble + m (same nibble order)
#pragma once

#include <cstdint>

namespace quanta {

inline constexpr int64_t kGgmlBlock = 32;
inline constexpr int64_t kQ8_0Bytes = 34, kQ4_0Bytes = 18, kQ4_1Bytes = 20;

// One row of `cols` (a multiple of 32) symmetric codes with one scale per 32 columns.
// q8_0: codes in [-128, 127]; q4_0: codes in [-8, 7] (stored as code + 8).
void encode_q8_0_row(const int8_t* codes, const float* scales, int64_t cols, uint8_t* out);
void encode_q4_0_row(const int8_t* codes, const float* scales, int64_t cols, uint8_t* out);
// Asymmetric: codes and zero points in [0, 15]; d = scale, m = -scale * zero.
void encode_q4_1_row(const int8_t* codes, const float* scales, const int32_t* zeros, int64_t cols,
                     uint8_t* out);

// ggml's reference Q8_0 quantization of floats (quantize_row_q8_0_ref): per block
// d = absmax / 127, q = round(x / d) (half away from zero).
void quantize_q8_0_row(const float* x, int64_t n, uint8_t* out);

}  // namespace quanta
