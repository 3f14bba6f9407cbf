// The OBS column sweep shared by GPTQ and SparseGPT. Shapes: w (rows, cols) row-major double in
// sweep order; u (cols, cols) upper Cholesky factor of H^-1, so that row j of u from column j on
// is the update direction for the remaining columns after column j is fixed.
#include "compress/obs_sweep.h"

#include <cblas.h>
#include <lapacke.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"

namespace quanta::obs {

void check_hessian(const std::vector<double>& h, int64_t cols, const char* who) {
  if (int64_t(h.size()) != cols * cols)
    fail("{}: Hessian has {} entries, expected cols * cols = {} * {} = {}", who, h.size(), cols,
         cols, cols * cols);
}

void mask_dead_columns(std::vector<double>& w, int64_t rows, std::vector<double>& h, int64_t cols) {
  for (int64_t i = 0; i < cols; ++i) {
    if (h[size_t(i * cols + i)] != 0.0) continue;
    h[size_t(i * cols + i)] = 1.0;
    for (int64_t r = 0; r < rows; ++r) w[size_t(r * cols + i)] = 0.0;
  }
}

std::vector<double> inverse_hessian_cholesky(std::vector<double> h, int64_t cols, double damp,
                                             const char* who) {
  const lapack_int n = lapack_int(cols);
  double mean_diag = 0;
  for (int64_t i = 0; i < cols; ++i) mean_diag += h[size_t(i * cols + i)];
  mean_diag /= double(cols);
  for (int64_t i = 0; i < cols; ++i) h[size_t(i * cols + i)] += damp * mean_diag;
  // With P the reversal permutation and P H P = L L^T: H^-1 = (P L^-1 P)^T (P L^-1 P), and
  // P L^-1 P is upper triangular with a positive diagonal, so it is the upper Cholesky factor of
  // H^-1. One potrf + one trtri (2/3 n^3 flops) instead of the reference's potrf, potri, potrf.
  std::vector<double> r(h.size());
  for (int64_t i = 0; i < cols; ++i)
    for (int64_t j = 0; j < cols; ++j)
      r[size_t(i * cols + j)] = h[size_t((cols - 1 - i) * cols + (cols - 1 - j))];
  // Note: called column-major on the row-major array (its transpose), so 'U' there is L here;
  // LAPACKE's row-major entry points would transpose copies of the matrix.
  lapack_int info = LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'U', n, r.data(), n);
  if (info == 0) info = LAPACKE_dtrtri(LAPACK_COL_MAJOR, 'U', 'N', n, r.data(), n);
  if (info != 0)
    fail(
        "{}: the dampened Hessian ({} x {}, damp {}) is not positive definite (LAPACK info {}); "
        "increase damp or the calibration data",
        who, cols, cols, damp, int(info));
  for (int64_t i = 0; i < cols; ++i)
    for (int64_t j = 0; j < cols; ++j)
      h[size_t(i * cols + j)] = j < i ? 0.0 : r[size_t((cols - 1 - i) * cols + (cols - 1 - j))];
  return h;
}

namespace {

// Marks in mask (rows, cnt) the `frac` of the block with the lowest w^2 / u_jj^2, as SparseGPT's
// reference does: threshold = the sorted scores' element at floor(numel * frac), mask = score <=
// threshold (so floor(numel * frac) + 1 entries, more with ties).
void unstructured_mask(const std::vector<double>& w1, int64_t rows, int64_t cnt,
                       const double* diag_u, double frac, std::vector<char>& mask) {
  const int64_t numel = rows * cnt;
  std::vector<double> score(static_cast<size_t>(numel));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < cnt; ++k) {
      const double v = w1[size_t(r * cnt + k)];
      score[size_t(r * cnt + k)] = v * v / (diag_u[k] * diag_u[k]);
    }
  if (frac <= 0) {
    std::fill(mask.begin(), mask.end(), 0);
    return;
  }
  std::vector<double> sorted = score;
  const int64_t kth = std::min(numel - 1, int64_t(double(numel) * frac));
  std::nth_element(sorted.begin(), sorted.begin() + kth, sorted.end());
  const double thresh = sorted[size_t(kth)];
  for (int64_t i = 0; i < numel; ++i) mask[size_t(i)] = score[size_t(i)] <= thresh;
}

}  // namespace

