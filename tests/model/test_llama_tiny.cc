// A tiny random Llama written as a real HF folder: KV-cache decode equals full prefill, and bad
// model folders fail with messages that name the tensor / field.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include "core/error.h"
#include "io/safetensors.h"
#include "model/llama.h"

namespace quanta {
namespace {

namespace fs = std::filesystem;

struct TinySpec {
  int64_t d = 32, ff = 48, layers = 2, heads = 4, kv = 2, vocab = 64;
  std::string arch = "LlamaForCausalLM";
  DType dtype = DType::kF32;
  bool tied = true;
};

void add_tensor(SafetensorsWriter& w, const std::string& name, std::vector<int64_t> shape, DType dt,
                std::mt19937& rng, float scale) {
  int64_t n = 1;
  for (auto s : shape) n *= s;
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<uint8_t> bytes(size_t(n) * dtype_size(dt));
  for (int64_t i = 0; i < n; ++i) {
    const float f = name.find("norm") != std::string::npos ? 1.0f + dist(rng) * 0.1f : dist(rng);
    if (dt == DType::kF32) {
      std::memcpy(bytes.data() + 4 * i, &f, 4);
    } else {
      const uint16_t h = dt == DType::kBF16 ? f32_to_bf16(f) : f32_to_f16(f);
      std::memcpy(bytes.data() + 2 * i, &h, 2);
    }
  }
  w.add(name, dt, shape, bytes.data(), bytes.size());
}

std::string write_tiny(const TinySpec& s, const std::string& name,
                       const std::string& skip_tensor = "", const std::string& reshape_tensor = "") {
  const fs::path dir = fs::path(::testing::TempDir()) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / "config.json") << fmt::format(
      R"({{"architectures": ["{}"], "hidden_size": {}, "intermediate_size": {},
      "num_hidden_layers": {}, "num_attention_heads": {}, "num_key_value_heads": {},
      "vocab_size": {}, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": {},
      "max_position_embeddings": 128}})",
      s.arch, s.d, s.ff, s.layers, s.heads, s.kv, s.vocab, s.tied ? "true" : "false");
  std::mt19937 rng(123);
  SafetensorsWriter w;
  const int64_t hd = s.d / s.heads;
  auto add = [&](const std::string& n, std::vector<int64_t> shape, float scale) {
    if (n == skip_tensor) return;
    if (n == reshape_tensor) shape[0] += 1;
    add_tensor(w, n, shape, s.dtype, rng, scale);
  };
  add("model.embed_tokens.weight", {s.vocab, s.d}, 1.0f);
  add("model.norm.weight", {s.d}, 1.0f);
  if (!s.tied) add("lm_head.weight", {s.vocab, s.d}, 0.2f);
  for (int64_t l = 0; l < s.layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    add(p + "input_layernorm.weight", {s.d}, 1.0f);
    add(p + "post_attention_layernorm.weight", {s.d}, 1.0f);
    add(p + "self_attn.q_proj.weight", {s.heads * hd, s.d}, 0.2f);
    add(p + "self_attn.k_proj.weight", {s.kv * hd, s.d}, 0.2f);
    add(p + "self_attn.v_proj.weight", {s.kv * hd, s.d}, 0.2f);
    add(p + "self_attn.o_proj.weight", {s.d, s.heads * hd}, 0.2f);
    add(p + "mlp.gate_proj.weight", {s.ff, s.d}, 0.2f);
    add(p + "mlp.up_proj.weight", {s.ff, s.d}, 0.2f);
    add(p + "mlp.down_proj.weight", {s.d, s.ff}, 0.2f);
  }
  w.write((dir / "model.safetensors").string());
  return dir.string();
}

