// Reading compressed-tensors folders (writing: compressed_tensors_save.cc).
#include "quant/compressed_tensors.h"

#include <cstring>
#include <filesystem>
#include <functional>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/dtype.h"
#include "core/error.h"
#include "quant/compressed_tensors_format.h"

namespace quanta {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

json read_config(const std::string& dir) {
  const std::string path = (fs::path(dir) / "config.json").string();
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open", path);
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    return json::parse(ss.str());
  } catch (const json::exception& e) {
    fail("{}: not valid JSON: {}", path, e.what());
  }
}

std::string shape_str(const std::vector<int64_t>& s) { return fmt::format("[{}]", fmt::join(s, ", ")); }

const TensorInfo& expect(const TensorStore& store, const std::string& name,
                         std::initializer_list<DType> dtypes, const std::vector<int64_t>& shape) {
  const TensorInfo& t = store.get(name);
  bool ok = false;
  for (DType d : dtypes) ok = ok || t.dtype == d;
  if (!ok) fail("tensor {} in {}: dtype {} is not expected here", name, t.file, dtype_name(t.dtype));
  if (t.shape != shape)
    fail("tensor {} in {}: shape {}, expected {}", name, t.file, shape_str(t.shape),
         shape_str(shape));
  return t;
}

std::vector<float> to_f32(const TensorInfo& t) {
  const int64_t n = t.numel();
  std::vector<float> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    switch (t.dtype) {
      case DType::kF32: {
        float f;
        std::memcpy(&f, t.data + i * 4, 4);
        out[size_t(i)] = f;
        break;
      }
      case DType::kBF16: {
        uint16_t h;
        std::memcpy(&h, t.data + i * 2, 2);
        out[size_t(i)] = bf16_to_f32(h);
        break;
      }
      case DType::kF16: {
        uint16_t h;
        std::memcpy(&h, t.data + i * 2, 2);
        out[size_t(i)] = f16_to_f32(h);
        break;
      }
      default:
        QUANTA_ASSERT(false);
    }
  }
  return out;
}

struct CtConfig {
  std::string format;
  QuantArgs weights;
  std::optional<QuantArgs> input_activations;
};

CtConfig parse_quantization_config_unchecked(const json& cfg, const std::string& where) {
  auto it = cfg.find("quantization_config");
  if (it == cfg.end() || !it->is_object()) fail("{} is missing", where);
  const json& q = *it;
  auto qm = q.find("quant_method");
  if (qm == q.end() || !qm->is_string() || qm->get<std::string>() != "compressed-tensors")
    fail("{}.quant_method: expected \"compressed-tensors\", got {}", where,
         qm != q.end() ? qm->dump() : "nothing");
  // The folder-wide format (null: none, each group names its own).
  std::string top_format;
  if (auto f = q.find("format"); f != q.end() && !f->is_null()) {
    if (!f->is_string()) fail("{}.format: expected a string, got {}", where, f->dump());
    top_format = f->get<std::string>();
  }
  auto groups = q.find("config_groups");
  if (groups == q.end() || !groups->is_object() || groups->empty())
    fail("{}.config_groups: expected a non-empty object", where);
  CtConfig c;
  bool first = true;
  for (auto g = groups->begin(); g != groups->end(); ++g) {
    const std::string gw = where + ".config_groups." + g.key();
    if (!g->is_object() || !g->contains("weights") || (*g)["weights"].is_null())
      fail("{}.weights: missing", gw);
    const QuantArgs a = ct::parse_args((*g)["weights"], gw + ".weights");
    std::string fmt = top_format;
    if (g->contains("format") && (*g)["format"].is_string()) fmt = (*g)["format"];
    if (first) {
      c.weights = a;
      c.format = fmt;
      if (g->contains("input_activations") && !(*g)["input_activations"].is_null())
        c.input_activations =
            ct::parse_args((*g)["input_activations"], gw + ".input_activations");
      first = false;
    } else if (fmt != c.format || a.num_bits != c.weights.num_bits || a.type != c.weights.type ||
               a.symmetric != c.weights.symmetric || a.group_size != c.weights.group_size) {
      fail("{}: config groups with different weight formats are not supported", gw);
    }
  }
  if (c.format != ct::kPackQuantized && c.format != ct::kIntQuantized &&
      c.format != ct::kFloatQuantized && c.format != ct::kNaiveQuantized)
    fail("{}.format: unknown format '{}' (supported: pack-quantized, int-quantized, "
         "float-quantized, naive-quantized)",
         where, c.format);
  return c;
}

CtConfig parse_quantization_config(const std::string& dir) {
  const json cfg = read_config(dir);
  const std::string where = (fs::path(dir) / "config.json").string() + ": quantization_config";
  // Note: a field of an unexpected JSON type must end as a quanta::Error, not a json::exception
  // (found by fuzz/fuzz_ct_config.cc: "format": null threw json::type_error from json::value).
  try {
    return parse_quantization_config_unchecked(cfg, where);
  } catch (const json::exception& e) {
    fail("{}: {}", where, e.what());
  }
}

