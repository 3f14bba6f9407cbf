// GGUF export: a tiny Llama folder (plain, and compressed with RTN to W4A16 / W4A16_ASYM / W8A16
// group 32) -> GGUF -> import_gguf -> the same weights, config and tokenizer; the block encoders
// against values worked out by hand; refusals name the GGUF type a scheme would need.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "compress/pipeline.h"
#include "core/dtype.h"
#include "io/gguf.h"
#include "io/gguf_import.h"
#include "io/hf_config.h"
#include "io/manifest.h"
#include "io/safetensors.h"
#include "quant/compressed_tensors.h"
#include "quant/ggml_blocks.h"
#include "quant/gguf_export.h"
#include "test_util.h"

namespace quanta {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using testing_util::error_of;
using testing_util::temp_dir;

constexpr int64_t kEmbd = 64, kHeads = 4, kHeadsKv = 2, kFf = 96, kLayers = 2, kVocab = 8;

void write_text(const fs::path& p, const std::string& s) {
  std::ofstream out(p, std::ios::binary);
  out << s;
}

json read_json(const fs::path& p) { return json::parse(read_file(p.string())); }

// Deterministic weights in [-0.05, 0.05) with a few larger outliers.
std::vector<float> weights(int64_t n, uint32_t seed) {
  std::vector<float> v(static_cast<size_t>(n));
  uint32_t s = seed * 2654435761u + 1;
  for (auto& x : v) {
    s = s * 1664525u + 1013904223u;
    x = (float(s >> 8) / float(1 << 24) - 0.5f) * 0.1f;
    if ((s & 0xff) == 7) x *= 8;
  }
  return v;
}

// A tiny SmolLM-style folder: F32 weights, byte-level BPE tokenizer, chat template.
std::string tiny_model(const std::string& dir, bool tied = true) {
  fs::create_directories(dir);
  json cfg = {{"architectures", {"LlamaForCausalLM"}},
              {"model_type", "llama"},
              {"hidden_size", kEmbd},
              {"intermediate_size", kFf},
              {"num_hidden_layers", kLayers},
              {"num_attention_heads", kHeads},
              {"num_key_value_heads", kHeadsKv},
              {"vocab_size", kVocab},
              {"max_position_embeddings", 128},
              {"rms_norm_eps", 1e-5},
              {"rope_theta", 100000.0},
              {"tie_word_embeddings", tied},
              {"bos_token_id", 1},
              {"eos_token_id", 2},
              {"torch_dtype", "float32"}};
  write_text(fs::path(dir) / "config.json", cfg.dump(2));
  json tok = {
      {"version", "1.0"},
      {"added_tokens",
       {{{"id", 0}, {"content", "<|endoftext|>"}, {"special", true}},
        {{"id", 1}, {"content", "<|im_start|>"}, {"special", true}},
        {{"id", 2}, {"content", "<|im_end|>"}, {"special", true}}}},
      {"normalizer", nullptr},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "Digits"}, {"individual_digits", true}},
          {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true},
           {"use_regex", true}}}}}},
      {"post_processor", nullptr},
      {"decoder", {{"type", "ByteLevel"}}},
      {"model",
       {{"type", "BPE"},
        {"vocab",
         {{"<|endoftext|>", 0}, {"<|im_start|>", 1}, {"<|im_end|>", 2}, {"a", 3}, {"b", 4},
          {"ab", 5}, {"Ġ", 6}, {"Ġab", 7}}},
        {"merges", {"a b", "Ġ ab"}}}}};
  write_text(fs::path(dir) / "tokenizer.json", tok.dump(2));
  json tc = {{"bos_token", "<|im_start|>"}, {"eos_token", "<|im_end|>"},
             {"unk_token", "<|endoftext|>"}, {"pad_token", "<|im_end|>"},
             {"chat_template", "{% for m in messages %}{{ m['content'] }}{% endfor %}"}};
  write_text(fs::path(dir) / "tokenizer_config.json", tc.dump(2));

  SafetensorsWriter w;
  uint32_t seed = 1;
  auto add = [&](const std::string& name, std::vector<int64_t> shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::vector<float> v = weights(n, seed++);
    if (shape.size() == 1)
      for (auto& x : v) x = 1.0f + x;
    w.add(name, DType::kF32, shape, v.data(), v.size() * 4);
  };
  add("model.embed_tokens.weight", {kVocab, kEmbd});
  add("model.norm.weight", {kEmbd});
  if (!tied) add("lm_head.weight", {kVocab, kEmbd});
  const int64_t hd = kEmbd / kHeads;
  for (int64_t l = 0; l < kLayers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    add(p + "input_layernorm.weight", {kEmbd});
    add(p + "post_attention_layernorm.weight", {kEmbd});
    add(p + "self_attn.q_proj.weight", {kHeads * hd, kEmbd});
    add(p + "self_attn.k_proj.weight", {kHeadsKv * hd, kEmbd});
    add(p + "self_attn.v_proj.weight", {kHeadsKv * hd, kEmbd});
    add(p + "self_attn.o_proj.weight", {kEmbd, kHeads * hd});
    add(p + "mlp.gate_proj.weight", {kFf, kEmbd});
    add(p + "mlp.up_proj.weight", {kFf, kEmbd});
    add(p + "mlp.down_proj.weight", {kEmbd, kFf});
  }
  w.write((fs::path(dir) / "model.safetensors").string());
  return dir;
}

