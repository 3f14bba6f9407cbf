// Internal to src/compress: the column sweep shared by GPTQ and SparseGPT (the Optimal Brain
// Surgeon update with lazy block updates, section 3.4 of the GPTQ paper), and its Hessian
// preparation. Not part of the public API.
#pragma once

#include <cstdint>
#include <vector>

#include "compress/gptq.h"
#include "quant/rtn.h"

namespace quanta::obs {

// Checks h has cols * cols entries; names `who` in the error.
void check_hessian(const std::vector<double>& h, int64_t cols, const char* who);

// Dead inputs (H_ii == 0): H_ii = 1 and W[:, i] = 0. w (rows, cols), h (cols, cols) row-major.
void mask_dead_columns(std::vector<double>& w, int64_t rows, std::vector<double>& h, int64_t cols);

// h (cols, cols) -> upper Cholesky factor U of (h + damp * mean(diag h) I)^-1 (= U^T U), row-major
// with the strict lower triangle zeroed; in double via LAPACK potrf/trtri. Throws naming
// `who` if h is not positive definite after dampening.
std::vector<double> inverse_hessian_cholesky(std::vector<double> h, int64_t cols, double damp,
                                             const char* who);

struct Sweep {
  int64_t rows = 0, cols = 0;
  int64_t block_size = 128;
  // Quantization (nullptr: none). params (rows, n_groups) are used for sweep column j as
  // params[r * n_groups + col_group[j]]; if params_at_sweep, params of group col_group[j] are
  // (re)computed when j % group_size == 0 from the group's current, fully updated weights.
  const QuantArgs* quant = nullptr;
  int64_t n_groups = 1;
  std::vector<QParams> params;
  std::vector<int32_t> col_group;  // (cols,)
  // Note: IST-DASLab's gptq.py reads a group's weights from the global W, which for a group that
  // starts inside a lazy block lacks that block's updates so far; here they are all applied, so
  // the result does not depend on block_size (the numpy reference has no blocks at all).
  bool params_at_sweep = false;
  // Pruning (nullptr: none).
  const SparsityOptions* prune = nullptr;
};

struct SweepOut {
  std::vector<int32_t> codes;  // (rows, cols) in sweep order, quantized only
  double loss = 0;             // sum over columns of (w - q)^2 / Hinv_jj^2, halved
};

// w (rows, cols) row-major double, in sweep order: replaced by the final (pruned / dequantized)
// weights. u from inverse_hessian_cholesky.
SweepOut run_sweep(Sweep& s, std::vector<double>& w, const std::vector<double>& u);

}  // namespace quanta::obs