constexpr std::initializer_list<DType> kScaleTypes = {DType::kBF16, DType::kF16, DType::kF32};

bool ends_with(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

// Reads scale / zero / g_idx common to both layouts; rows, cols known.
void read_group_params(const TensorStore& store, const std::string& base, const CtConfig& c,
                       bool packed_zero, QuantizedWeight* q) {
  const int64_t ng = q->n_groups();
  const TensorInfo& s = expect(store, base + ".weight_scale", kScaleTypes, {q->rows, ng});
  q->scales = to_f32(s);
  const bool asym = c.weights.type == QuantType::kInt && !c.weights.symmetric;
  const int bits = c.weights.num_bits;
  const int32_t off = int32_t(1) << (bits - 1);
  if (asym) {
    const std::string zn = base + ".weight_zero_point";
    if (packed_zero) {
      // (ceil(rows * bits / 32), n_groups): packed along the rows (pack_to_int32 packed_dim=0).
      const int64_t pr = ct::packed_cols(q->rows, bits);
      const TensorInfo& z = expect(store, zn, {DType::kI32}, {pr, ng});
      std::vector<int32_t> zt(size_t(pr * ng));  // transpose to (ng, pr)
      std::vector<int32_t> zin(size_t(pr * ng));
      std::memcpy(zin.data(), z.data, z.nbytes);
      for (int64_t i = 0; i < pr; ++i)
        for (int64_t g = 0; g < ng; ++g) zt[size_t(g * pr + i)] = zin[size_t(i * ng + g)];
      const std::vector<uint8_t> u = ct::unpack_rows(zt.data(), ng, q->rows, bits);
      q->zeros.resize(size_t(q->rows * ng));
      for (int64_t g = 0; g < ng; ++g)
        for (int64_t r = 0; r < q->rows; ++r)
          q->zeros[size_t(r * ng + g)] = int32_t(u[size_t(g * q->rows + r)]);
    } else {
      const TensorInfo& z = expect(store, zn, {DType::kI8}, {q->rows, ng});
      q->zeros.resize(size_t(q->rows * ng));
      for (int64_t i = 0; i < q->rows * ng; ++i)
        q->zeros[size_t(i)] = int32_t(int8_t(z.data[i])) + off;
    }
  }
  const std::string gn = base + ".weight_g_idx";
  if (store.contains(gn)) {
    const TensorInfo& g = expect(store, gn, {DType::kI32, DType::kI64}, {q->cols});
    q->g_idx.resize(size_t(q->cols));
    for (int64_t i = 0; i < q->cols; ++i) {
      int64_t v;
      if (g.dtype == DType::kI32) {
        int32_t x;
        std::memcpy(&x, g.data + i * 4, 4);
        v = x;
      } else {
        std::memcpy(&v, g.data + i * 8, 8);
      }
      if (v < 0 || v >= ng) fail("tensor {} in {}: group index {} at column {} outside [0, {})",
                                 gn, g.file, v, i, ng);
      q->g_idx[size_t(i)] = int32_t(v);
    }
    q->args.actorder = ActOrder::kGroup;
  }
}

QuantizedWeight read_packed(const TensorStore& store, const std::string& base, const CtConfig& c) {
  QuantizedWeight q;
  q.args = c.weights;
  q.args.actorder = ActOrder::kNone;
  const int bits = c.weights.num_bits;
  if (c.weights.type != QuantType::kInt) fail("pack-quantized needs int weights");
  const TensorInfo& sh = expect(store, base + ".weight_shape", {DType::kI64, DType::kI32}, {2});
  int64_t dims[2];
  for (int i = 0; i < 2; ++i) {
    if (sh.dtype == DType::kI64) {
      std::memcpy(&dims[i], sh.data + i * 8, 8);
    } else {
      int32_t x;
      std::memcpy(&x, sh.data + i * 4, 4);
      dims[i] = x;
    }
  }
  if (dims[0] <= 0 || dims[1] <= 0)
    fail("tensor {}.weight_shape in {}: [{}, {}] is not a valid matrix shape", base, sh.file,
         dims[0], dims[1]);
  q.rows = dims[0];
  q.cols = dims[1];
  const TensorInfo& p = expect(store, base + ".weight_packed", {DType::kI32},
                               {q.rows, ct::packed_cols(q.cols, bits)});
  std::vector<int32_t> words(p.nbytes / 4);
  std::memcpy(words.data(), p.data, p.nbytes);
  const std::vector<uint8_t> u = ct::unpack_rows(words.data(), q.rows, q.cols, bits);
  q.codes.resize(u.size());
  const int32_t off = int32_t(1) << (bits - 1);
  const bool asym = !c.weights.symmetric;
  for (size_t i = 0; i < u.size(); ++i)
    q.codes[i] = asym ? int8_t(u[i]) : int8_t(int32_t(u[i]) - off);
  read_group_params(store, base, c, true, &q);
  return q;
}

QuantizedWeight read_naive(const TensorStore& store, const std::string& base, const CtConfig& c) {
  QuantizedWeight q;
  q.args = c.weights;
  q.args.actorder = ActOrder::kNone;
  const std::string wn = base + ".weight";
  const TensorInfo& w = store.get(wn);
  const DType want = c.weights.type == QuantType::kFloat ? DType::kF8E4M3 : DType::kI8;
  if (w.dtype != want)
    fail("tensor {} in {}: dtype {}, expected {} for format {}", wn, w.file, dtype_name(w.dtype),
         dtype_name(want), c.format);
  if (w.shape.size() != 2 || w.shape[0] <= 0 || w.shape[1] <= 0)
    fail("tensor {} in {}: shape {} is not a matrix", wn, w.file, shape_str(w.shape));
  q.rows = w.shape[0];
  q.cols = w.shape[1];
  q.codes.resize(size_t(q.rows * q.cols));
  std::memcpy(q.codes.data(), w.data, q.codes.size());
  const bool asym = c.weights.type == QuantType::kInt && !c.weights.symmetric;
  if (asym) {
    const int32_t off = int32_t(1) << (c.weights.num_bits - 1);
    for (auto& v : q.codes) v = int8_t(uint8_t(int32_t(v) + off));
  }
  read_group_params(store, base, c, false, &q);
  return q;
}

// Calls fn(name, weight) for every quantized tensor (name: the Linear's ".weight" name), one at
// a time, so that callers need not hold every unpacked weight at once.
void read_each(const std::string& dir, const TensorStore& store, const CtConfig& c,
               const std::function<void(const std::string&, QuantizedWeight&&)>& fn) {
  const bool packed = c.format == ct::kPackQuantized;
  for (const auto& [name, t] : store.tensors()) {
    std::string base;
    if (packed) {
      if (ends_with(name, ".weight_packed")) base = name.substr(0, name.size() - 14);
      if (ends_with(name, ".weight_scale") &&
          !store.contains(name.substr(0, name.size() - 6) + "_packed"))
        fail("{}: tensor {} has no {}_packed", dir, name, name.substr(0, name.size() - 6));
    } else {
      if (ends_with(name, ".weight") && (t.dtype == DType::kI8 || t.dtype == DType::kF8E4M3))
        base = name.substr(0, name.size() - 7);
      if (ends_with(name, ".weight_scale") &&
          !store.contains(name.substr(0, name.size() - 6)))
        fail("{}: tensor {} has no {}", dir, name, name.substr(0, name.size() - 6));
    }
    if (base.empty()) continue;
    QuantizedWeight q;
    with_context(fmt::format("{}: {}", dir, base), [&] {
      if (!store.contains(base + ".weight_scale"))
        fail("missing tensor {}.weight_scale", base);
      q = packed ? read_packed(store, base, c) : read_naive(store, base, c);
    });
    fn(base + ".weight", std::move(q));
  }
}

std::map<std::string, QuantizedWeight> read_all(const std::string& dir, const TensorStore& store,
                                                const CtConfig& c) {
  std::map<std::string, QuantizedWeight> out;
  read_each(dir, store, c, [&](const std::string& name, QuantizedWeight&& q) {
    out[name] = std::move(q);
  });
  return out;
}

}  // namespace

