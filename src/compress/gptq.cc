// GPTQ (Frantar et al. 2022): quantizes W column by column in the order of the inverse-Hessian
// Cholesky factor, spreading each column's error over the columns not yet quantized.
#include "compress/gptq.h"

#include <algorithm>
#include <numeric>

#include "compress/obs_sweep.h"
#include "core/error.h"
#include "quant/rtn.h"

namespace quanta {

GptqResult gptq_quantize(const float* w, int64_t rows, int64_t cols, std::vector<double> h,
                         const QuantArgs& args, const GptqOptions& opt) {
  constexpr const char* kWho = "gptq_quantize";
  if (rows <= 0 || cols <= 0) fail("{}: empty weight ({} x {})", kWho, rows, cols);
  obs::check_hessian(h, cols, kWho);
  if (args.group_size < 0) fail("{}: negative group_size {}", kWho, args.group_size);
  if (args.group_size > 0 && cols % args.group_size != 0)
    fail("{}: group_size {} does not divide the {} input columns", kWho, args.group_size, cols);
  if (opt.block_size <= 0) fail("{}: block_size must be positive, got {}", kWho, opt.block_size);
  if (!(opt.damp >= 0)) fail("{}: damp must be >= 0, got {}", kWho, opt.damp);

  const ActOrder order = opt.actorder != ActOrder::kNone ? opt.actorder : args.actorder;
  const bool actorder = order != ActOrder::kNone;
  const bool group_order = order == ActOrder::kGroup && args.group_size > 0;
  const int64_t gs = args.group_size > 0 ? args.group_size : cols;
  const int64_t ng = cols / gs;

  obs::Sweep s;
  s.rows = rows;
  s.cols = cols;
  s.block_size = opt.block_size;
  s.quant = &args;
  s.n_groups = ng;
  s.params.resize(size_t(rows * ng));
  s.params_at_sweep = group_order || (args.group_size > 0 && !actorder && !opt.static_groups);
  if (!s.params_at_sweep) {
    // From the original weights, before dead columns are zeroed (as llm-compressor's observer).
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t g = 0; g < ng; ++g)
        s.params[size_t(r * ng + g)] = compute_qparams(w + r * cols + g * gs, gs, args);
  }

  std::vector<double> wd(w, w + rows * cols);
  obs::mask_dead_columns(wd, rows, h, cols);

  std::vector<int64_t> perm(static_cast<size_t>(cols));
  std::iota(perm.begin(), perm.end(), 0);
  if (actorder) {
    std::stable_sort(perm.begin(), perm.end(), [&](int64_t a, int64_t b) {
      return h[size_t(a * cols + a)] > h[size_t(b * cols + b)];
    });
    std::vector<double> hp(h.size()), wp(wd.size());
    for (int64_t i = 0; i < cols; ++i)
      for (int64_t j = 0; j < cols; ++j)
        hp[size_t(i * cols + j)] = h[size_t(perm[size_t(i)] * cols + perm[size_t(j)])];
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < cols; ++j)
        wp[size_t(r * cols + j)] = wd[size_t(r * cols + perm[size_t(j)])];
    h.swap(hp);
    wd.swap(wp);
  }
  s.col_group.resize(size_t(cols));
  for (int64_t j = 0; j < cols; ++j)
    s.col_group[size_t(j)] = int32_t((group_order ? j : perm[size_t(j)]) / gs);

  const std::vector<double> u = obs::inverse_hessian_cholesky(std::move(h), cols, opt.damp, kWho);
  const obs::SweepOut so = obs::run_sweep(s, wd, u);

  GptqResult res;
  res.loss = so.loss;
  QuantizedWeight& q = res.weight;
  q.args = args;
  q.args.actorder = order;
  q.rows = rows;
  q.cols = cols;
  q.codes.resize(size_t(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j)
      // Asymmetric 8-bit codes up to 255 are kept as the byte (as quantize_rtn does).
      q.codes[size_t(r * cols + perm[size_t(j)])] =
          static_cast<int8_t>(static_cast<uint8_t>(so.codes[size_t(r * cols + j)] & 0xff));
  const bool asym = args.type == QuantType::kInt && !args.symmetric;
  q.scales.resize(size_t(rows * ng));
  if (asym) q.zeros.resize(size_t(rows * ng));
  for (size_t i = 0; i < s.params.size(); ++i) {
    q.scales[i] = s.params[i].scale;
    if (asym) q.zeros[i] = s.params[i].zero;
  }
  if (actorder && args.group_size > 0) {
    q.g_idx.resize(size_t(cols));
    for (int64_t j = 0; j < cols; ++j)
      q.g_idx[size_t(perm[size_t(j)])] = int32_t((group_order ? j : perm[size_t(j)]) / gs);
  }
  return res;
}

}  // namespace quanta
