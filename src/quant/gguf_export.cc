#include "quant/gguf_export.h"

#include <fmt/ranges.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <optional>

#include "core/dtype.h"
#include "core/error.h"
#include "core/sha256.h"
#include "io/gguf.h"
#include "io/gguf_export_meta.h"
#include "io/gguf_writer.h"
#include "io/hf_config.h"
#include "io/manifest.h"
#include "io/safetensors.h"
#include "quant/compressed_tensors.h"
#include "quant/ggml_blocks.h"

namespace quanta {
namespace {

namespace fs = std::filesystem;

// A dense output type for 2-D tensors.
enum class DenseType { kAuto, kF16, kBF16, kF32, kQ8_0 };

DenseType parse_type(const std::string& s, const char* flag, bool allow_q8) {
  if (s == "auto") return DenseType::kAuto;
  if (s == "f16") return DenseType::kF16;
  if (s == "bf16") return DenseType::kBF16;
  if (s == "f32") return DenseType::kF32;
  if (allow_q8 && s == "q8_0") return DenseType::kQ8_0;
  fail("{} '{}': expected auto, f16, bf16, f32{}", flag, s, allow_q8 ? " or q8_0" : "");
}

std::vector<float> to_f32(const TensorInfo& t) {
  const int64_t n = t.numel();
  std::vector<float> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    switch (t.dtype) {
      case DType::kF32:
        std::memcpy(&out[size_t(i)], t.data + i * 4, 4);
        break;
      case DType::kBF16:
        std::memcpy(&h, t.data + i * 2, 2);
        out[size_t(i)] = bf16_to_f32(h);
        break;
      case DType::kF16:
        std::memcpy(&h, t.data + i * 2, 2);
        out[size_t(i)] = f16_to_f32(h);
        break;
      default:
        fail("tensor {} in {}: dtype {} cannot be exported (expected F32, BF16 or F16)", t.name,
             t.file, dtype_name(t.dtype));
    }
  }
  return out;
}

// GGUF row h*hd + 2i + j holds HF row h*hd + j*hd/2 + i (convert_hf_to_gguf.py's permute), for
// rows of `row_bytes` bytes each (any encoding: the permutation moves whole rows).
std::vector<uint8_t> permute_qk_rows(const std::vector<uint8_t>& in, int64_t rows,
                                     size_t row_bytes, int64_t n_head) {
  QUANTA_ASSERT(n_head > 0 && rows % (2 * n_head) == 0);
  const int64_t hd = rows / n_head, half = hd / 2;
  std::vector<uint8_t> out(in.size());
  for (int64_t h = 0; h < n_head; ++h)
    for (int64_t i = 0; i < half; ++i)
      for (int64_t j = 0; j < 2; ++j)
        std::memcpy(&out[size_t(h * hd + 2 * i + j) * row_bytes],
                    &in[size_t(h * hd + j * half + i) * row_bytes], row_bytes);
  return out;
}

struct Exporter {
  explicit Exporter(const GgufExportOptions& o) : opt(o) {}

  const GgufExportOptions& opt;
  ModelConfig cfg;
  TensorStore store;
  std::map<std::string, QuantizedWeight> quantized;
  DenseType type = DenseType::kAuto, embed_type = DenseType::kAuto;
  GgufWriter w;
  GgufExportSummary sum;
  std::optional<GgmlType> linear_type;  // the type of the quantized Linears, if any

  GgmlType dense_ggml_type(DenseType t, DType src) const {
    switch (t) {
      case DenseType::kF16:
        return GgmlType::kF16;
      case DenseType::kBF16:
        return GgmlType::kBF16;
      case DenseType::kF32:
        return GgmlType::kF32;
      case DenseType::kQ8_0:
        return GgmlType::kQ8_0;
      case DenseType::kAuto:
        break;
    }
    return src == DType::kBF16 ? GgmlType::kBF16 : GgmlType::kF16;  // F32 -> F16, as the converter
  }

  void add(const std::string& name, GgmlType t, int64_t rows, int64_t cols,
           std::vector<uint8_t>&& bytes) {
    std::vector<int64_t> dims = rows > 0 ? std::vector<int64_t>{cols, rows} : std::vector<int64_t>{cols};
    w.add_tensor(name, t, std::move(dims), std::move(bytes));
    ++sum.n_tensors;
    sum.n_params += (rows > 0 ? rows : 1) * cols;
    ++sum.tensors_by_type[std::string(ggml_type_name(t))];
  }

