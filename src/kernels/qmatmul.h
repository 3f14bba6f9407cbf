// Matrix multiply with weights kept compressed (core/tensor.h WeightFormat): 4-bit and 8-bit
// integer codes with per-group f32 scales, FP8 E4M3 codes, and int8 x int8 for W8A8.
// int4 and int8 weight-only formats (kInt4x16, kInt8x16) multiply their codes by int16
// activation codes (one scale per 32 columns of a token) exactly in int32, per block, then scale
// in f32 (qmatmul_i16); the other weight-only formats decode to f32 in registers and accumulate
// in f32 (qmatmul); W8A8 multiplies int8 codes exactly in int32 and scales at the end. Scalar reference in kernels/ref/, SIMD versions
// one ISA per translation unit.
#pragma once

#include <cstdint>

#include "core/tensor.h"
#include "kernels/isa.h"

namespace quanta::kernels {

// Y (m, ldy) columns [n0, n1):  Y[i][j] = sum_c X[i][c] * W[j][c]
//   X (m, k) f32 row-major, already in W's column order (see MatrixView::col_perm);
//   W (n, k) in format kInt8 or kFp8.  Overwrites Y[i][n0..n1). Single-threaded.
// Note: from m = kQGemmMinRows the SIMD levels decode kQRowBlock rows of W at a time to f32 and
// run the f32 GEMM (kernels/matmul.h) on them; below, a GEMV decodes in registers.
void qmatmul(const float* x, int64_t m, const MatrixView& w, int64_t n0, int64_t n1, float* y,
             int64_t ldy, Isa isa);
inline constexpr int64_t kQGemmMinRows = 16;
inline constexpr int64_t kQRowBlock = 384;

// W8A8:  Y[i][j] = (sum_c xq[i][c] * code[j][c]) * sx[i] * scale[j]   (int32 sum, exact)
//   xq (m, ldq) int8 activation codes, ldq = round_up(k, 4), padding columns 0; sx (m,) their
//   per-token scales;  W (n, k) in format kInt8Vnni. Overwrites Y[i][n0..n1). Single-threaded.
void qmatmul_a8(const int8_t* xq, const float* sx, int64_t m, int64_t ldq, const MatrixView& w,
                int64_t n0, int64_t n1, float* y, int64_t ldy, Isa isa);
inline int64_t a8_row_stride(int64_t k) { return (k + 3) / 4 * 4; }
// (Measured, Xeon with AMX, single thread, SmolLM2 shapes: at m = 1 the tiles are 10-20 % slower than
// VNNI, at m = 2 equal, from m = 3 faster: 5.3 vs 8.9 us for 576 x 576.)
inline constexpr int64_t kAmxMinRows = 3;

// Weight-only int4 / int8 (kInt4x16, kInt8x16) against int16 activations:
//   Y[i][j] = sum_b [ (sum_{c in block b} xq[i][c] * code[j][c]) * (scale[j][g(b)] * xs[i][b])
//                     - zero[j][g(b)] * scale[j][g(b)] * xz[i][b] ]
//   over the 32-column blocks b of the padded row (kp = i16_row_stride(k) columns; g(b) the
//   weight group holding block b; the zero term for int4 only, zero 8 if symmetric).
//   xq (m, kp) int16 codes, xs (m, kp / 32) their block scales, xz (m, kp / 32) xs times the
//   sum of the block's codes: quantize_act_i16's output (kernels/act_quant.h). Each block's sum
//   is exact in int32; every level then scales and accumulates in the order written, so all
//   levels give the same bits. Overwrites Y[i][n0..n1). Single-threaded.
//   input_unchanged: the caller's promise that nothing wrote to xq since this thread's previous
//   call, so a kernel may reuse what it derived from the codes then (for the same xq and sizes):
//   the pieces of one Linear, and the parts of a fused one, on one thread.
void qmatmul_i16(const int16_t* xq, const float* xs, const float* xz, int64_t m,
                 const MatrixView& w, int64_t n0, int64_t n1, float* y, int64_t ldy, Isa isa,
                 bool input_unchanged = false);
inline int64_t i16_row_stride(int64_t k) { return (k + 31) / 32 * 32; }
// At Isa::kAmx, qmatmul_i16 runs on AMX int8 tiles from this many tokens (the codes split in a
// high and a low byte); below, the AVX-512 VNNI code.
inline constexpr int64_t kAmxI16MinRows = 16;
inline constexpr int64_t kI16Block = 32;  // columns per activation scale

// FP8_DYNAMIC: W (n, k) in format kFp8 with one scale per row, against activations xf (m, k)
// fake-quantized per token (kernels/act_quant.h fake_quant_act_fp8: E4M3 values times their
// token's scale sx). Y as qmatmul(xf, ...) gives it, up to the order of the f32 additions: at
// Isa::kAmx from kAmxFp8MinRows tokens the codes (xf / sx, exact) and the weights' codes run on
// AMX BF16 tiles (E4M3 values are bf16 values, their products exact in f32), scaled at the end;
// otherwise qmatmul. Overwrites Y[i][n0..n1). Single-threaded.
void qmatmul_fp8_dynamic(const float* xf, const float* sx, int64_t m, const MatrixView& w,
                         int64_t n0, int64_t n1, float* y, int64_t ldy, Isa isa);
// (Measured, single thread, gate/up 576 -> 1536: the tile kernel takes ~96 us at any m up to 8,
// most of it converting W; the f32 kernels 42.5 / 104 / 123 / 241 us at m = 1 / 3 / 4 / 8.)
inline constexpr int64_t kAmxFp8MinRows = 4;
// True if qmatmul_fp8_dynamic runs W on the AMX tiles at isa (from kAmxFp8MinRows tokens): such
// calls convert every weight they use to bf16, so callers that split the tokens should make few.
bool fp8_dynamic_on_tiles(const MatrixView& w, Isa isa);

// Rows [r0, r1) of a compressed W decoded to f32: out (r1 - r0, k), in W's column order.
// Exactly the values compressed-tensors' dequantization gives ((code - zero) * scale).
void dequantize_rows(const MatrixView& w, int64_t r0, int64_t r1, float* out, Isa isa);

// True if this CPU has AVX-512 VNNI (vpdpbusd); qmatmul_a8 at Isa::kAvx512 uses it then, and
// the AVX2 code (16-bit multiply-adds) otherwise. At Isa::kAmx qmatmul_a8 runs on AMX tiles from
// m = kAmxMinRows tokens (below, the VNNI code: a tile holds 16 tokens).
bool has_avx512_vnni();

// ---- Per-ISA implementations, called by the dispatcher (kernels/qmatmul.cc). Arguments are
// checked there. qgemv takes any m (the dispatcher sends it m < kQGemmMinRows). ----
namespace ref {
void qgemv(const float* x, int64_t m, const MatrixView& w, int64_t n0, int64_t n1, float* y,
           int64_t ldy);
void qmatmul_a8(const int8_t* xq, const float* sx, int64_t m, int64_t ldq, const MatrixView& w,
                int64_t n0, int64_t n1, float* y, int64_t ldy);
void dequantize_rows(const MatrixView& w, int64_t r0, int64_t r1, float* out);
void qmatmul_i16(const int16_t* xq, const float* xs, const float* xz, int64_t m,
                 const MatrixView& w, int64_t n0, int64_t n1, float* y, int64_t ldy);
// Element (r, c) of W decoded (any compressed format).
float weight_at(const MatrixView& w, int64_t r, int64_t c);
// Scale and zero point of row r, group g (any compressed format; zero: 0 where codes are
// signed, 8 for symmetric int4).
float scale_at(const MatrixView& w, int64_t r, int64_t g);
float zero_at(const MatrixView& w, int64_t r, int64_t g);
}  // namespace ref
namespace avx2 {
void qgemv(const float* x, int64_t m, const MatrixView& w, int64_t n0, int64_t n1, float* y,
           int64_t ldy);
void qmatmul_a8(const int8_t* xq, const float* sx, int64_t m, int64_t ldq, const MatrixView& w,
                int64_t n0, int64_t n1, float* y, int64_t ldy);
void dequantize_rows(const MatrixView& w, int64_t r0, int64_t r1, float* out);
void qmatmul_i16(const int16_t* xq, const float* xs, const float* xz, int64_t m,
                 const MatrixView& w, int64_t n0, int64_t n1, float* y, int64_t ldy,
                 bool input_unchanged = false);
}  // namespace avx2
namespace avx512 {
void qgemv(const float* x, int64_t m, const MatrixView& w, int64_t n0, int64_t n1, float* y,
           int64_t ldy);
void dequantize_rows(const MatrixView& w, int64_t r0, int64_t r1, float* out);
}  // namespace avx512
namespace avx512vnni {
void qmatmul_a8(const int8_t* xq, const float* sx, int64_t m, int64_t ldq, const MatrixView& w,
                int64_t n0, int64_t n1, float* y, int64_t ldy);
void qmatmul_i16(const int16_t* xq, const float* xs, const float* xz, int64_t m,
                 const MatrixView& w, int64_t n0, int64_t n1, float* y, int64_t ldy);
}  // namespace avx512vnni
namespace amx {
void qmatmul_a8(const int8_t* xq, const float* sx, int64_t m, int64_t ldq, const MatrixView& w,
                int64_t n0, int64_t n1, float* y, int64_t ldy);
void qmatmul_fp8_dynamic(const float* xf, const float* sx, int64_t m, const MatrixView& w,
                         int64_t n0, int64_t n1, float* y, int64_t ldy);
void qmatmul_i16(const int16_t* xq, const float* xs, const float* xz, int64_t m,
                 const MatrixView& w, int64_t n0, int64_t n1, float* y, int64_t ldy);
}  // namespace amx

// Per-thread scratch distinct from matmul_scratch() (the f32 GEMM uses that one while the
// decoded rows live here): at least n floats, 64-byte aligned.
float* qmatmul_scratch(int64_t n);
// Per-thread scratch for what a kernel derives from its input and may keep across calls (see
// qmatmul_i16's input_unchanged); only the qmatmul_i16 kernels write it. As qmatmul_scratch.
float* qmatmul_input_scratch(int64_t n);

}  // namespace quanta::kernels