std::string compress_rtn(const std::string& model, const std::string& out, const std::string& scheme,
                         int64_t group) {
  CompressOptions o;
  o.model_dir = model;
  o.out_dir = out;
  o.scheme = scheme;
  o.method = "rtn";
  o.group_size = group;
  compress_model(o);
  return out;
}

std::vector<float> f32_of(const TensorInfo& t) {
  std::vector<float> v(size_t(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) {
    uint16_t h;
    if (t.dtype == DType::kF32) {
      std::memcpy(&v[size_t(i)], t.data + 4 * i, 4);
    } else {
      std::memcpy(&h, t.data + 2 * i, 2);
      v[size_t(i)] = t.dtype == DType::kBF16 ? bf16_to_f32(h) : f16_to_f32(h);
    }
  }
  return v;
}

// Largest |a - b| over the tensors `expected` holds (names HF); every one must be in `got`.
double max_diff(const TensorStore& expected, const TensorStore& got, std::string* worst) {
  double m = 0;
  for (const auto& [name, t] : expected.tensors()) {
    const TensorInfo& g = got.get(name);
    EXPECT_EQ(g.shape, t.shape) << name;
    const std::vector<float> a = f32_of(t), b = f32_of(g);
    for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
      const double d = std::fabs(double(a[i]) - double(b[i]));
      if (d > m) {
        m = d;
        *worst = name;
      }
    }
  }
  return m;
}

