// SparseGPT (Frantar & Alistarh 2023): prunes W with the same OBS sweep as GPTQ; the mask is
// chosen by w^2 / diag(H^-1)^2 (U's diagonal squared: diag of H^-1's Cholesky factor, as the
// reference uses) and optionally the kept weights are quantized in the same pass.
#include <algorithm>

#include "compress/gptq.h"
#include "compress/obs_sweep.h"
#include "core/error.h"
#include "quant/rtn.h"

namespace quanta {

double sparsegpt_prune(float* w, int64_t rows, int64_t cols, std::vector<double> h,
                       const SparsityOptions& sp, const GptqOptions& opt, const QuantArgs* quant,
                       QuantizedWeight* out) {
  constexpr const char* kWho = "sparsegpt_prune";
  if (rows <= 0 || cols <= 0) fail("{}: empty weight ({} x {})", kWho, rows, cols);
  obs::check_hessian(h, cols, kWho);
  if (sp.n > 0 || sp.m > 0) {
    if (sp.n <= 0 || sp.m <= 0 || sp.n > sp.m)
      fail("{}: n:m sparsity needs 0 < n <= m, got {}:{}", kWho, sp.n, sp.m);
    if (cols % sp.m != 0) fail("{}: m = {} does not divide the {} input columns", kWho, sp.m, cols);
  } else if (!(sp.sparsity >= 0 && sp.sparsity < 1)) {
    fail("{}: sparsity must be in [0, 1), got {}", kWho, sp.sparsity);
  }
  if (opt.block_size <= 0) fail("{}: block_size must be positive, got {}", kWho, opt.block_size);
  if (!(opt.damp >= 0)) fail("{}: damp must be >= 0, got {}", kWho, opt.damp);
  if (opt.actorder != ActOrder::kNone || (quant && quant->actorder != ActOrder::kNone))
    fail("{}: act-order is not supported with pruning", kWho);
  if (quant && out == nullptr) fail("{}: quant given without an output QuantizedWeight", kWho);

  obs::Sweep s;
  s.rows = rows;
  s.cols = cols;
  s.block_size = opt.block_size;
  s.prune = &sp;
  int64_t gs = cols;
  if (quant) {
    if (quant->group_size < 0) fail("{}: negative group_size {}", kWho, quant->group_size);
    if (quant->group_size > 0 && cols % quant->group_size != 0)
      fail("{}: group_size {} does not divide the {} input columns", kWho, quant->group_size, cols);
    gs = quant->group_size > 0 ? quant->group_size : cols;
    s.quant = quant;
    s.n_groups = cols / gs;
    s.params.resize(size_t(rows * s.n_groups));
    s.params_at_sweep = quant->group_size > 0 && !opt.static_groups;
    if (!s.params_at_sweep)
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t g = 0; g < s.n_groups; ++g)
          s.params[size_t(r * s.n_groups + g)] = compute_qparams(w + r * cols + g * gs, gs, *quant);
    s.col_group.resize(size_t(cols));
    for (int64_t j = 0; j < cols; ++j) s.col_group[size_t(j)] = int32_t(j / gs);
  }

  std::vector<double> wd(w, w + rows * cols);
  obs::mask_dead_columns(wd, rows, h, cols);
  const std::vector<double> u = obs::inverse_hessian_cholesky(std::move(h), cols, opt.damp, kWho);
  const obs::SweepOut so = obs::run_sweep(s, wd, u);
  for (int64_t i = 0; i < rows * cols; ++i) w[i] = float(wd[size_t(i)]);

  if (quant) {
    QuantizedWeight& q = *out;
    q = QuantizedWeight{};
    q.args = *quant;
    q.rows = rows;
    q.cols = cols;
    q.codes.resize(size_t(rows * cols));
    for (int64_t i = 0; i < rows * cols; ++i)
      q.codes[size_t(i)] = static_cast<int8_t>(static_cast<uint8_t>(so.codes[size_t(i)] & 0xff));
    const bool asym = quant->type == QuantType::kInt && !quant->symmetric;
    q.scales.resize(s.params.size());
    if (asym) q.zeros.resize(s.params.size());
    for (size_t i = 0; i < s.params.size(); ++i) {
      q.scales[i] = s.params[i].scale;
      if (asym) q.zeros[i] = s.params[i].zero;
    }
  }
  return so.loss;
}

}  // namespace quanta
