// LlamaModel::quantize_lm_head_int8: an int8 copy of a dense lm_head for the W8A16 kernel.
#include <algorithm>

#include "core/error.h"
#include "kernels/isa.h"
#include "kernels/matmul.h"
#include "model/llama.h"
#include "quant/rtn.h"

namespace quanta {

void LlamaModel::quantize_lm_head_int8(int64_t group_size) {
  if (lm_head_quantized() || lm_head_.compressed())
    fail("--lm-head int8: the lm_head of this model is already quantized");
  const int64_t rows = lm_head_.rows, cols = lm_head_.cols;
  if (group_size < 0 || (group_size > 0 && (cols % group_size != 0 || group_size % 16 != 0)))
    fail("--lm-head int8: group size {} must be 0 (per row) or a multiple of 16 dividing {}",
         group_size, cols);
  QuantArgs args;
  args.num_bits = 8;
  args.symmetric = true;
  args.group_size = group_size;
  args.scale_rule = ScaleRule::kGgml;
  QuantizedWeight q;
  q.args = args;
  q.rows = rows;
  q.cols = cols;
  q.codes.reserve(size_t(rows * cols));
  q.scales.reserve(size_t(rows * q.n_groups()));
  // Chunks of rows, so the f32 copy stays small (the whole table in f32 would be 113 MB here).
  constexpr int64_t kChunk = 1024;
  std::vector<float> wf(size_t(std::min(rows, kChunk) * cols));
  for (int64_t r0 = 0; r0 < rows; r0 += kChunk) {
    const int64_t n = std::min(kChunk, rows - r0);
    kernels::to_f32(lm_head_.row(r0), lm_head_.dtype, wf.data(), n * cols, kernels::active_isa());
    const QuantizedWeight part = quantize_rtn(wf.data(), n, cols, args);
    q.codes.insert(q.codes.end(), part.codes.begin(), part.codes.end());
    q.scales.insert(q.scales.end(), part.scales.begin(), part.scales.end());
  }
  if (reference_path_) {
    lm_head_f32_ = std::make_unique<std::vector<float>>(size_t(rows * cols));
    q.dequantize(lm_head_f32_->data());
    lm_head_ = MatrixView{lm_head_f32_->data(), DType::kF32, rows, cols};
    return;
  }
  std::optional<PackedWeight> p = pack_weight(q, ActQuant::kNone);
  QUANTA_ASSERT(p.has_value());
  lm_head_packed_ = std::make_unique<PackedWeight>(std::move(*p));
  lm_head_ = lm_head_packed_->view;
}

}  // namespace quanta
