// compressed-tensors folders: save -> read round trip per scheme, a tiny Llama loaded through
// LlamaModel, and malformed folders failing with messages that name the tensor / field.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "core/error.h"
#include "io/safetensors.h"
#include "kernels/qmatmul.h"
#include "model/llama.h"
#include "ops/linear.h"
#include "quant/compressed_tensors.h"
#include "quant/packed_weight.h"
#include "quant/rtn.h"
#include "test_util.h"

namespace quanta {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// A tiny Llama HF folder (F32): hidden 64, ff 128, 4 heads (2 kv), vocab 96, tied embedding.
std::string write_tiny_model(const std::string& dir) {
  fs::create_directories(dir);
  std::ofstream(fs::path(dir) / "config.json") << R"({"architectures": ["LlamaForCausalLM"],
    "model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
    "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 96, "rms_norm_eps": 1e-5,
    "rope_theta": 10000.0, "tie_word_embeddings": true, "max_position_embeddings": 64,
    "torch_dtype": "float32"})";
  std::ofstream(fs::path(dir) / "generation_config.json") << R"({"eos_token_id": 2})";
  std::mt19937 rng(5);
  std::normal_distribution<float> dist(0.0f, 0.2f);
  SafetensorsWriter w;
  auto add = [&](const std::string& n, std::vector<int64_t> shape, bool norm) {
    const int64_t count = shape.size() == 1 ? shape[0] : shape[0] * shape[1];
    std::vector<float> v(static_cast<size_t>(count));
    for (auto& x : v) x = norm ? 1.0f + 0.1f * dist(rng) : dist(rng);
    w.add(n, DType::kF32, shape, v.data(), v.size() * 4);
  };
  add("model.embed_tokens.weight", {96, 64}, false);
  add("model.norm.weight", {64}, true);
  for (int l = 0; l < 2; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    add(p + "input_layernorm.weight", {64}, true);
    add(p + "post_attention_layernorm.weight", {64}, true);
    add(p + "self_attn.q_proj.weight", {64, 64}, false);
    add(p + "self_attn.k_proj.weight", {32, 64}, false);
    add(p + "self_attn.v_proj.weight", {32, 64}, false);
    add(p + "self_attn.o_proj.weight", {64, 64}, false);
    add(p + "mlp.gate_proj.weight", {128, 64}, false);
    add(p + "mlp.up_proj.weight", {128, 64}, false);
    add(p + "mlp.down_proj.weight", {64, 128}, false);
  }
  w.write((fs::path(dir) / "model.safetensors").string());
  return dir;
}

bool is_linear(const std::string& name) {
  return name.find("_proj.weight") != std::string::npos;
}

// RTN-quantizes every Linear of `src` and saves to `out`.
std::map<std::string, QuantizedWeight> compress(const std::string& src, const std::string& out,
                                                const Scheme& s) {
  const TensorStore store = TensorStore::open(src);
  std::map<std::string, QuantizedWeight> q;
  for (const auto& [name, t] : store.tensors()) {
    if (!is_linear(name)) continue;
    q[name] = quantize_rtn(reinterpret_cast<const float*>(t.data), t.shape[0], t.shape[1],
                           s.weights);
  }
  CompressedSaveOptions opt;
  opt.source_dir = src;
  opt.scheme = s;
  opt.ignore = {"lm_head"};
  save_compressed_tensors(out, opt, q, store);
  return q;
}

void expect_same(const QuantizedWeight& a, const QuantizedWeight& b) {
  EXPECT_EQ(a.rows, b.rows);
  EXPECT_EQ(a.cols, b.cols);
  EXPECT_EQ(a.args.num_bits, b.args.num_bits);
  EXPECT_EQ(a.args.symmetric, b.args.symmetric);
  EXPECT_EQ(a.args.group_size, b.args.group_size);
  EXPECT_TRUE(a.args.type == b.args.type);
  EXPECT_EQ(a.codes, b.codes);
  EXPECT_EQ(a.scales, b.scales);
  EXPECT_EQ(a.zeros, b.zeros);
  EXPECT_EQ(a.g_idx, b.g_idx);
}