bool is_compressed_tensors(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_regular_file(fs::path(dir) / "config.json", ec)) return false;
  const json cfg = read_config(dir);
  auto it = cfg.find("quantization_config");
  if (it == cfg.end() || !it->is_object()) return false;
  auto m = it->find("quant_method");
  return m != it->end() && m->is_string() && m->get<std::string>() == "compressed-tensors";
}

std::map<std::string, QuantizedWeight> read_quantized_weights(const std::string& dir) {
  const CtConfig c = parse_quantization_config(dir);
  const TensorStore store = TensorStore::open(dir);
  return read_all(dir, store, c);
}

void for_each_quantized_weight(
    const std::string& dir, const TensorStore& store,
    const std::function<void(const std::string&, QuantizedWeight&&)>& fn) {
  read_each(dir, store, parse_quantization_config(dir), fn);
}

TensorStore load_compressed_tensors(const std::string& dir) {
  const CtConfig c = parse_quantization_config(dir);
  TensorStore store = TensorStore::open(dir);
  const std::map<std::string, QuantizedWeight> q = read_all(dir, store, c);
  for (const auto& [name, w] : q) {
    const std::string base = name.substr(0, name.size() - 7);
    std::vector<uint8_t> bytes(size_t(w.rows * w.cols) * sizeof(float));
    w.dequantize(reinterpret_cast<float*>(bytes.data()));
    for (const char* suffix : {".weight_packed", ".weight_scale", ".weight_zero_point",
                               ".weight_shape", ".weight_g_idx", ".weight"})
      store.erase(base + suffix);
    store.add_owned(name, DType::kF32, {w.rows, w.cols}, std::move(bytes),
                    fmt::format("{} (dequantized)", dir));
  }
  return store;
}

std::optional<QuantArgs> input_activation_args(const std::string& dir) {
  if (!is_compressed_tensors(dir)) return std::nullopt;
  return parse_quantization_config(dir).input_activations;
}

}  // namespace quanta
