// Writing compressed-tensors folders as llm-compressor does (../shared/PEERS.md).
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/dtype.h"
#include "core/error.h"
#include "io/staging_dir.h"
#include "io/mapped_file.h"
#include "quant/compressed_tensors.h"
#include "quant/compressed_tensors_format.h"

namespace quanta {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;


template <typename T>
std::vector<uint8_t> as_bytes(const std::vector<T>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(T));
  if (!b.empty()) std::memcpy(b.data(), v.data(), b.size());
  return b;
}

std::vector<uint8_t> half_bytes(const float* f, size_t n, bool f16) {
  std::vector<uint8_t> b(n * 2);
  for (size_t i = 0; i < n; ++i) {
    const uint16_t h = f16 ? f32_to_f16(f[i]) : f32_to_bf16(f[i]);
    std::memcpy(b.data() + 2 * i, &h, 2);
  }
  return b;
}

// Files of the source folder copied as they are: tokenizer, generation config, chat template.
bool is_side_file(const fs::path& p) {
  const std::string name = p.filename().string();
  const std::string ext = p.extension().string();
  if (name == "config.json" || name == "recipe.yaml" || name.rfind('.', 0) == 0) return false;
  if (name.find(".safetensors") != std::string::npos) return false;
  return ext == ".json" || ext == ".txt" || ext == ".jinja" || ext == ".model" ||
         ext == ".tiktoken";
}

void check_weight(const std::string& name, const QuantizedWeight& q, const Scheme& s) {
  with_context("quantized weight " + name, [&] {
    if (q.rows <= 0 || q.cols <= 0) fail("empty shape [{}, {}]", q.rows, q.cols);
    if (q.args.type != s.weights.type || q.args.num_bits != s.weights.num_bits ||
        q.args.symmetric != s.weights.symmetric || q.args.group_size != s.weights.group_size)
      fail("its quantization arguments differ from scheme {}", s.name);
    const int64_t ng = q.n_groups();
    if (int64_t(q.codes.size()) != q.rows * q.cols)
      fail("{} codes, expected {}", q.codes.size(), q.rows * q.cols);
    if (int64_t(q.scales.size()) != q.rows * ng)
      fail("{} scales, expected {}", q.scales.size(), q.rows * ng);
    const bool asym = q.args.type == QuantType::kInt && !q.args.symmetric;
    if (asym && int64_t(q.zeros.size()) != q.rows * ng)
      fail("{} zero points, expected {}", q.zeros.size(), q.rows * ng);
    if (!q.g_idx.empty() && int64_t(q.g_idx.size()) != q.cols)
      fail("{} g_idx entries, expected {}", q.g_idx.size(), q.cols);
    if (name.size() < 7 || name.compare(name.size() - 7, 7, ".weight") != 0)
      fail("name must end in .weight");
  });
}