  // A 1-D norm: always F32 (as the converter writes them).
  void add_norm(const std::string& hf, const std::string& gguf) {
    const TensorInfo& t = store.get(hf);
    if (t.shape != std::vector<int64_t>{cfg.hidden_size})
      fail("tensor {} in {}: shape [{}], expected [{}]", hf, t.file, fmt::join(t.shape, ", "),
           cfg.hidden_size);
    std::vector<float> v = to_f32(t);
    std::vector<uint8_t> bytes(v.size() * 4);
    std::memcpy(bytes.data(), v.data(), bytes.size());
    add(gguf, GgmlType::kF32, 0, t.shape[0], std::move(bytes));
  }

  // A dense 2-D tensor converted to `t`; Q/K rows permuted when n_head > 0.
  void add_dense(const std::string& hf, const std::string& gguf, DenseType want, int64_t n_head) {
    const TensorInfo& ti = store.get(hf);
    if (ti.shape.size() != 2) fail("tensor {} in {}: expected 2 dims", hf, ti.file);
    const int64_t rows = ti.shape[0], cols = ti.shape[1];
    const GgmlType t = dense_ggml_type(want, ti.dtype);
    const std::vector<float> v = to_f32(ti);
    const GgmlTypeInfo* info = ggml_type_info(uint32_t(t));
    if (cols % info->block_size != 0)
      fail("tensor {}: {} columns are not a multiple of the {} block size {}", hf, cols, info->name,
           info->block_size);
    const size_t row_bytes = size_t(cols / info->block_size) * info->type_size;
    std::vector<uint8_t> bytes(size_t(rows) * row_bytes);
    for (int64_t r = 0; r < rows; ++r) {
      const float* x = v.data() + r * cols;
      uint8_t* o = bytes.data() + size_t(r) * row_bytes;
      for (int64_t c = 0; c < cols && t != GgmlType::kQ8_0; ++c) {
        if (t == GgmlType::kF32) {
          std::memcpy(o + 4 * c, &x[c], 4);
          continue;
        }
        const uint16_t h = t == GgmlType::kF16 ? f32_to_f16(x[c]) : f32_to_bf16(x[c]);
        if (t == GgmlType::kF16 && std::isfinite(x[c]) && !std::isfinite(f16_to_f32(h)))
          fail("tensor {}: value {} at [{}, {}] overflows F16; use --type bf16 or f32", hf, x[c],
               r, c);
        std::memcpy(o + 2 * c, &h, 2);
      }
      if (t == GgmlType::kQ8_0) quantize_q8_0_row(x, cols, o);
    }
    if (n_head > 0) bytes = permute_qk_rows(bytes, rows, row_bytes, n_head);
    add(gguf, t, rows, cols, std::move(bytes));
  }

  // The GGUF type a compressed-tensors weight maps onto, or an error naming what it would need.
  GgmlType quantized_type(const std::string& hf, const QuantizedWeight& q) const {
    const QuantArgs& a = q.args;
    const std::string what = fmt::format(
        "{}: {}-bit {} {}{}", hf, a.num_bits, a.type == QuantType::kFloat ? "float" : "int",
        a.symmetric ? "symmetric" : "asymmetric",
        a.group_size > 0 ? fmt::format(" group {}", a.group_size) : std::string(" per-channel"));
    if (a.type == QuantType::kFloat)
      fail("{}: GGUF has no FP8 E4M3 type; export a W8A16/W4A16 group-32 folder instead", what);
    if (!q.g_idx.empty())
      fail("{}: act-order g_idx reorders the groups; GGUF blocks need 32 contiguous columns per "
           "scale (compress without --act-order)",
           what);
    if (a.group_size != kGgmlBlock) {
      const char* need = a.num_bits == 8 ? "Q8_0" : a.symmetric ? "Q4_0" : "Q4_1";
      fail("{}: GGUF's {} has one scale per 32 columns, so it can carry these integers only with "
           "--group-size 32 (k-quants such as Q4_K use 256-column super-blocks with 6-bit "
           "sub-scales, which cannot hold these scales exactly)",
           what, need);
    }
    if (a.num_bits == 8 && a.symmetric) return GgmlType::kQ8_0;
    if (a.num_bits == 4) return a.symmetric ? GgmlType::kQ4_0 : GgmlType::kQ4_1;
    fail("{}: no GGUF type holds {}-bit {} integers (supported: 8-bit symmetric -> Q8_0, 4-bit "
         "symmetric -> Q4_0, 4-bit asymmetric -> Q4_1, all with group size 32)",
         what, a.num_bits, a.symmetric ? "symmetric" : "asymmetric");
  }