TEST(CompressedTensors, SaveReadRoundTrip) {
  const std::string root = testing_util::temp_dir();
  const std::string src = write_tiny_model(root + "/src");
  for (const auto& [name, gs] : std::vector<std::pair<std::string, int64_t>>{
           {"W4A16", 64}, {"W4A16_ASYM", 64}, {"W8A8", -1}, {"FP8_DYNAMIC", -1}, {"W8A16", -1},
           {"FP8", -1}}) {
    SCOPED_TRACE(name);
    const Scheme s = scheme_by_name(name, gs);
    const std::string out = root + "/" + name;
    const auto q = compress(src, out, s);
    EXPECT_TRUE(is_compressed_tensors(out));
    const auto back = read_quantized_weights(out);
    ASSERT_EQ(back.size(), q.size());
    for (const auto& [n, w] : q) {
      SCOPED_TRACE(n);
      ASSERT_TRUE(back.count(n));
      expect_same(w, back.at(n));
    }
    // The layout llm-compressor writes.
    const TensorStore st = TensorStore::open(out);
    const std::string b = "model.layers.0.mlp.down_proj";
    EXPECT_FALSE(st.contains("lm_head.weight"));
    EXPECT_EQ(st.get("model.embed_tokens.weight").dtype, DType::kBF16);
    EXPECT_EQ(st.get(b + ".weight_scale").dtype, DType::kBF16);
    if (name == "W4A16" || name == "W4A16_ASYM") {
      EXPECT_EQ(st.get(b + ".weight_packed").shape, (std::vector<int64_t>{64, 16}));
      EXPECT_EQ(st.get(b + ".weight_scale").shape, (std::vector<int64_t>{64, 2}));
      EXPECT_EQ(st.get(b + ".weight_shape").dtype, DType::kI64);
      EXPECT_EQ(st.contains(b + ".weight_zero_point"), name == "W4A16_ASYM");
      if (name == "W4A16_ASYM")
        EXPECT_EQ(st.get(b + ".weight_zero_point").shape, (std::vector<int64_t>{8, 2}));
    } else if (name == "W8A16") {
      EXPECT_EQ(st.get(b + ".weight_packed").shape, (std::vector<int64_t>{64, 32}));
    } else {
      EXPECT_EQ(st.get(b + ".weight").dtype, name == "W8A8" ? DType::kI8 : DType::kF8E4M3);
      EXPECT_EQ(st.get(b + ".weight_scale").shape, (std::vector<int64_t>{64, 1}));
    }
    std::ifstream in(out + "/config.json");
    std::stringstream ss;
    ss << in.rdbuf();
    const json cfg = json::parse(ss.str());
    const json& qc = cfg["quantization_config"];
    EXPECT_EQ(qc["quant_method"], "compressed-tensors");
    EXPECT_EQ(qc["quantization_status"], "compressed");
    EXPECT_EQ(qc["ignore"], json::array({"lm_head"}));
    EXPECT_EQ(qc["config_groups"]["group_0"]["targets"], json::array({"Linear"}));
    EXPECT_EQ(cfg["torch_dtype"], "bfloat16");
    EXPECT_TRUE(fs::exists(out + "/generation_config.json"));
  }
}

TEST(CompressedTensors, GgmlScaleRuleRoundTrip) {
  // ggml's rule gives negative scales (extreme weight positive) stored as f16: both survive.
  const std::string root = testing_util::temp_dir();
  const std::string src = write_tiny_model(root + "/src");
  Scheme s = scheme_by_name("W4A16", 32);
  s.weights.scale_rule = ScaleRule::kGgml;
  const auto q = compress(src, root + "/out", s);
  const auto back = read_quantized_weights(root + "/out");
  int negative = 0;
  for (const auto& [n, w] : q) {
    SCOPED_TRACE(n);
    expect_same(w, back.at(n));
    for (float sc : w.scales) negative += sc < 0;
  }
  EXPECT_GT(negative, 0);
  const TensorStore st = TensorStore::open(root + "/out");
  EXPECT_EQ(st.get("model.layers.0.mlp.down_proj.weight_scale").dtype, DType::kF16);
  std::ifstream in(root + "/out/config.json");
  std::stringstream ss;
  ss << in.rdbuf();
  const json w = json::parse(ss.str())["quantization_config"]["config_groups"]["group_0"]["weights"];
  EXPECT_EQ(w["scale_dtype"], "float16");
  // The model runs on the folder's dequantized weights: w = code * (negative) scale.
  LlamaModel m = LlamaModel::load(root + "/out", WeightMode::kDequantized);
  (void)m;
}