TEST(GgufExport, PlainF32RoundTripsExactlyAndCarriesMetadata) {
  const std::string root = temp_dir();
  const std::string model = tiny_model(root + "/model");
  const std::string gguf = root + "/model.gguf";
  GgufExportOptions o{model, gguf, "f32", "auto"};
  const GgufExportSummary s = export_gguf(o);
  EXPECT_EQ(s.file_type, "ALL_F32");
  EXPECT_EQ(s.n_tensors, 2 + kLayers * 9);
  EXPECT_EQ(s.n_quantized_weights, 0);

  auto f = GgufFile::open(gguf);
  EXPECT_EQ(f->get_string("general.architecture"), "llama");
  EXPECT_EQ(f->get_int("llama.block_count"), kLayers);
  EXPECT_EQ(f->get_int("llama.attention.head_count_kv"), kHeadsKv);
  EXPECT_EQ(f->get_int("llama.rope.dimension_count"), kEmbd / kHeads);
  EXPECT_FLOAT_EQ(float(f->get_double("llama.rope.freq_base")), 100000.0f);
  EXPECT_EQ(f->get_string("tokenizer.ggml.pre"), "smollm");
  EXPECT_EQ(f->get_ints("tokenizer.ggml.token_type"), (std::vector<int64_t>{3, 3, 3, 1, 1, 1, 1, 1}));
  EXPECT_EQ(f->get_int("tokenizer.ggml.bos_token_id"), 1);
  EXPECT_EQ(f->get_int("tokenizer.ggml.eos_token_id"), 2);
  EXPECT_EQ(f->get_int("tokenizer.ggml.unknown_token_id"), 0);
  EXPECT_EQ(f->get_int("tokenizer.ggml.padding_token_id"), 2);
  EXPECT_EQ(f->find_tensor("output.weight"), nullptr);  // tied: llama.cpp reuses token_embd
  EXPECT_EQ(f->tensor("blk.0.attn_norm.weight").type, GgmlType::kF32);
  // Q rows permuted: GGUF row 1 (head 0, i = 0, j = 1) is HF row head_dim / 2.
  {
    const TensorStore src = TensorStore::open(model);
    const std::vector<float> hf = f32_of(src.get("model.layers.0.self_attn.q_proj.weight"));
    const std::vector<float> gg = dequantize(f->tensor("blk.0.attn_q.weight"));
    const int64_t half = kEmbd / kHeads / 2;
    for (int64_t c = 0; c < kEmbd; ++c) {
      EXPECT_EQ(gg[size_t(1 * kEmbd + c)], hf[size_t(half * kEmbd + c)]);
      EXPECT_EQ(gg[size_t(2 * kEmbd + c)], hf[size_t(1 * kEmbd + c)]);
    }
  }
  EXPECT_TRUE(verify_output(gguf).ok) << verify_output(gguf).message;

  const std::string back = root + "/back";
  import_gguf(gguf, back);
  std::string worst;
  EXPECT_EQ(max_diff(TensorStore::open(model), TensorStore::open(back), &worst), 0.0) << worst;
  const json c0 = read_json(fs::path(model) / "config.json"), c1 = read_json(fs::path(back) / "config.json");
  for (const char* k : {"hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                        "num_key_value_heads", "vocab_size", "max_position_embeddings",
                        "tie_word_embeddings", "bos_token_id", "eos_token_id", "rms_norm_eps",
                        "rope_theta"})
    EXPECT_EQ(c0[k], c1[k]) << k;
  const json t0 = read_json(fs::path(model) / "tokenizer.json"), t1 = read_json(fs::path(back) / "tokenizer.json");
  EXPECT_EQ(t0["model"]["vocab"], t1["model"]["vocab"]);
  EXPECT_EQ(t0["model"]["merges"], t1["model"]["merges"]);
  EXPECT_EQ(t0["pre_tokenizer"], t1["pre_tokenizer"]);
  const json tc1 = read_json(fs::path(back) / "tokenizer_config.json");
  EXPECT_EQ(tc1["chat_template"], read_json(fs::path(model) / "tokenizer_config.json")["chat_template"]);
  EXPECT_EQ(tc1["bos_token"], "<|im_start|>");
  EXPECT_EQ(tc1["eos_token"], "<|im_end|>");
}

TEST(GgufExport, PlainF16AndUntiedLmHead) {
  const std::string root = temp_dir();
  const std::string model = tiny_model(root + "/model", /*tied=*/false);
  const std::string gguf = root + "/model.gguf";
  const GgufExportSummary s = export_gguf({model, gguf, "auto", "q8_0"});
  EXPECT_EQ(s.file_type, "MOSTLY_F16");
  auto f = GgufFile::open(gguf);
  EXPECT_EQ(f->tensor("blk.1.ffn_down.weight").type, GgmlType::kF16);
  EXPECT_EQ(f->tensor("token_embd.weight").type, GgmlType::kQ8_0);
  EXPECT_EQ(f->tensor("output.weight").type, GgmlType::kQ8_0);
  const std::string back = root + "/back";
  import_gguf(gguf, back);
  const TensorStore a = TensorStore::open(model), b = TensorStore::open(back);
  // F16 tensors: exactly the f16 rounding of the source.
  const std::vector<float> up = f32_of(a.get("model.layers.1.mlp.up_proj.weight"));
  const std::vector<float> up_back = f32_of(b.get("model.layers.1.mlp.up_proj.weight"));
  for (size_t i = 0; i < up.size(); ++i) ASSERT_EQ(up_back[i], f16_to_f32(f32_to_f16(up[i]))) << i;
  // Q8_0 lm_head: within half a step (absmax / 127 / 2) of each block, plus the f16 scale.
  const std::vector<float> lm = f32_of(a.get("lm_head.weight"));
  const std::vector<float> lm_back = f32_of(b.get("lm_head.weight"));
  for (size_t blk = 0; blk < lm.size() / 32; ++blk) {
    float amax = 0;
    for (size_t j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(lm[blk * 32 + j]));
    for (size_t j = 0; j < 32; ++j)
      ASSERT_LE(std::fabs(lm[blk * 32 + j] - lm_back[blk * 32 + j]), amax / 127 * 0.5f + amax * 1e-3f);
  }
}