void add_quantized(SafetensorsWriter* w, const std::string& name, const QuantizedWeight& q,
                   const std::string& format) {
  const std::string base = name.substr(0, name.size() - 7);
  const int bits = q.args.num_bits;
  const int64_t ng = q.n_groups();
  const bool asym = q.args.type == QuantType::kInt && !q.args.symmetric;
  const int32_t off = int32_t(1) << (bits - 1);
  // ggml-rule scales are already f16 values (ggml stores its block scales as f16).
  const bool f16 = q.args.scale_rule == ScaleRule::kGgml;
  w->add(base + ".weight_scale", f16 ? DType::kF16 : DType::kBF16, {q.rows, ng},
         half_bytes(q.scales.data(), q.scales.size(), f16));
  if (format == ct::kPackQuantized) {
    // Codes as unsigned nibbles/bytes: symmetric q + 2^(b-1); asymmetric already unsigned.
    std::vector<uint8_t> u(q.codes.size());
    for (size_t i = 0; i < u.size(); ++i)
      u[i] = asym ? uint8_t(q.codes[i]) : uint8_t(int32_t(q.codes[i]) + off);
    const std::vector<int32_t> packed = ct::pack_rows(u.data(), q.rows, q.cols, bits);
    w->add(base + ".weight_packed", DType::kI32, {q.rows, ct::packed_cols(q.cols, bits)},
           as_bytes(packed));
    const std::vector<int64_t> shape = {q.rows, q.cols};
    w->add(base + ".weight_shape", DType::kI64, {2}, as_bytes(shape));
    if (asym) {
      // Zero points packed along the rows: (ceil(rows * bits / 32), n_groups).
      std::vector<uint8_t> zt(size_t(ng * q.rows));
      for (int64_t r = 0; r < q.rows; ++r)
        for (int64_t g = 0; g < ng; ++g)
          zt[size_t(g * q.rows + r)] = uint8_t(q.zeros[size_t(r * ng + g)]);
      const std::vector<int32_t> pz = ct::pack_rows(zt.data(), ng, q.rows, bits);
      const int64_t pr = ct::packed_cols(q.rows, bits);
      std::vector<int32_t> z(size_t(pr * ng));
      for (int64_t g = 0; g < ng; ++g)
        for (int64_t i = 0; i < pr; ++i) z[size_t(i * ng + g)] = pz[size_t(g * pr + i)];
      w->add(base + ".weight_zero_point", DType::kI32, {pr, ng}, as_bytes(z));
    }
  } else {
    const bool fp = q.args.type == QuantType::kFloat;
    std::vector<uint8_t> b(q.codes.size());
    for (size_t i = 0; i < b.size(); ++i)
      b[i] = asym ? uint8_t(int32_t(uint8_t(q.codes[i])) - off) : uint8_t(q.codes[i]);
    w->add(base + ".weight", fp ? DType::kF8E4M3 : DType::kI8, {q.rows, q.cols}, std::move(b));
    if (asym) {
      std::vector<uint8_t> z(q.zeros.size());
      for (size_t i = 0; i < z.size(); ++i) z[i] = uint8_t(int8_t(q.zeros[i] - off));
      w->add(base + ".weight_zero_point", DType::kI8, {q.rows, ng}, std::move(z));
    }
  }
  if (!q.g_idx.empty()) w->add(base + ".weight_g_idx", DType::kI32, {q.cols}, as_bytes(q.g_idx));
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) fail("{}: cannot open", p.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

void save_compressed_tensors(const std::string& out_dir, const CompressedSaveOptions& opt,
                             const std::map<std::string, QuantizedWeight>& quantized,
                             const TensorStore& dense, bool dense_bf16) {
  StagingDir stage(out_dir);
  std::error_code ec;
  const fs::path src = opt.source_dir;
  json config;
  const std::string config_path = (src / "config.json").string();
  try {
    config = json::parse(read_text(src / "config.json"));
  } catch (const json::exception& e) {
    fail("{}: not valid JSON: {}", config_path, e.what());
  }
  if (!config.is_object()) fail("{}: expected a JSON object", config_path);
  const std::string format = ct::format_for(opt.scheme);

  SafetensorsWriter writer;
  for (const auto& [name, q] : quantized) {
    check_weight(name, q, opt.scheme);
    add_quantized(&writer, name, q, format);
  }
  for (const auto& [name, t] : dense.tensors()) {
    if (quantized.count(name)) continue;
    if (dense_bf16 && (t.dtype == DType::kF32 || t.dtype == DType::kF16)) {
      std::vector<uint8_t> b(size_t(t.numel()) * 2);
      for (int64_t i = 0; i < t.numel(); ++i) {
        float f;
        if (t.dtype == DType::kF32) {
          std::memcpy(&f, t.data + i * 4, 4);
        } else {
          uint16_t h;
          std::memcpy(&h, t.data + i * 2, 2);
          f = f16_to_f32(h);
        }
        const uint16_t h = f32_to_bf16(f);
        std::memcpy(b.data() + 2 * i, &h, 2);
      }
      writer.add(name, DType::kBF16, t.shape, std::move(b));
    } else {
      writer.add(name, t.dtype, t.shape, t.data, t.nbytes);
    }
  }
  writer.set_metadata("format", "pt");

  if (dense_bf16) {
    bool set = false;
    for (const char* key : {"torch_dtype", "dtype"}) {
      if (config.contains(key)) {
        config[key] = "bfloat16";
        set = true;
      }
    }
    if (!set) config["torch_dtype"] = "bfloat16";
  }
  config["quantization_config"] =
      ct::quantization_config_json(opt.scheme, opt.targets, opt.ignore);

  const fs::path& tmp = stage.path();
  writer.write((tmp / "model.safetensors").string());
  write_file_atomic((tmp / "config.json").string(), config.dump(2) + "\n");
  for (const auto& e : fs::directory_iterator(src)) {
    if (!e.is_regular_file() || !is_side_file(e.path())) continue;
    fs::copy_file(e.path(), tmp / e.path().filename(), fs::copy_options::overwrite_existing, ec);
    if (ec) fail("cannot copy {}: {}", e.path().string(), ec.message());
  }
  if (!opt.recipe_yaml.empty()) write_file_atomic((tmp / "recipe.yaml").string(), opt.recipe_yaml);
  stage.commit();
}

}  // namespace quanta