  void note_param(float want, float stored) {
    ++sum.n_block_params;
    if (stored != want) {
      ++sum.n_block_params_rounded;
      if (want != 0.0f)
        sum.max_block_param_rel_change =
            std::max(sum.max_block_param_rel_change, double(std::fabs(stored - want) / std::fabs(want)));
    }
  }

  void add_quantized(const std::string& hf, const std::string& gguf, const QuantizedWeight& q,
                     int64_t n_head) {
    const GgmlType t = quantized_type(hf, q);
    if (linear_type && *linear_type != t)
      fail("{}: maps to {} but other Linears map to {}", hf, ggml_type_name(t),
           ggml_type_name(*linear_type));
    linear_type = t;
    const int64_t rows = q.rows, cols = q.cols, ng = q.n_groups();
    if (cols % kGgmlBlock != 0 || ng != cols / kGgmlBlock)
      fail("{}: {} columns in {} groups do not form 32-column blocks", hf, cols, ng);
    const GgmlTypeInfo* info = ggml_type_info(uint32_t(t));
    const size_t row_bytes = size_t(ng) * info->type_size;
    std::vector<uint8_t> bytes(size_t(rows) * row_bytes);
    for (int64_t r = 0; r < rows; ++r) {
      const int8_t* codes = q.codes.data() + r * cols;
      const float* scales = q.scales.data() + r * ng;
      uint8_t* o = bytes.data() + size_t(r) * row_bytes;
      if (t == GgmlType::kQ8_0) encode_q8_0_row(codes, scales, cols, o);
      if (t == GgmlType::kQ4_0) encode_q4_0_row(codes, scales, cols, o);
      if (t == GgmlType::kQ4_1) encode_q4_1_row(codes, scales, q.zeros.data() + r * ng, cols, o);
      for (int64_t g = 0; g < ng; ++g) {
        note_param(scales[g], f16_to_f32(f32_to_f16(scales[g])));
        if (t == GgmlType::kQ4_1) {
          const float m = -scales[g] * float(q.zeros[size_t(r * ng + g)]);
          note_param(m, f16_to_f32(f32_to_f16(m)));
        }
      }
    }
    // How far ggml's dequantization of these blocks is from the folder's own.
    std::vector<float> src(size_t(rows * cols)), got(size_t(rows * cols));
    q.dequantize(src.data());
    dequantize_row(t, bytes.data(), got.data(), rows * cols);
    for (size_t i = 0; i < src.size(); ++i) {
      const double d = std::fabs(double(got[i]) - double(src[i]));
      ++sum.n_quantized_weights;
      if (d == 0) continue;
      ++sum.n_weights_changed;
      sum.max_weight_abs_change = std::max(sum.max_weight_abs_change, d);
      if (src[i] != 0.0f)
        sum.max_weight_rel_change = std::max(sum.max_weight_rel_change, d / std::fabs(double(src[i])));
    }
    if (n_head > 0) bytes = permute_qk_rows(bytes, rows, row_bytes, n_head);
    add(gguf, t, rows, cols, std::move(bytes));
  }

  // A Linear (or the embedding): its quantized integers if the folder has them, else dense as
  // `dense`.
  void add_linear(const std::string& hf, const std::string& gguf, int64_t n_head,
                  DenseType dense, int64_t rows, int64_t cols) {
    auto it = quantized.find(hf);
    with_context(fmt::format("tensor {}", hf), [&] {
      // Shapes must follow config.json (llama.cpp checks them against the hyperparameters).
      const std::vector<int64_t> shape =
          it != quantized.end() ? std::vector<int64_t>{it->second.rows, it->second.cols}
                                : store.get(hf).shape;
      if (shape != std::vector<int64_t>{rows, cols})
        fail("shape [{}] does not match config.json, expected [{}, {}]", fmt::join(shape, ", "),
             rows, cols);
      if (it != quantized.end()) {
        add_quantized(hf, gguf, it->second, n_head);
      } else {
        add_dense(hf, gguf, dense, n_head);
      }
    });
  }