struct QuantCase {
  const char* scheme;
  GgmlType type;
  const char* file_type;
};

TEST(GgufExport, CompressedTensorsKeepTheirIntegers) {
  const std::string root = temp_dir();
  const std::string model = tiny_model(root + "/model");
  for (const QuantCase& qc : {QuantCase{"W4A16", GgmlType::kQ4_0, "MOSTLY_Q4_0"},
                              QuantCase{"W4A16_ASYM", GgmlType::kQ4_1, "MOSTLY_Q4_1"},
                              QuantCase{"W8A16", GgmlType::kQ8_0, "MOSTLY_Q8_0"}}) {
    SCOPED_TRACE(qc.scheme);
    const std::string ct = compress_rtn(model, root + "/" + qc.scheme, qc.scheme, 32);
    const std::string gguf = root + "/" + qc.scheme + ".gguf";
    const GgufExportSummary s = export_gguf({ct, gguf, "auto", "auto"});
    EXPECT_EQ(s.file_type, qc.file_type);
    EXPECT_EQ(s.n_quantized_weights, kLayers * (2 * kEmbd * kEmbd + 2 * kEmbd * kEmbd / 2 + 3 * kFf * kEmbd));
    auto f = GgufFile::open(gguf);
    EXPECT_EQ(f->tensor("blk.0.attn_k.weight").type, qc.type);
    EXPECT_EQ(f->tensor("blk.1.ffn_down.weight").type, qc.type);
    EXPECT_EQ(f->tensor("token_embd.weight").type, GgmlType::kBF16);  // stored bf16 stays bf16
    // bf16 scales lie in f16's normal range here: d is exact, so Q4_0 / Q8_0 weights are too.
    if (qc.type != GgmlType::kQ4_1) {
      EXPECT_EQ(s.n_block_params_rounded, 0);
      EXPECT_EQ(s.n_weights_changed, 0);
    }

    // The integers themselves: GGUF nibble = code + 8 for Q4_0 (row 0 of a non-permuted tensor).
    const auto q = read_quantized_weights(ct);
    const QuantizedWeight& down = q.at("model.layers.1.mlp.down_proj.weight");
    const GgufTensor& gd = f->tensor("blk.1.ffn_down.weight");
    for (int64_t c = 0; c < 32; ++c) {
      int code = 0;
      if (qc.type == GgmlType::kQ4_0) code = ((gd.data[2 + c % 16] >> (c < 16 ? 0 : 4)) & 15) - 8;
      if (qc.type == GgmlType::kQ4_1) code = (gd.data[4 + c % 16] >> (c < 16 ? 0 : 4)) & 15;
      if (qc.type == GgmlType::kQ8_0) code = int8_t(gd.data[2 + c]);
      EXPECT_EQ(code, down.codes[size_t(c)]) << c;
    }

    // Round trip: import gives the folder's dequantized weights within the f16 rounding of the
    // block parameters (d exact here; Q4_1's m = -scale * zero may round).
    const std::string back = root + "/" + qc.scheme + "_back";
    import_gguf(gguf, back);
    const TensorStore expect = load_compressed_tensors(ct);
    const TensorStore got = TensorStore::open(back);
    double max_scale = 0;
    for (const auto& [n, w] : q)
      for (float sc : w.scales) max_scale = std::max(max_scale, double(sc));
    std::string worst;
    const double d = max_diff(expect, got, &worst);
    if (qc.type == GgmlType::kQ4_1) {
      EXPECT_LE(d, 16 * max_scale * std::ldexp(1.0, -11)) << worst;
      EXPECT_LE(d, s.max_weight_abs_change * (1 + 1e-6) + 1e-12) << worst;
    } else {
      EXPECT_EQ(d, 0.0) << worst;
    }
  }
}

