// y = x W^T (+ b), split over the thread pool: W dense (F32, F16, BF16) or compressed
// (core/tensor.h WeightFormat), with W's dynamic activation quantization (W8A8, FP8_DYNAMIC)
// applied to x per token inside, so every caller gets the same numerics.
#pragma once

#include <cstdint>

#include "core/tensor.h"
#include "core/thread_pool.h"

namespace quanta::ops {

// x (m, w.cols) f32 -> y (m, w.rows) f32; bias (w.rows) or nullptr. x is not modified.
void linear(const float* x, int64_t m, const MatrixView& w, const float* bias, float* y,
            ThreadPool& pool);

// Row `index` of an embedding table (vocab, dim), dense, converted to f32 -> out (dim,).
void embedding_row(const MatrixView& table, int64_t index, float* out);

}  // namespace quanta::ops
