#include "quant/packed_weight.h"

#include <algorithm>
#include <numeric>

#include "core/dtype.h"
#include "core/error.h"

namespace quanta {
namespace {

bool groups_ok(const QuantArgs& a, int64_t multiple) {
  return a.group_size == 0 || a.group_size % multiple == 0;
}

// Column order that makes every group contiguous: columns sorted by group (stable). Empty if
// no g_idx; nullopt if some group does not hold exactly group_size columns.
std::optional<std::vector<int32_t>> group_order(const QuantizedWeight& q) {
  if (q.g_idx.empty()) return std::vector<int32_t>{};
  if (q.args.group_size <= 0) return std::nullopt;
  std::vector<int32_t> perm(size_t(q.cols));
  std::iota(perm.begin(), perm.end(), 0);
  std::stable_sort(perm.begin(), perm.end(),
                   [&](int32_t a, int32_t b) { return q.g_idx[size_t(a)] < q.g_idx[size_t(b)]; });
  for (int64_t i = 0; i < q.cols; ++i)
    if (q.g_idx[size_t(perm[size_t(i)])] != i / q.args.group_size) return std::nullopt;
  return perm;
}

// Code of element (r, c) in the kernel's column order.
int8_t code_at(const QuantizedWeight& q, const std::vector<int32_t>& perm, int64_t r, int64_t c) {
  return q.codes[size_t(r * q.cols + (perm.empty() ? c : perm[size_t(c)]))];
}

void finish_view(PackedWeight& p, const QuantizedWeight& q, WeightFormat f, ActQuant act) {
  MatrixView& v = p.view;
  v.data = p.data.data();
  v.rows = q.rows;
  v.cols = q.cols;
  v.format = f;
  v.act = act;
  v.group_size = q.args.group_size;
  v.scales = p.scales.empty() ? nullptr : p.scales.data();
  v.zeros = p.zeros.empty() ? nullptr : p.zeros.data();
  v.scales_f16 = p.scales_f16.empty() ? nullptr : p.scales_f16.data();
  v.zeros_f16 = p.zeros_f16.empty() ? nullptr : p.zeros_f16.data();
  v.row_sums = p.row_sums.empty() ? nullptr : p.row_sums.data();
  v.col_perm = p.col_perm.empty() ? nullptr : p.col_perm.data();
  v.packed_bytes = p.data.size() + 4 * (p.scales.size() + p.zeros.size() + p.row_sums.size() +
                                        p.col_perm.size()) +
                   2 * (p.scales_f16.size() + p.zeros_f16.size());
}

// Scales (and zeros) of q (rows, n_groups) in the 16-row block layout (row_blocks, n_groups, 16);
// padding rows get 0.
template <typename T>
std::vector<float> block_rows(const std::vector<T>& v, int64_t rows, int64_t ng) {
  const int64_t nb = (rows + 15) / 16;
  std::vector<float> out(size_t(nb * ng * 16), 0.0f);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < ng; ++g) out[size_t(((r / 16) * ng + g) * 16 + r % 16)] = float(v[size_t(r * ng + g)]);
  return out;
}

int64_t padded_cols(int64_t k) { return (k + 31) / 32 * 32; }

bool f16_exact(const std::vector<float>& v) {
  for (float f : v)
    if (f16_to_f32(f32_to_f16(f)) != f) return false;
  return true;
}
std::vector<uint16_t> to_f16(const std::vector<float>& v) {
  std::vector<uint16_t> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = f32_to_f16(v[i]);
  return out;
}

// Replaces p's f32 scales (and zeros) by f16 ones if every value is exactly an f16.
void to_f16_if_exact(PackedWeight& p) {
  if (!f16_exact(p.scales) || !f16_exact(p.zeros)) return;
  p.scales_f16 = to_f16(p.scales);
  p.zeros_f16 = to_f16(p.zeros);
  p.scales.clear();
  p.zeros.clear();
}

void pack_int4_x16(const QuantizedWeight& q, const std::vector<int32_t>& perm, PackedWeight& p) {
  const int64_t kp = padded_cols(q.cols), nb = (q.rows + 15) / 16;
  const bool sym = q.args.symmetric;
  p.data.assign(size_t(nb * 16 * kp / 2), 0);
  for (int64_t r = 0; r < q.rows; ++r) {
    for (int64_t c = 0; c < q.cols; ++c) {
      // Stored codes: symmetric signed [-8, 7] -> [0, 15] with zero 8; asymmetric already so.
      const int32_t code = sym ? int32_t(code_at(q, perm, r, c)) + 8
                               : int32_t(uint8_t(code_at(q, perm, r, c)));
      QUANTA_ASSERT(code >= 0 && code <= 15);
      const int64_t e = c % 8, nib = e % 2 == 0 ? e / 2 : 4 + e / 2;
      uint8_t& byte = p.data[size_t((r / 16) * 8 * kp + (c / 8) * 64 + (r % 16) * 4 + nib / 2)];
      byte |= uint8_t(code << (nib % 2 == 0 ? 0 : 4));
    }
  }
  if (!sym) p.zeros = block_rows(q.zeros, q.rows, q.n_groups());
}

void pack_int8_x16(const QuantizedWeight& q, const std::vector<int32_t>& perm, PackedWeight& p) {
  const int64_t kp = padded_cols(q.cols), nb = (q.rows + 15) / 16;
  p.data.assign(size_t(nb * 16 * kp), 0);
  for (int64_t r = 0; r < q.rows; ++r)
    for (int64_t c = 0; c < q.cols; ++c)
      p.data[size_t((r / 16) * 16 * kp + (c / 2) * 32 + (r % 16) * 2 + c % 2)] =
          uint8_t(code_at(q, perm, r, c));
}

void pack_bytes(const QuantizedWeight& q, const std::vector<int32_t>& perm, PackedWeight& p) {
  p.data.resize(size_t(q.rows * q.cols));
  for (int64_t r = 0; r < q.rows; ++r)
    for (int64_t c = 0; c < q.cols; ++c)
      p.data[size_t(r * q.cols + c)] = uint8_t(code_at(q, perm, r, c));
}

void pack_vnni(const QuantizedWeight& q, PackedWeight& p) {
  const int64_t k4 = (q.cols + 3) / 4 * 4, rows16 = (q.rows + 15) / 16 * 16;
  p.data.assign(size_t(rows16 * k4), 0);
  p.row_sums.assign(size_t(q.rows), 0);
  for (int64_t r = 0; r < q.rows; ++r) {
    for (int64_t c = 0; c < q.cols; ++c) {
      const int8_t code = q.codes[size_t(r * q.cols + c)];
      p.data[size_t((r / 16) * 16 * k4 + (c / 4) * 64 + (r % 16) * 4 + c % 4)] = uint8_t(code);
      p.row_sums[size_t(r)] += code;
    }
  }
}

}  // namespace