std::string load_error(const std::string& dir) {
  try {
    LlamaModel::load(dir);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(LlamaTiny, IncrementalDecodeMatchesPrefill) {
  for (DType dt : {DType::kF32, DType::kBF16, DType::kF16}) {
    TinySpec s;
    s.dtype = dt;
    s.tied = dt != DType::kF16;
    LlamaModel m = LlamaModel::load(write_tiny(s, "tiny_decode"));
    const std::vector<int32_t> toks = {1, 5, 9, 63, 0, 17, 42, 8, 8, 3};
    const int64_t T = int64_t(toks.size());
    std::vector<float> full(size_t(T * s.vocab)), step(size_t(s.vocab));
    KvCache c1 = m.make_cache(16);
    m.forward(toks.data(), T, c1, full.data(), T);
    KvCache c2 = m.make_cache(16);
    m.forward(toks.data(), 4, c2, nullptr, 0);  // a prefill chunk, then one token at a time
    for (int64_t t = 4; t < T; ++t) {
      m.forward(&toks[size_t(t)], 1, c2, step.data(), 1);
      for (int64_t v = 0; v < s.vocab; ++v)
        EXPECT_NEAR(step[size_t(v)], full[size_t(t * s.vocab + v)], 1e-4f)
            << "dtype " << dtype_name(dt) << " t=" << t << " v=" << v;
    }
  }
}

// --lm-head int8: the reference path's dequantized table follows Q8_0's rule value by value (checked
// here against the rule written out: scale = f16(absmax / 127), code = round(w * 127 / absmax)),
// the int8 kernel's logits equal the reference path's, and the logits stay near the original's.
TEST(LlamaTiny, LmHeadInt8FollowsQ8_0AndMatchesReferencePath) {
  for (const bool tied : {true, false}) {
    for (const int64_t group : {int64_t(0), int64_t(16), int64_t(32)}) {
      TinySpec s;
      s.dtype = DType::kBF16;
      s.tied = tied;
      const std::string dir = write_tiny(s, "tiny_lm_head");
      LlamaModel orig = LlamaModel::load(dir, WeightMode::kCompressed);
      LlamaModel fast = LlamaModel::load(dir, WeightMode::kCompressed);
      LlamaModel ref = LlamaModel::load(dir, WeightMode::kDequantized);
      const MatrixView w = orig.lm_head();
      const MatrixView embedding = fast.embedding();
      fast.quantize_lm_head_int8(group);
      ref.quantize_lm_head_int8(group);
      const std::string what = fmt::format("tied {} group {}", tied, group);
      ASSERT_TRUE(fast.lm_head_quantized() && ref.lm_head_quantized()) << what;
      const int64_t gs = group > 0 ? group : s.d;
      // Groups of 32 columns or whole rows: the int16-activation layout (16-row blocks, rows
      // padded to 16, columns to 32); groups of 16: row-major int8 for the f32 kernel.
      const bool blocked = gs % 32 == 0;
      EXPECT_EQ(fast.lm_head().format, blocked ? WeightFormat::kInt8x16 : WeightFormat::kInt8) << what;
      const int64_t rows = blocked ? (s.vocab + 15) / 16 * 16 : s.vocab;
      const int64_t cols = blocked ? (s.d + 31) / 32 * 32 : s.d;
      // Q8_0's scales are f16 values: the blocked layout keeps them in 2 bytes.
      const size_t scale_bytes = blocked ? 2 : 4;
      EXPECT_EQ(blocked, fast.lm_head().scales_f16 != nullptr) << what;
      EXPECT_EQ(fast.lm_head().nbytes(), size_t(rows * cols) + size_t(rows * (s.d / gs)) * scale_bytes) << what;
      EXPECT_EQ(fast.embedding().data, embedding.data) << what;  // lookups keep the table
      EXPECT_EQ(fast.embedding().dtype, DType::kBF16) << what;
      // The rule, written out.
      ASSERT_EQ(ref.lm_head().dtype, DType::kF32);
      const float* deq = static_cast<const float*>(ref.lm_head().data);
      for (int64_t r = 0; r < s.vocab; ++r)
        for (int64_t g0 = 0; g0 < s.d; g0 += gs) {
          const uint16_t* row = reinterpret_cast<const uint16_t*>(w.row(r));
          float amax = 0.0f;
          for (int64_t c = g0; c < g0 + gs; ++c) amax = std::max(amax, std::fabs(bf16_to_f32(row[c])));
          const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
          const float d16 = f16_to_f32(f32_to_f16(d));
          for (int64_t c = g0; c < g0 + gs; ++c)
            ASSERT_EQ(deq[r * s.d + c], float(std::lround(bf16_to_f32(row[c]) * id)) * d16)
                << what << " r=" << r << " c=" << c;
        }
      const std::vector<int32_t> toks = {1, 5, 9, 63, 0, 17};
      const int64_t T = int64_t(toks.size());
      std::vector<float> lo(size_t(T * s.vocab)), lf(lo.size()), lr(lo.size());
      KvCache c0 = orig.make_cache(8), c1 = fast.make_cache(8), c2 = ref.make_cache(8);
      orig.forward(toks.data(), T, c0, lo.data(), T);
      fast.forward(toks.data(), T, c1, lf.data(), T);
      ref.forward(toks.data(), T, c2, lr.data(), T);
      double max_diff = 0.0, max_abs = 0.0;
      for (size_t i = 0; i < lo.size(); ++i) {
        // The blocked int8 kernel takes int16 activations (up to absmax / 65534 off per value):
        // 1e-3 there, 1e-4 for the f32-activation kernel (groups of 16).
        const float tol = blocked ? 1e-3f : 1e-4f;
        EXPECT_NEAR(lf[i], lr[i], tol * (1.0f + std::fabs(lr[i]))) << what << " i=" << i;
        max_diff = std::max(max_diff, double(std::fabs(lf[i] - lo[i])));
        max_abs = std::max(max_abs, double(std::fabs(lo[i])));
      }
      EXPECT_GT(max_diff, 0.0) << what;              // it did change the weights
      EXPECT_LT(max_diff, 0.02 * max_abs) << what;   // int8: within 2 % of the largest logit
      EXPECT_THROW(fast.quantize_lm_head_int8(group), Error) << what;  // already quantized
    }
  }
  TinySpec s;
  LlamaModel m = LlamaModel::load(write_tiny(s, "tiny_lm_head_bad"));
  EXPECT_THROW(m.quantize_lm_head_int8(24), Error);  // 24 is not a multiple of 16
  EXPECT_THROW(m.quantize_lm_head_int8(64), Error);  // does not divide hidden 32
  EXPECT_FALSE(m.lm_head_quantized());
}

TEST(LlamaTiny, BadFoldersNameTheProblem) {
  TinySpec s;
  EXPECT_NE(load_error(write_tiny(s, "tiny_missing", "model.layers.1.mlp.up_proj.weight"))
                .find("model.layers.1.mlp.up_proj.weight"),
            std::string::npos);
  const std::string shape_err =
      load_error(write_tiny(s, "tiny_shape", "", "model.layers.0.self_attn.k_proj.weight"));
  EXPECT_NE(shape_err.find("model.layers.0.self_attn.k_proj.weight"), std::string::npos) << shape_err;
  EXPECT_NE(shape_err.find("expected [16, 32]"), std::string::npos) << shape_err;
  TinySpec untied;
  untied.tied = false;
  const std::string dir = write_tiny(untied, "tiny_untied", "lm_head.weight");
  EXPECT_NE(load_error(dir).find("lm_head.weight"), std::string::npos);
  TinySpec arch;
  arch.arch = "FalconForCausalLM";
  EXPECT_NE(load_error(write_tiny(arch, "tiny_arch")).find("unsupported architecture"), std::string::npos);
  EXPECT_NE(load_error("/nonexistent/model").find("config.json"), std::string::npos);
}

TEST(LlamaTiny, ContextOverflowAndBadTokenAreErrors) {
  TinySpec s;
  LlamaModel m = LlamaModel::load(write_tiny(s, "tiny_ctx"));
  KvCache c = m.make_cache(4);
  const std::vector<int32_t> toks = {1, 2, 3, 4, 5};
  EXPECT_THROW(m.forward(toks.data(), 5, c, nullptr, 0), Error);
  const int32_t bad = 64;
  EXPECT_THROW(m.forward(&bad, 1, c, nullptr, 0), Error);
}

// place_weights_on_huge_pages moves the streamed weights (dense as stored, the tied embedding
// once, an int8 lm_head's packed arrays) without changing a logit; a second call and
// QUANTA_HUGE_PAGES=0 leave the model as it is.
TEST(LlamaTiny, HugePagePlacementKeepsTheLogits) {
  const std::vector<int32_t> toks = {1, 5, 9, 63, 0, 17};
  const int64_t T = int64_t(toks.size());
  for (const bool tied : {true, false})
    for (const bool int8_head : {false, true}) {
      TinySpec s;
      s.dtype = DType::kBF16;
      s.tied = tied;
      const std::string dir = write_tiny(s, "tiny_placement");
      const std::string what = fmt::format("tied {} int8 lm_head {}", tied, int8_head);
      auto logits = [&](LlamaModel& m) {
        std::vector<float> out(size_t(T * s.vocab));
        KvCache c = m.make_cache(T);
        m.forward(toks.data(), T, c, out.data(), T);
        return out;
      };
      LlamaModel m = LlamaModel::load(dir, WeightMode::kCompressed);
      if (int8_head) m.quantize_lm_head_int8(32);
      const std::vector<float> before = logits(m);
      const void* layer0_q = m.linear(0, "self_attn.q_proj").data;
      ASSERT_GT(m.place_weights_on_huge_pages(), 0u) << what;
      EXPECT_NE(m.linear(0, "self_attn.q_proj").data, layer0_q) << what;
      EXPECT_EQ(m.lm_head().data == m.embedding().data, tied && !int8_head) << what;
      EXPECT_EQ(logits(m), before) << what;
      EXPECT_EQ(m.place_weights_on_huge_pages(), 0u) << what;
      EXPECT_EQ(logits(m), before) << what;
    }
  TinySpec s;
  const std::string dir = write_tiny(s, "tiny_placement_off");
  setenv("QUANTA_HUGE_PAGES", "0", 1);
  LlamaModel m = LlamaModel::load(dir);
  EXPECT_EQ(m.place_weights_on_huge_pages(), 0u);
  unsetenv("QUANTA_HUGE_PAGES");
  LlamaModel ref = LlamaModel::load(dir, WeightMode::kDequantized);
  EXPECT_EQ(ref.place_weights_on_huge_pages(), 0u);  // the reference path stays as loaded
}

}  // namespace
}  // namespace quanta
