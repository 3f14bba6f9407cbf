// GPTQ (Frantar et al. 2022), SparseGPT (Frantar & Alistarh 2023) and magnitude pruning on one
// Linear's weight W (rows = out features, cols = in features) given the Hessian H = 2 X X^T / n of
// its calibration inputs X (cols, n).
#pragma once

#include <cstdint>
#include <vector>

#include "quant/quant_args.h"

namespace quanta {

// Accumulates H = (2 / n) sum_t x_t x_t^T over calibration tokens (double precision).
class HessianAccumulator {
 public:
  explicit HessianAccumulator(int64_t cols);
  // x (n_tokens, cols) f32, row-major.
  void add(const float* x, int64_t n_tokens);
  int64_t cols() const { return cols_; }
  int64_t n_tokens() const { return n_; }
  // H (cols, cols), row-major.
  std::vector<double> hessian() const;

 private:
  int64_t cols_;
  int64_t n_ = 0;
  std::vector<double> sum_;  // sum x x^T
};

struct GptqOptions {
  double damp = 0.01;        // dampening: damp * mean(diag(H)) added to the diagonal
  int64_t block_size = 128;  // lazy batch update width
  // Sweep columns by descending diag(H): kStatic keeps contiguous groups with parameters from the
  // original weights; kGroup forms groups in sweep order (parameters at the sweep; g_idx).
  ActOrder actorder = ActOrder::kNone;
  // Compute every group's parameters up front from the original W (before the sweep), as
  // llm-compressor 0.14 does (its GPTQ keeps the RTN scales). Default: at the sweep, from the
  // updated weights, as IST-DASLab's gptq.py does. Per-channel parameters are always computed up
  // front (both references), and act-order implies this (see gptq_quantize).
  bool static_groups = false;
};

struct GptqResult {
  QuantizedWeight weight;
  double loss = 0;  // sum of squared-error terms as in the paper's implementation
};

// w (rows, cols) f32; h (cols, cols) from HessianAccumulator. Group parameters are computed as the
// sweep reaches each group (from the updated weights), as GPTQ's reference code does; dead columns
// (zero diagonal) are handled by setting H_ii = 1 and W[:, i] = 0.
// Act-order (opt.actorder, else args.actorder) sweeps columns by descending diag(H) (stable order
// on ties). kStatic, llm-compressor's default: group parameters come from the original contiguous
// groups (computed before the permutation) and g_idx[c] = c / group_size (the identity mapping; a
// compressed-tensors writer may omit it). kGroup: the i-th group is sweep positions
// [i*gs, (i+1)*gs), its parameters computed when the sweep reaches it from the updated weights,
// and g_idx[perm[j]] = j / gs.
// Throws quanta::Error on a Hessian of the wrong size, a group size that does not divide cols, or
// a Hessian that is not positive definite after dampening.
GptqResult gptq_quantize(const float* w, int64_t rows, int64_t cols, std::vector<double> h,
                         const QuantArgs& args, const GptqOptions& opt);

struct SparsityOptions {
  double sparsity = 0.5;  // unstructured fraction pruned (when n == 0)
  int n = 0, m = 0;       // n:m semi-structured (e.g. 2:4: 2 zeros in every 4 consecutive inputs)
};

// SparseGPT: prunes w in place (mask chosen blockwise by w^2 / diag(H^-1)^2, the rest updated).
// If quant != nullptr, jointly quantizes and returns the quantized weight in *out (per-channel
// parameters from the original W as sparsegpt.py does; group parameters at the sweep as GPTQ).
// Unstructured: in each block of block_size columns (all rows together), the entries whose score is
// <= the sorted scores' element at floor(numel * sparsity) are pruned, as the reference does.
// n:m: in each row, of every m consecutive columns the n with the lowest score are pruned (block
// size rounded up to a multiple of m). Returns the loss; act-order is not supported.
double sparsegpt_prune(float* w, int64_t rows, int64_t cols, std::vector<double> h,
                       const SparsityOptions& sp, const GptqOptions& opt,
                       const QuantArgs* quant = nullptr, QuantizedWeight* out = nullptr);

// Baseline: zeroes the smallest |w| (per row for n:m; over the whole matrix otherwise, i.e. one
// threshold per layer as llm-compressor's MagnitudePruningModifier): exactly
// round(sparsity * rows * cols) entries, ties broken by position (row-major, lower index first).
void magnitude_prune(float* w, int64_t rows, int64_t cols, const SparsityOptions& sp);

}  // namespace quanta
