#include "quant/ggml_blocks.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/dtype.h"
#include "core/error.h"

namespace quanta {
namespace {

void store_f16(uint8_t* p, float v) {
  const uint16_t h = f32_to_f16(v);
  std::memcpy(p, &h, 2);
}

}  // namespace

void encode_q8_0_row(const int8_t* codes, const float* scales, int64_t cols, uint8_t* out) {
  QUANTA_ASSERT(cols % kGgmlBlock == 0);
  for (int64_t b = 0; b < cols / kGgmlBlock; ++b, out += kQ8_0Bytes) {
    store_f16(out, scales[b]);
    std::memcpy(out + 2, codes + b * kGgmlBlock, kGgmlBlock);
  }
}

void encode_q4_0_row(const int8_t* codes, const float* scales, int64_t cols, uint8_t* out) {
  QUANTA_ASSERT(cols % kGgmlBlock == 0);
  for (int64_t b = 0; b < cols / kGgmlBlock; ++b, out += kQ4_0Bytes) {
    store_f16(out, scales[b]);
    const int8_t* q = codes + b * kGgmlBlock;
    for (int j = 0; j < 16; ++j) {
      const int lo = q[j] + 8, hi = q[j + 16] + 8;
      QUANTA_ASSERT(lo >= 0 && lo < 16 && hi >= 0 && hi < 16);
      out[2 + j] = uint8_t(lo | hi << 4);
    }
  }
}

void encode_q4_1_row(const int8_t* codes, const float* scales, const int32_t* zeros, int64_t cols,
                     uint8_t* out) {
  QUANTA_ASSERT(cols % kGgmlBlock == 0);
  for (int64_t b = 0; b < cols / kGgmlBlock; ++b, out += kQ4_1Bytes) {
    store_f16(out, scales[b]);
    store_f16(out + 2, -scales[b] * float(zeros[b]));
    const int8_t* q = codes + b * kGgmlBlock;
    for (int j = 0; j < 16; ++j) {
      const int lo = q[j], hi = q[j + 16];
      QUANTA_ASSERT(lo >= 0 && lo < 16 && hi >= 0 && hi < 16);
      out[4 + j] = uint8_t(lo | hi << 4);
    }
  }
}

void quantize_q8_0_row(const float* x, int64_t n, uint8_t* out) {
  QUANTA_ASSERT(n % kGgmlBlock == 0);
  for (int64_t b = 0; b < n / kGgmlBlock; ++b, out += kQ8_0Bytes, x += kGgmlBlock) {
    float amax = 0.0f;
    for (int j = 0; j < kGgmlBlock; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    store_f16(out, d);
    for (int j = 0; j < kGgmlBlock; ++j) out[2 + j] = uint8_t(int8_t(std::round(x[j] * id)));
  }
}

}  // namespace quanta