SweepOut run_sweep(Sweep& s, std::vector<double>& w, const std::vector<double>& u) {
  const int64_t rows = s.rows, cols = s.cols;
  const QuantArgs* qa = s.quant;
  const int64_t gs = (qa && qa->group_size > 0) ? qa->group_size : cols;
  const bool nm = s.prune && s.prune->n > 0;
  const int64_t pm = nm ? s.prune->m : 0;
  int64_t bs = std::max<int64_t>(1, s.block_size);
  if (nm && bs % pm != 0) bs = (bs / pm + 1) * pm;  // n:m groups must not straddle blocks

  SweepOut out;
  if (qa) out.codes.assign(size_t(rows * cols), 0);
  std::vector<double> w1, err1;
  std::vector<char> mask1;
  std::vector<float> gbuf(static_cast<size_t>(gs));
  std::vector<double> score;
  std::vector<int64_t> order;
  for (int64_t i1 = 0; i1 < cols; i1 += bs) {
    const int64_t i2 = std::min(i1 + bs, cols), cnt = i2 - i1;
    w1.resize(size_t(rows * cnt));
    for (int64_t r = 0; r < rows; ++r)
      std::copy(w.begin() + r * cols + i1, w.begin() + r * cols + i2, w1.begin() + r * cnt);
    err1.assign(size_t(rows * cnt), 0.0);
    mask1.assign(size_t(rows * cnt), 0);
    std::vector<double> diag_u(static_cast<size_t>(cnt));
    for (int64_t k = 0; k < cnt; ++k) diag_u[size_t(k)] = u[size_t((i1 + k) * cols + i1 + k)];
    if (s.prune && !nm) unstructured_mask(w1, rows, cnt, diag_u.data(), s.prune->sparsity, mask1);

    for (int64_t i = 0; i < cnt; ++i) {
      const int64_t j = i1 + i;
      const double d = diag_u[size_t(i)];
      const double* urow = u.data() + j * cols;  // u[j, :]
      if (nm && i % pm == 0) {
        // In each row, prune the n of the next m columns with the lowest w^2 / u_jj^2 (ties: the
        // lower column first).
        const int64_t mm = std::min(pm, cnt - i);
        score.resize(size_t(mm));
        order.resize(size_t(mm));
        for (int64_t r = 0; r < rows; ++r) {
          for (int64_t k = 0; k < mm; ++k) {
            const double v = w1[size_t(r * cnt + i + k)];
            score[size_t(k)] = v * v / (diag_u[size_t(i + k)] * diag_u[size_t(i + k)]);
          }
          std::iota(order.begin(), order.end(), 0);
          std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
            return score[size_t(a)] < score[size_t(b)];
          });
          for (int64_t k = 0; k < std::min<int64_t>(s.prune->n, mm); ++k)
            mask1[size_t(r * cnt + i + order[size_t(k)])] = 1;
        }
      }
      if (qa && s.params_at_sweep && j % gs == 0) {
        // Group parameters from the group's weights with every update so far applied: columns in
        // this block from w1; later ones still lack this block's pending update err1 @ u[i1:j, c].
        const int64_t g = s.col_group[size_t(j)];
        const int64_t gend = std::min(j + gs, cols);
        for (int64_t r = 0; r < rows; ++r) {
          for (int64_t c = j; c < gend; ++c) {
            double v;
            if (c < i2) {
              v = w1[size_t(r * cnt + c - i1)];
            } else {
              v = w[size_t(r * cols + c)];
              for (int64_t k = 0; k < i; ++k)
                v -= err1[size_t(r * cnt + k)] * u[size_t((i1 + k) * cols + c)];
            }
            gbuf[size_t(c - j)] = float(v);
          }
          s.params[size_t(r * s.n_groups + g)] = compute_qparams(gbuf.data(), gend - j, *qa);
        }
      }
      const int64_t g = qa ? s.col_group[size_t(j)] : 0;
      for (int64_t r = 0; r < rows; ++r) {
        double* wr = w1.data() + r * cnt;
        const double wv = wr[i];
        double qv = mask1[size_t(r * cnt + i)] ? 0.0 : wv;
        if (qa) {
          const QParams& p = s.params[size_t(r * s.n_groups + g)];
          const int32_t code = quantize_value(float(qv), p, *qa);
          out.codes[size_t(r * cols + j)] = code;
          qv = double(dequantize_value(code, p, *qa));
        }
        const double e = (wv - qv) / d;
        out.loss += e * e / 2;
        err1[size_t(r * cnt + i)] = e;
        wr[i] = qv;
        for (int64_t k = i + 1; k < cnt; ++k) wr[k] -= e * urow[i1 + k];
      }
    }
    for (int64_t r = 0; r < rows; ++r)
      std::copy(w1.begin() + r * cnt, w1.begin() + (r + 1) * cnt, w.begin() + r * cols + i1);
    if (i2 < cols) {
      // w[:, i2:] -= err1 (rows, cnt) @ u[i1:i2, i2:] (cnt, cols - i2)
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(rows), int(cols - i2), int(cnt),
                  -1.0, err1.data(), int(cnt), u.data() + i1 * cols + i2, int(cols), 1.0,
                  w.data() + i2, int(cols));
    }
  }
  return out;
}

}  // namespace quanta::obs