TEST(GgufExport, RefusesSchemesWithoutAGgufType) {
  const std::string root = temp_dir();
  const std::string model = tiny_model(root + "/model");
  const std::string g64 = compress_rtn(model, root + "/g16", "W4A16", 16);
  std::string e = error_of([&] { export_gguf({g64, root + "/g16.gguf", "auto", "auto"}); });
  EXPECT_NE(e.find("Q4_0"), std::string::npos) << e;
  EXPECT_NE(e.find("--group-size 32"), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(root + "/g16.gguf"));
  const std::string fp8 = compress_rtn(model, root + "/fp8", "FP8", -1);
  e = error_of([&] { export_gguf({fp8, root + "/fp8.gguf", "auto", "auto"}); });
  EXPECT_NE(e.find("FP8"), std::string::npos) << e;
  const std::string w8 = compress_rtn(model, root + "/w8", "W8A8", -1);
  e = error_of([&] { export_gguf({w8, root + "/w8.gguf", "auto", "auto"}); });
  EXPECT_NE(e.find("Q8_0"), std::string::npos) << e;
  e = error_of([&] { export_gguf({model, root + "/x.gguf", "q4_k", "auto"}); });
  EXPECT_NE(e.find("--type 'q4_k'"), std::string::npos) << e;
  // A config.json that disagrees with the tensors (llama.cpp would refuse the file).
  json cfg = read_json(fs::path(model) / "config.json");
  cfg["intermediate_size"] = kFf + 32;
  write_text(fs::path(model) / "config.json", cfg.dump());
  e = error_of([&] { export_gguf({model, root + "/y.gguf", "auto", "auto"}); });
  EXPECT_NE(e.find("gate_proj.weight: shape [96, 64] does not match config.json"), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(root + "/y.gguf"));
}

// Blocks built from known integers, read back with ggml's dequantization (gguf_dequant.cc).
TEST(GgmlBlocks, EncodeByHand) {
  int8_t codes[32];
  for (int j = 0; j < 32; ++j) codes[j] = int8_t(j % 16 - 8);  // -8 .. 7 twice
  const float scale = 0.5f;
  uint8_t q40[kQ4_0Bytes];
  encode_q4_0_row(codes, &scale, 32, q40);
  EXPECT_EQ(q40[0] | q40[1] << 8, 0x3800);  // f16 0.5
  EXPECT_EQ(q40[2], 0x00);                  // elements 0 and 16: -8 + 8 = 0, 0
  EXPECT_EQ(q40[2 + 15], 0xff);             // elements 15 and 31: 7 + 8 = 15
  float out[32];
  dequantize_row(GgmlType::kQ4_0, q40, out, 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(out[j], 0.5f * float(j % 16 - 8));

  int8_t u[32];
  int32_t zero = 3;
  for (int j = 0; j < 32; ++j) u[j] = int8_t(j % 16);
  const float s1 = 0.25f;
  uint8_t q41[kQ4_1Bytes];
  encode_q4_1_row(u, &s1, &zero, 32, q41);
  EXPECT_EQ(q41[2] | q41[3] << 8, 0xba00);  // f16 -0.75 = -0.25 * 3
  dequantize_row(GgmlType::kQ4_1, q41, out, 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(out[j], 0.25f * float(j % 16 - 3));

  for (int j = 0; j < 32; ++j) codes[j] = int8_t(j * 8 - 128);  // -128 .. 120
  const float s8 = 2.0f;
  uint8_t q8[kQ8_0Bytes];
  encode_q8_0_row(codes, &s8, 32, q8);
  EXPECT_EQ(q8[0] | q8[1] << 8, 0x4000);  // f16 2.0
  dequantize_row(GgmlType::kQ8_0, q8, out, 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(out[j], 2.0f * float(j * 8 - 128));
}

TEST(GgmlBlocks, QuantizeQ8_0LikeGgml) {
  float x[32];
  for (int j = 0; j < 32; ++j) x[j] = float(j - 16) * 0.1f;  // absmax 1.6 at j = 0
  uint8_t b[kQ8_0Bytes];
  quantize_q8_0_row(x, 32, b);
  EXPECT_EQ(b[0] | b[1] << 8, f32_to_f16(1.6f / 127.0f));
  EXPECT_EQ(int8_t(b[2]), -127);
  EXPECT_EQ(int8_t(b[2 + 16]), 0);
  EXPECT_EQ(int8_t(b[2 + 25]), 71);  // 0.9 / (1.6 / 127) = 71.44
}

}  // namespace
}  // namespace quanta