  GgufFileType file_type() const {
    if (linear_type) {
      if (*linear_type == GgmlType::kQ8_0) return GgufFileType::kMostlyQ8_0;
      if (*linear_type == GgmlType::kQ4_0) return GgufFileType::kMostlyQ4_0;
      return GgufFileType::kMostlyQ4_1;
    }
    const TensorInfo& t = store.get("model.layers.0.mlp.up_proj.weight");
    switch (dense_ggml_type(type, t.dtype)) {
      case GgmlType::kF32:
        return GgufFileType::kAllF32;
      case GgmlType::kBF16:
        return GgufFileType::kMostlyBF16;
      default:
        return GgufFileType::kMostlyF16;
    }
  }
};

const char* file_type_name(GgufFileType t) {
  switch (t) {
    case GgufFileType::kAllF32:
      return "ALL_F32";
    case GgufFileType::kMostlyF16:
      return "MOSTLY_F16";
    case GgufFileType::kMostlyQ4_0:
      return "MOSTLY_Q4_0";
    case GgufFileType::kMostlyQ4_1:
      return "MOSTLY_Q4_1";
    case GgufFileType::kMostlyQ8_0:
      return "MOSTLY_Q8_0";
    case GgufFileType::kMostlyBF16:
      return "MOSTLY_BF16";
  }
  return "?";
}

}  // namespace

GgufExportSummary export_gguf(const GgufExportOptions& opt) {
  Exporter e(opt);
  e.type = parse_type(opt.type, "--type", false);
  e.embed_type = parse_type(opt.embed_type, "--embed-type", true);
  if (e.embed_type == DenseType::kAuto) e.embed_type = e.type;
  const std::string cfg_path = (fs::path(opt.model_dir) / "config.json").string();
  e.cfg = load_model_config(opt.model_dir);
  check_llama_exportable(e.cfg, cfg_path);
  const ModelConfig& c = e.cfg;
  const bool compressed = is_compressed_tensors(opt.model_dir);
  if (compressed) {
    e.quantized = read_quantized_weights(opt.model_dir);
    if (e.type != DenseType::kAuto)
      fail("--type applies to plain folders; {} is compressed-tensors (its Linears keep their "
           "integers; use --embed-type for the embeddings)",
           opt.model_dir);
  }
  e.store = TensorStore::open(opt.model_dir);

  // Tensor order as convert_hf_to_gguf.py writes it: embeddings, layers, final norm, output.
  e.add_linear("model.embed_tokens.weight", "token_embd.weight", 0, e.embed_type, c.vocab_size,
               c.hidden_size);
  const int64_t q = c.n_heads * c.head_dim, kv = c.n_heads_kv * c.head_dim, d = c.hidden_size,
                ff = c.intermediate_size;
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const std::string p = fmt::format("model.layers.{}.", l);
    const std::string b = fmt::format("blk.{}.", l);
    e.add_norm(p + "input_layernorm.weight", b + "attn_norm.weight");
    e.add_linear(p + "self_attn.q_proj.weight", b + "attn_q.weight", c.n_heads, e.type, q, d);
    e.add_linear(p + "self_attn.k_proj.weight", b + "attn_k.weight", c.n_heads_kv, e.type, kv, d);
    e.add_linear(p + "self_attn.v_proj.weight", b + "attn_v.weight", 0, e.type, kv, d);
    e.add_linear(p + "self_attn.o_proj.weight", b + "attn_output.weight", 0, e.type, d, q);
    e.add_norm(p + "post_attention_layernorm.weight", b + "ffn_norm.weight");
    e.add_linear(p + "mlp.gate_proj.weight", b + "ffn_gate.weight", 0, e.type, ff, d);
    e.add_linear(p + "mlp.up_proj.weight", b + "ffn_up.weight", 0, e.type, ff, d);
    e.add_linear(p + "mlp.down_proj.weight", b + "ffn_down.weight", 0, e.type, d, ff);
  }
  e.add_norm("model.norm.weight", "output_norm.weight");
  if (!c.tie_word_embeddings)
    e.add_linear("lm_head.weight", "output.weight", 0, e.embed_type, c.vocab_size, c.hidden_size);

  const GgufFileType ft = e.file_type();
  add_llama_metadata(e.w, opt.model_dir, c, ft);
  add_tokenizer_metadata(e.w, opt.model_dir, c.vocab_size);
  Sha256 h;
  e.w.for_each_data_chunk([&](const uint8_t* p, size_t n) { h.update(p, n); });
  e.sum.data_sha256 = h.hex_digest();
  e.w.set(kGgufDataSha256Key, GgufValue::string(e.sum.data_sha256));
  e.w.write(opt.out_path);
  e.sum.path = opt.out_path;
  e.sum.file_type = file_type_name(ft);
  e.sum.bytes = uint64_t(fs::file_size(opt.out_path));
  return e.sum;
}

}  // namespace quanta
