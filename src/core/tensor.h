// Non-owning views of weight matrices as they sit in memory (mmap'd or owned elsewhere), dense or
// in one of the compressed layouts the kernels run directly (kernels/qmatmul.h).
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace quanta {

// How a weight matrix (rows, cols) is laid out at `data`. Layouts (k = cols):
//  kDense:    row-major `dtype` elements (F32, F16, BF16), row stride k.
//  kInt4x16:  4-bit codes q in [0, 15], weight = (q - zero) * scale, in blocks of 16 rows (rows
//             padded to a multiple of 16), columns padded to kp = round_up(k, 32). Block b, octet
//             o (columns 8o .. 8o + 7) is 64 bytes: int32 r holds row 16b + r's 8 codes, nibble s
//             (bits 4s .. 4s + 3) column 8o + 2s and nibble s + 4 column 8o + 2s + 1 (s < 4), so
//             (dword >> 4s) & 0x000f000f is the pair of int16 codes of columns (8o + 2s, +1): the
//             operand order of vpdpwssd / vpmaddwd against int16 activations. Run by
//             kernels::qmatmul_i16 (activations in int16, see there).
//             scales and zeros (asymmetric; nullptr: symmetric, zero = 8) are (row_blocks,
//             n_groups, 16) f32: the 16 rows of a block side by side.
//  kInt8x16:  int8 codes (symmetric), weight = code * scale, blocks of 16 rows as kInt4x16,
//             columns padded to kp: block b, pair j (columns 2j, 2j + 1) is 32 bytes, row
//             16b + r's two codes at bytes 2r, 2r + 1. scales (row_blocks, n_groups, 16) f32.
//             Run by kernels::qmatmul_i16.
//  kInt8:     row-major int8 codes, row stride k, weight = code * scale (symmetric).
//  kFp8:      row-major E4M3 bytes, row stride k, weight = e4m3(code) * scale.
//  kInt8Vnni: int8 codes (symmetric, per channel) in blocks of 16 rows (rows padded to a multiple
//             of 16 with zero codes, k to a multiple of 4): block b, quad j holds 16 x 4 bytes,
//             row r's codes k = 4j .. 4j + 3 at bytes [4r, 4r + 4) -- the operand order of
//             AVX-512 VNNI's vpdpbusd. row_sums[r] = sum of row r's codes. Needs int8
//             activations (act == kInt8PerToken).
// scales: (rows, n_groups) f32, n_groups = k / group_size (1 when group_size is 0), except where
// a layout above says otherwise.
enum class WeightFormat : uint8_t { kDense, kInt4x16, kInt8, kFp8, kInt8Vnni, kInt8x16 };

// Dynamic per-token activation quantization done inside ops::linear (W8A8, FP8_DYNAMIC).
enum class ActQuant : uint8_t { kNone, kInt8PerToken, kFp8PerToken };

struct MatrixView {
  const void* data = nullptr;
  DType dtype = DType::kF32;  // kDense only
  int64_t rows = 0;
  int64_t cols = 0;

  // Compressed layouts (see WeightFormat); unused for kDense.
  WeightFormat format = WeightFormat::kDense;
  ActQuant act = ActQuant::kNone;
  int64_t group_size = 0;              // columns per scale group; 0: one group per row
  const float* scales = nullptr;       // (rows, n_groups)
  const float* zeros = nullptr;        // kInt4x16 asymmetric (see there)
  // kInt4x16 / kInt8x16: the same scales (and zeros) as f16, in the same layout, instead of f32
  // (scales and zeros are nullptr then) when every one of them is exactly an f16 value (the bf16
  // scales of compressed-tensors folders and ggml's f16 ones are): 2 bytes per group, not 4.
  const uint16_t* scales_f16 = nullptr;
  const uint16_t* zeros_f16 = nullptr;
  const int32_t* row_sums = nullptr;   // kInt8Vnni: (rows,)
  // Act-order (GPTQ g_idx): the kernel's column i is the input's column col_perm[i]; the
  // columns were permuted at load so that every group is contiguous. nullptr: identity.
  const int32_t* col_perm = nullptr;
  size_t packed_bytes = 0;             // compressed layouts: bytes of data + scales + zeros + sums

  int64_t numel() const { return rows * cols; }
  int64_t n_groups() const { return group_size > 0 ? cols / group_size : 1; }
  int64_t group_cols() const { return group_size > 0 ? group_size : cols; }
  bool compressed() const { return format != WeightFormat::kDense; }
  // Bytes a full pass over the matrix reads.
  size_t nbytes() const {
    return compressed() ? packed_bytes : size_t(numel()) * dtype_size(dtype);
  }
  // Dense only.
  const uint8_t* row(int64_t r) const {
    return static_cast<const uint8_t*>(data) + size_t(r) * size_t(cols) * dtype_size(dtype);
  }
};

}  // namespace quanta