TEST(CompressedTensors, ActOrderGroupIndexRoundTrip) {
  const std::string root = testing_util::temp_dir();
  const std::string src = write_tiny_model(root + "/src");
  const Scheme s = scheme_by_name("W4A16_ASYM", 32);
  const TensorStore store = TensorStore::open(src);
  const TensorInfo& t = store.get("model.layers.1.mlp.down_proj.weight");
  QuantizedWeight q = quantize_rtn(reinterpret_cast<const float*>(t.data), 64, 128, s.weights);
  q.g_idx.resize(128);
  for (int c = 0; c < 128; ++c) q.g_idx[size_t(c)] = (c * 7) % 4;  // a permuted assignment
  q.args.actorder = ActOrder::kGroup;
  CompressedSaveOptions opt;
  opt.source_dir = src;
  opt.scheme = s;
  save_compressed_tensors(root + "/out", opt, {{t.name, q}}, store);
  const auto back = read_quantized_weights(root + "/out");
  expect_same(q, back.at(t.name));
  EXPECT_EQ(back.at(t.name).args.actorder, ActOrder::kGroup);
}

TEST(CompressedTensors, TinyLlamaLoadsDequantized) {
  const std::string root = testing_util::temp_dir();
  const std::string src = write_tiny_model(root + "/src");
  const auto q = compress(src, root + "/ct", scheme_by_name("W4A16", 64));
  // Reference: a plain folder with the dequantized Linears (F32) and bf16-rounded rest.
  const std::string ref = root + "/ref";
  fs::create_directories(ref);
  fs::copy_file(src + "/config.json", ref + "/config.json");
  {
    const TensorStore ct_store = TensorStore::open(root + "/ct");
    SafetensorsWriter w;
    for (const auto& [name, t] : ct_store.tensors())
      if (t.dtype == DType::kBF16 && name.find(".weight_") == std::string::npos)
        w.add(name, t.dtype, t.shape, t.data, t.nbytes);
    for (const auto& [name, qw] : q) {
      std::vector<float> dq(size_t(qw.rows * qw.cols));
      qw.dequantize(dq.data());
      w.add(name, DType::kF32, {qw.rows, qw.cols}, dq.data(), dq.size() * 4);
    }
    w.write(ref + "/model.safetensors");
  }
  LlamaModel a = LlamaModel::load(root + "/ct", WeightMode::kDequantized);
  LlamaModel b = LlamaModel::load(ref);
  EXPECT_EQ(a.store().get("model.layers.0.self_attn.q_proj.weight").dtype, DType::kF32);
  EXPECT_FALSE(a.store().contains("model.layers.0.self_attn.q_proj.weight_packed"));
  const std::vector<int32_t> tokens = {1, 5, 9, 33, 70, 2};
  std::vector<float> la(6 * 96), lb(6 * 96);
  KvCache ca = a.make_cache(16), cb = b.make_cache(16);
  a.forward(tokens.data(), 6, ca, la.data(), 6);
  b.forward(tokens.data(), 6, cb, lb.data(), 6);
  EXPECT_EQ(la, lb);
  for (float v : la) ASSERT_TRUE(std::isfinite(v));
}

// Rewrites DIR/model.safetensors through fn(name, info, writer).
template <typename Fn>
void rewrite(const std::string& dir, Fn fn) {
  SafetensorsWriter w;
  {
    const TensorStore st = TensorStore::open(dir);
    for (const auto& [name, t] : st.tensors()) fn(name, t, w);
  }
  w.write(dir + "/model.safetensors");
}

