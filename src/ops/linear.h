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

// One output of linear_fused: y = x W^T (+ bias), W (rows, cols), y (m, rows); then, if set,
// residual += y (a decoder layer's skip connection), by the thread that computed those rows of y
// (no serial pass over the output, whose rows the other threads wrote).
struct LinearPart {
  const MatrixView* w = nullptr;
  const float* bias = nullptr;  // (rows) or nullptr
  float* y = nullptr;
  float* residual = nullptr;  // (m, rows) or nullptr
};

// Several Linears on the same input (q/k/v, gate/up) as one parallel section over their rows
// stacked, so a decode step pays one fork-join (and, for W8A8, one activation quantization)
// instead of one per matrix. Same numerics as linear() on each part. Parts must share cols;
// parts that differ in column order (act-order) or activation quantization run one by one.
void linear_fused(const float* x, int64_t m, const LinearPart* parts, int64_t n_parts,
                  ThreadPool& pool);

// Row `index` of an embedding table (vocab, dim), dense, converted to f32 -> out (dim,).
void embedding_row(const MatrixView& table, int64_t index, float* out);

}  // namespace quanta::ops
