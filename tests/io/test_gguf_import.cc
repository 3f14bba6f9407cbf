#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/dtype.h"
#include "core/error.h"
#include "test_util.h"
#include "io/gguf.h"
#include "io/gguf_import.h"
#include "io/gguf_writer.h"
#include "io/safetensors.h"

namespace quanta {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// A tiny llama: 1 layer, hidden 32, 4 heads of dim 8, 2 KV heads, ffn 64, vocab 8.
constexpr int64_t kEmbd = 32, kHeads = 4, kHeadsKv = 2, kHeadDim = 8, kFf = 64, kVocab = 8;

using testing_util::temp_dir;

using testing_util::error_of;

json read_json(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in);
}

// F32 tensor with value 100 * row + column (row-major over the HF shape [dims[1], dims[0]]).
std::vector<float> ramp(int64_t rows, int64_t cols) {
  std::vector<float> v(size_t(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) v[size_t(r * cols + c)] = float(100 * r + c);
  return v;
}

struct TinyOptions {
  std::string arch = "llama";
  std::string pre = "smollm";
  bool with_ffn_up = true;
  GgmlType down_type = GgmlType::kF32;
  int64_t head_count_kv = kHeadsKv;  // written to the metadata; tensors keep kHeadsKv
};

GgufWriter tiny_llama(const TinyOptions& o = {}) {
  GgufWriter w;
  w.set("general.architecture", GgufValue::string(o.arch));
  w.set(o.arch + ".block_count", GgufValue::u32(1));
  w.set(o.arch + ".context_length", GgufValue::u32(256));
  w.set(o.arch + ".embedding_length", GgufValue::u32(kEmbd));
  w.set(o.arch + ".feed_forward_length", GgufValue::u32(kFf));
  w.set(o.arch + ".attention.head_count", GgufValue::u32(kHeads));
  w.set(o.arch + ".attention.head_count_kv", GgufValue::u32(uint32_t(o.head_count_kv)));
  w.set(o.arch + ".rope.freq_base", GgufValue::f32(10000.0f));
  w.set(o.arch + ".attention.layer_norm_rms_epsilon", GgufValue::f32(1e-5f));
  w.set(o.arch + ".vocab_size", GgufValue::u32(kVocab));
  w.set("tokenizer.ggml.model", GgufValue::string("gpt2"));
  w.set("tokenizer.ggml.pre", GgufValue::string(o.pre));
  w.set("tokenizer.ggml.tokens", GgufValue::strings({"<|endoftext|>", "<|im_start|>", "<|im_end|>",
                                                     "a", "b", "ab", "Ġ", "Ġab"}));
  w.set("tokenizer.ggml.token_type", GgufValue::i32s({3, 3, 3, 1, 1, 1, 1, 1}));
  w.set("tokenizer.ggml.merges", GgufValue::strings({"a b", "Ġ ab"}));
  w.set("tokenizer.ggml.bos_token_id", GgufValue::u32(1));
  w.set("tokenizer.ggml.eos_token_id", GgufValue::u32(2));
  w.set("tokenizer.ggml.unknown_token_id", GgufValue::u32(0));
  w.set("tokenizer.ggml.padding_token_id", GgufValue::u32(2));
  w.set("tokenizer.chat_template", GgufValue::string("{{ messages }}"));

  auto add_f32 = [&](const std::string& name, std::vector<int64_t> dims) {
    const int64_t rows = dims.size() > 1 ? dims[1] : 1;
    const std::vector<float> v = ramp(rows, dims[0]);
    w.add_tensor(name, GgmlType::kF32, std::move(dims), v.data(), v.size() * 4);
  };
  add_f32("token_embd.weight", {kEmbd, kVocab});
  add_f32("output_norm.weight", {kEmbd});
  add_f32("blk.0.attn_norm.weight", {kEmbd});
  add_f32("blk.0.ffn_norm.weight", {kEmbd});
  // attn_q as Q8_0: row r has d = 1, q = (r + c) % 50 - 25.
  std::vector<uint8_t> q;
  for (int64_t r = 0; r < kHeads * kHeadDim; ++r) {
    const uint16_t d = f32_to_f16(1.0f);
    q.push_back(uint8_t(d & 0xff));
    q.push_back(uint8_t(d >> 8));
    for (int64_t c = 0; c < kEmbd; ++c) q.push_back(uint8_t(int8_t((r + c) % 50 - 25)));
  }
  w.add_tensor("blk.0.attn_q.weight", GgmlType::kQ8_0, {kEmbd, kHeads * kHeadDim}, q.data(),
               q.size());
  add_f32("blk.0.attn_k.weight", {kEmbd, kHeadsKv * kHeadDim});
  const std::vector<uint8_t> v(size_t(kHeadsKv * kHeadDim) * 20, 0x21);  // Q4_1, one block a row
  w.add_tensor("blk.0.attn_v.weight", GgmlType::kQ4_1, {kEmbd, kHeadsKv * kHeadDim}, v.data(),
               v.size());
  add_f32("blk.0.attn_output.weight", {kEmbd, kEmbd});
  add_f32("blk.0.ffn_gate.weight", {kEmbd, kFf});
  if (o.with_ffn_up) add_f32("blk.0.ffn_up.weight", {kEmbd, kFf});
  if (o.down_type == GgmlType::kF32) {
    add_f32("blk.0.ffn_down.weight", {kFf, kEmbd});
  } else {
    const GgmlTypeInfo* info = ggml_type_info(uint32_t(o.down_type));
    const std::vector<uint8_t> b(size_t(kFf / info->block_size * kEmbd) * info->type_size, 0);
    w.add_tensor("blk.0.ffn_down.weight", o.down_type, {kFf, kEmbd}, b.data(), b.size());
  }
  return w;
}

TEST(GgufImport, TinyLlama) {
  const std::string dir = temp_dir();
  const std::string gguf = dir + "/tiny.gguf";
  tiny_llama().write(gguf);
  const std::string out = dir + "/hf";
  const GgufImportSummary s = import_gguf(gguf, out);
  EXPECT_EQ(s.n_tensors, 11);
  EXPECT_GT(s.bytes_written, 0u);
  for (const auto& e : fs::directory_iterator(dir))
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();

  const TensorStore st = TensorStore::open(out);
  EXPECT_EQ(st.tensors().size(), 11u);
  EXPECT_FALSE(st.contains("lm_head.weight"));  // tied
  EXPECT_EQ(st.get("model.embed_tokens.weight").shape, (std::vector<int64_t>{kVocab, kEmbd}));
  EXPECT_EQ(st.get("model.layers.0.self_attn.k_proj.weight").shape,
            (std::vector<int64_t>{kHeadsKv * kHeadDim, kEmbd}));
  EXPECT_EQ(st.get("model.layers.0.mlp.down_proj.weight").shape,
            (std::vector<int64_t>{kEmbd, kFf}));
  EXPECT_EQ(st.get("model.norm.weight").shape, (std::vector<int64_t>{kEmbd}));
  int64_t params = 0;
  for (const auto& [name, t] : st.tensors()) {
    EXPECT_EQ(t.dtype, DType::kF32) << name;
    params += t.numel();
  }
  EXPECT_EQ(s.n_params, params);

  // k_proj: HF row h*8 + j*4 + i was GGUF row h*8 + 2i + j, whose values are 100 * row + col.
  const auto* k =
      reinterpret_cast<const float*>(st.get("model.layers.0.self_attn.k_proj.weight").data);
  for (int64_t h = 0; h < kHeadsKv; ++h)
    for (int64_t j = 0; j < 2; ++j)
      for (int64_t i = 0; i < kHeadDim / 2; ++i)
        for (int64_t c = 0; c < kEmbd; c += 7)
          EXPECT_EQ(k[(h * kHeadDim + j * kHeadDim / 2 + i) * kEmbd + c],
                    float(100 * (h * kHeadDim + 2 * i + j) + c));
  // q_proj (Q8_0, 4 heads): the same un-permutation of the dequantized rows.
  const auto* q =
      reinterpret_cast<const float*>(st.get("model.layers.0.self_attn.q_proj.weight").data);
  EXPECT_EQ(q[(0 * kHeadDim + 1 * 4 + 0) * kEmbd + 3], float((1 + 3) % 50 - 25));   // from row 1
  EXPECT_EQ(q[(3 * kHeadDim + 0 * 4 + 3) * kEmbd + 0], float((30 + 0) % 50 - 25));  // row 30
  // v_proj (Q4_1, d = f16 0x2121, m = f16 0x2121, nibbles 1 and 2): not permuted.
  const float d = f16_to_f32(0x2121);
  const auto* v =
      reinterpret_cast<const float*>(st.get("model.layers.0.self_attn.v_proj.weight").data);
  EXPECT_EQ(v[0], 1.0f * d + d);
  EXPECT_EQ(v[16], 2.0f * d + d);
  // Non-permuted F32 tensor keeps its layout: gate_proj [64, 32] with 100 * row + col.
  const auto* g =
      reinterpret_cast<const float*>(st.get("model.layers.0.mlp.gate_proj.weight").data);
  EXPECT_EQ(g[5 * kEmbd + 7], 507.0f);

  const json c = read_json(out + "/config.json");
  EXPECT_EQ(c["architectures"][0], "LlamaForCausalLM");
  EXPECT_EQ(c["hidden_size"], kEmbd);
  EXPECT_EQ(c["num_attention_heads"], kHeads);
  EXPECT_EQ(c["num_key_value_heads"], kHeadsKv);
  EXPECT_EQ(c["intermediate_size"], kFf);
  EXPECT_EQ(c["max_position_embeddings"], 256);
  EXPECT_EQ(c["vocab_size"], kVocab);
  EXPECT_EQ(c["tie_word_embeddings"], true);
  EXPECT_EQ(c["rms_norm_eps"].get<double>(), 1e-5);  // shortest repr of the f32, not 9.99e-06
  EXPECT_EQ(c["eos_token_id"], 2);
  EXPECT_EQ(read_json(out + "/generation_config.json")["bos_token_id"], 1);

  const json t = read_json(out + "/tokenizer.json");
  EXPECT_EQ(t["model"]["type"], "BPE");
  EXPECT_EQ(t["model"]["vocab"].size(), size_t(kVocab));
  EXPECT_EQ(t["model"]["vocab"]["Ġab"], 7);
  EXPECT_EQ(t["model"]["merges"], json({"a b", "Ġ ab"}));
  ASSERT_EQ(t["added_tokens"].size(), 3u);
  EXPECT_EQ(t["added_tokens"][2]["content"], "<|im_end|>");
  EXPECT_EQ(t["added_tokens"][2]["special"], true);
  EXPECT_EQ(t["pre_tokenizer"]["pretokenizers"][0]["type"], "Digits");
  const json tc = read_json(out + "/tokenizer_config.json");
  EXPECT_EQ(tc["eos_token"], "<|im_end|>");
  EXPECT_EQ(tc["unk_token"], "<|endoftext|>");
  EXPECT_EQ(tc["chat_template"], "{{ messages }}");
  EXPECT_EQ(tc["added_tokens_decoder"]["1"]["content"], "<|im_start|>");
}

TEST(GgufImport, OutputFolderRules) {
  const std::string dir = temp_dir();
  const std::string gguf = dir + "/tiny.gguf";
  tiny_llama().write(gguf);
  fs::create_directories(dir + "/empty");
  EXPECT_NO_THROW(import_gguf(gguf, dir + "/empty/"));  // an empty folder is fine
  EXPECT_TRUE(fs::exists(dir + "/empty/model.safetensors"));
  const std::string msg = error_of([&] { import_gguf(gguf, dir + "/empty"); });
  EXPECT_NE(msg.find("not empty"), std::string::npos) << msg;
}

void expect_import_error(const TinyOptions& o, const std::string& needle) {
  const std::string dir = temp_dir();
  const std::string gguf = dir + "/bad.gguf";
  tiny_llama(o).write(gguf);
  const std::string msg = error_of([&] { import_gguf(gguf, dir + "/out"); });
  EXPECT_NE(msg.find(gguf), std::string::npos) << msg;
  EXPECT_NE(msg.find(needle), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(dir + "/out"));
  for (const auto& e : fs::directory_iterator(dir))
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();
}

TEST(GgufImport, UnknownArchitecture) { expect_import_error({.arch = "mamba"}, "mamba"); }
TEST(GgufImport, MissingTensor) {
  expect_import_error({.with_ffn_up = false}, "blk.0.ffn_up.weight");
}
TEST(GgufImport, UnsupportedTensorType) {
  expect_import_error({.down_type = GgmlType::kQ5_0}, "Q5_0");
  expect_import_error({.down_type = GgmlType::kQ5_0}, "blk.0.ffn_down.weight");
}
TEST(GgufImport, ShapeDisagreesWithHyperparameters) {
  expect_import_error({.head_count_kv = 1}, "blk.0.attn_k.weight");
}
TEST(GgufImport, UnknownTokenizerPre) {
  expect_import_error({.pre = "klingon"}, "tokenizer.ggml.pre");
}

// The real model made by scripts/fetch_model.sh, against the original Hugging Face files.
TEST(GgufImport, SmolLM2MatchesOriginalTokenizerAndConfig) {
  const std::string ours = QUANTA_SOURCE_DIR "/models/smollm2-135m-instruct";
  const std::string ref = QUANTA_SOURCE_DIR "/../shared/models/smollm2-135m-instruct";
  if (!fs::exists(ours + "/tokenizer.json") || !fs::exists(ref + "/tokenizer.json"))
    GTEST_SKIP() << "needs " << ours << " (scripts/fetch_model.sh) and " << ref;
  const json a = read_json(ours + "/tokenizer.json");
  const json b = read_json(ref + "/tokenizer.json");
  EXPECT_EQ(a["model"]["vocab"].size(), 49152u);
  EXPECT_TRUE(a["model"]["vocab"] == b["model"]["vocab"]);
  EXPECT_TRUE(a["model"]["merges"] == b["model"]["merges"]);
  EXPECT_EQ(a["added_tokens"], b["added_tokens"]);
  for (const char* k : {"normalizer", "pre_tokenizer", "post_processor", "decoder"})
    EXPECT_EQ(a[k], b[k]) << k;
  const json ca = read_json(ours + "/config.json");
  const json cb = read_json(ref + "/config.json");
  for (const char* k :
       {"hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
        "num_key_value_heads", "max_position_embeddings", "vocab_size", "tie_word_embeddings",
        "bos_token_id", "eos_token_id", "pad_token_id", "model_type", "hidden_act"})
    EXPECT_EQ(ca[k], cb[k]) << k;
  EXPECT_EQ(ca["rms_norm_eps"].get<double>(), cb["rms_norm_eps"].get<double>());
  EXPECT_EQ(ca["rope_theta"].get<double>(), cb["rope_theta"].get<double>());
  const json ta = read_json(ours + "/tokenizer_config.json");
  const json tb = read_json(ref + "/tokenizer_config.json");
  for (const char* k : {"bos_token", "eos_token", "pad_token", "unk_token", "chat_template",
                        "added_tokens_decoder", "model_max_length"})
    EXPECT_EQ(ta[k], tb[k]) << k;
}

}  // namespace
}  // namespace quanta