std::string load_error(const std::string& dir) {
  try {
    load_compressed_tensors(dir);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Every scheme loads compressed (WeightMode::kCompressed) into the expected in-memory format, its
// weights decode to exactly what the dequantizing loader gives, and the model's logits match.
TEST(CompressedTensors, TinyLlamaRunsCompressed) {
  const std::string root = testing_util::temp_dir();
  const std::string src = write_tiny_model(root + "/src");
  const struct {
    const char* scheme;
    int64_t group;
    WeightFormat format;
    ActQuant act;
    ScaleRule rule;
  } cases[] = {{"W4A16", 32, WeightFormat::kInt4x16, ActQuant::kNone, ScaleRule::kMinMax},
               {"W4A16", 32, WeightFormat::kInt4x16, ActQuant::kNone, ScaleRule::kGgml},
               {"W4A16_ASYM", 0, WeightFormat::kInt4x16, ActQuant::kNone, ScaleRule::kMinMax},
               {"W8A16", -1, WeightFormat::kInt8x16, ActQuant::kNone, ScaleRule::kMinMax},
               {"W8A16", -1, WeightFormat::kInt8x16, ActQuant::kNone, ScaleRule::kGgml},
               {"W8A8", -1, WeightFormat::kInt8Vnni, ActQuant::kInt8PerToken, ScaleRule::kMinMax},
               {"FP8", -1, WeightFormat::kFp8, ActQuant::kNone, ScaleRule::kMinMax},
               {"FP8_DYNAMIC", -1, WeightFormat::kFp8, ActQuant::kFp8PerToken, ScaleRule::kMinMax}};
  for (const auto& c : cases) {
    const std::string dir = root + "/" + c.scheme + "_" + scale_rule_name(c.rule);
    Scheme s = scheme_by_name(c.scheme, c.group);
    s.weights.scale_rule = c.rule;
    compress(src, dir, s);
    LlamaModel fast = LlamaModel::load(dir, WeightMode::kCompressed);
    LlamaModel ref = LlamaModel::load(dir, WeightMode::kDequantized);
    EXPECT_TRUE(fast.compressed());
    for (int64_t l = 0; l < fast.config().n_layers; ++l) {
      for (const std::string& name : LlamaModel::linear_names()) {
        const MatrixView& v = fast.linear(l, name);
        ASSERT_EQ(v.format, c.format) << c.scheme << " " << name;
        ASSERT_EQ(v.act, c.act) << c.scheme << " " << name;
        const MatrixView& d = ref.linear(l, name);
        ASSERT_EQ(d.dtype, DType::kF32);
        std::vector<float> got(size_t(v.numel()));
        kernels::dequantize_rows(v, 0, v.rows, got.data(), kernels::active_isa());
        const float* want = static_cast<const float*>(d.data);
        for (int64_t i = 0; i < v.numel(); ++i)
          ASSERT_EQ(got[size_t(i)], want[i]) << c.scheme << " layer " << l << " " << name << " element " << i;
      }
    }
    const std::vector<int32_t> tokens = {1, 5, 9, 33, 70, 2, 17, 4};
    std::vector<float> lf(8 * 96), lr(8 * 96);
    // Note: f32 KV on both sides; with F16 storage, K/V that differ in their last f32 bits can
    // round to neighbouring f16 values and the 1e-4 comparison would measure that instead.
    KvCache cf = fast.make_cache(16, DType::kF32), cr = ref.make_cache(16, DType::kF32);
    fast.forward(tokens.data(), 8, cf, lf.data(), 8);
    ref.forward(tokens.data(), 8, cr, lr.data(), 8);
    // int4 / int8 weight-only kernels take int16 activations (kernels/act_quant.h: up to
    // absmax / 65534 of a 32-value block off per value): 1e-3 there; 1e-4 for the others.
    const bool i16 = c.format == WeightFormat::kInt4x16 || c.format == WeightFormat::kInt8x16;
    const double tol = i16 ? 1e-3 : 1e-4;
    for (size_t i = 0; i < lf.size(); ++i)
      ASSERT_NEAR(lf[i], lr[i], tol * (1.0 + std::fabs(lr[i]))) << c.scheme << " " << scale_rule_name(c.rule) << " logit " << i;
  }
}

// Act-order weights (g_idx) run compressed with their columns permuted at load: ops::linear
// gathers the input to match and gives the dequantized weights' result.
TEST(CompressedTensors, ActOrderRunsCompressed) {
  const Scheme s = scheme_by_name("W4A16", 32);
  std::vector<float> w(64 * 128);
  for (size_t i = 0; i < w.size(); ++i) w[i] = std::sin(0.1f * float(i)) * float(1 + i % 5);
  QuantizedWeight q = quantize_rtn(w.data(), 64, 128, s.weights);
  q.g_idx.resize(128);
  for (int c = 0; c < 128; ++c) q.g_idx[size_t(c)] = (c * 7) % 4;  // 32 columns per group
  q.args.actorder = ActOrder::kGroup;
  const auto p = pack_weight(q, ActQuant::kNone);
  ASSERT_TRUE(p.has_value());
  ASSERT_NE(p->view.col_perm, nullptr);
  std::vector<float> dq(64 * 128);
  q.dequantize(dq.data());
  const MatrixView dense{dq.data(), DType::kF32, 64, 128};
  for (int64_t m : {int64_t(1), int64_t(5), int64_t(70)}) {
    std::vector<float> x(size_t(m * 128)), yf(size_t(m * 64)), yr(size_t(m * 64));
    for (size_t i = 0; i < x.size(); ++i) x[i] = std::cos(0.37f * float(i));
    ops::linear(x.data(), m, p->view, nullptr, yf.data(), ThreadPool::global());
    ops::linear(x.data(), m, dense, nullptr, yr.data(), ThreadPool::global());
    // The kernel takes x in int16 (half a step, absmax / 65534 of x's 32-column block, per value,
    // in the kernel's column order) on top of f32 rounding.
    for (int64_t i = 0; i < m; ++i) {
      std::vector<float> step(4, 0.0f);
      for (int c = 0; c < 128; ++c)
        step[size_t(c / 32)] = std::max(step[size_t(c / 32)], std::fabs(x[size_t(i * 128 + p->view.col_perm[c])]) / 65534.0f);
      for (int64_t j = 0; j < 64; ++j) {
        double bound = 1e-4;
        for (int c = 0; c < 128; ++c)
          bound += std::fabs(dq[size_t(j * 128 + p->view.col_perm[c])]) * step[size_t(c / 32)];
        ASSERT_NEAR(yf[size_t(i * 64 + j)], yr[size_t(i * 64 + j)], bound) << "m=" << m << " " << i << "," << j;
      }
    }
  }
  // Groups of unequal size cannot be made contiguous: not packed (the loader dequantizes).
  q.g_idx[0] = 1;
  EXPECT_FALSE(pack_weight(q, ActQuant::kNone).has_value());
}

TEST(CompressedTensors, BadFoldersNameTheProblem) {
  const std::string root = testing_util::temp_dir();
  const std::string src = write_tiny_model(root + "/src");
  EXPECT_FALSE(is_compressed_tensors(src));

  const std::string noscale = root + "/noscale";
  compress(src, noscale, scheme_by_name("W8A8"));
  const std::string victim = "model.layers.1.mlp.up_proj.weight_scale";
  rewrite(noscale, [&](const std::string& n, const TensorInfo& t, SafetensorsWriter& w) {
    if (n != victim) w.add(n, t.dtype, t.shape, t.data, t.nbytes);
  });
  EXPECT_NE(load_error(noscale).find(victim), std::string::npos) << load_error(noscale);

  const std::string badpack = root + "/badpack";
  compress(src, badpack, scheme_by_name("W4A16", 64));
  const std::string packed = "model.layers.0.self_attn.k_proj.weight_packed";
  rewrite(badpack, [&](const std::string& n, const TensorInfo& t, SafetensorsWriter& w) {
    if (n == packed) {
      std::vector<int32_t> z(size_t(32 * 9), 0);
      w.add(n, DType::kI32, {32, 9}, z.data(), z.size() * 4);
    } else {
      w.add(n, t.dtype, t.shape, t.data, t.nbytes);
    }
  });
  const std::string e1 = load_error(badpack);
  EXPECT_NE(e1.find(packed), std::string::npos) << e1;
  EXPECT_NE(e1.find("[32, 8]"), std::string::npos) << e1;

  const std::string badfmt = root + "/badfmt";
  compress(src, badfmt, scheme_by_name("W4A16", 64));
  {
    std::ifstream in(badfmt + "/config.json");
    std::stringstream ss;
    ss << in.rdbuf();
    json cfg = json::parse(ss.str());
    cfg["quantization_config"]["format"] = "marlin-24";
    cfg["quantization_config"]["config_groups"]["group_0"]["format"] = nullptr;
    std::ofstream(badfmt + "/config.json") << cfg.dump();
  }
  const std::string e2 = load_error(badfmt);
  EXPECT_NE(e2.find("marlin-24"), std::string::npos) << e2;
  EXPECT_NE(e2.find("quantization_config.format"), std::string::npos) << e2;

  // A non-empty output folder is refused, nothing written.
  EXPECT_THROW(compress(src, badfmt, scheme_by_name("W8A8")), Error);
  EXPECT_TRUE(is_compressed_tensors(badfmt));
}

}  // namespace
}  // namespace quanta