std::optional<ActQuant> act_quant_kind(const std::optional<QuantArgs>& act) {
  if (!act) return ActQuant::kNone;
  if (!act->dynamic || !act->symmetric || act->group_size != 0 || act->num_bits != 8)
    return std::nullopt;
  return act->type == QuantType::kInt ? ActQuant::kInt8PerToken : ActQuant::kFp8PerToken;
}

std::optional<PackedWeight> pack_weight(const QuantizedWeight& q, ActQuant act) {
  const QuantArgs& a = q.args;
  const bool is_int = a.type == QuantType::kInt;
  const auto perm = group_order(q);
  if (!perm) return std::nullopt;
  PackedWeight p;
  WeightFormat f;
  if (act == ActQuant::kInt8PerToken && is_int && a.num_bits == 8 && a.symmetric &&
      a.group_size == 0 && q.g_idx.empty()) {
    pack_vnni(q, p);
    f = WeightFormat::kInt8Vnni;
  } else if (is_int && a.num_bits == 4 && groups_ok(a, 32)) {
    pack_int4_x16(q, *perm, p);
    f = WeightFormat::kInt4x16;
  } else if (is_int && a.num_bits == 8 && a.symmetric && groups_ok(a, 32)) {
    pack_int8_x16(q, *perm, p);
    f = WeightFormat::kInt8x16;
  } else if (is_int && a.num_bits == 8 && a.symmetric && groups_ok(a, 16)) {
    pack_bytes(q, *perm, p);
    f = WeightFormat::kInt8;
  } else if (!is_int && a.num_bits == 8 && groups_ok(a, 16)) {
    pack_bytes(q, *perm, p);
    f = WeightFormat::kFp8;
  } else {
    return std::nullopt;
  }
  if (f == WeightFormat::kInt4x16 || f == WeightFormat::kInt8x16) {
    p.scales = block_rows(q.scales, q.rows, q.n_groups());
    to_f16_if_exact(p);
  } else {
    p.scales.assign(q.scales.begin(), q.scales.end());
  }
  p.col_perm = *perm;
  finish_view(p, q, f, act);
  return p;
}

}  // namespace quanta
