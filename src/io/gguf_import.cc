#include "io/gguf_import.h"

#include <fmt/ranges.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "io/staging_dir.h"
#include "io/gguf.h"
#include "io/mapped_file.h"
#include "io/safetensors.h"

namespace quanta {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// llama hyperparameters, from the `llama.*` metadata.
struct LlamaParams {
  int64_t n_layers, n_embd, n_ff, n_head, n_head_kv, head_dim, n_ctx, n_vocab;
  bool head_dim_given;
};

LlamaParams llama_params(const GgufFile& f) {
  const std::string arch = f.get_string("general.architecture");
  if (arch != "llama")
    fail("{}: general.architecture '{}' is not supported (only 'llama')", f.path(), arch);
  LlamaParams p;
  p.n_layers = f.get_int("llama.block_count");
  p.n_embd = f.get_int("llama.embedding_length");
  p.n_ff = f.get_int("llama.feed_forward_length");
  p.n_head = f.get_int("llama.attention.head_count");
  p.n_head_kv = f.get_int("llama.attention.head_count_kv", p.n_head);
  p.n_ctx = f.get_int("llama.context_length");
  if (p.n_layers <= 0 || p.n_embd <= 0 || p.n_ff <= 0 || p.n_head <= 0 || p.n_head_kv <= 0 ||
      p.n_head % p.n_head_kv != 0)
    fail(
        "{}: inconsistent llama hyperparameters (block_count {}, embedding_length {}, "
        "feed_forward_length {}, head_count {}, head_count_kv {})",
        f.path(), p.n_layers, p.n_embd, p.n_ff, p.n_head, p.n_head_kv);
  p.head_dim_given = f.find("llama.attention.key_length") != nullptr;
  p.head_dim = p.head_dim_given ? f.get_int("llama.attention.key_length") : p.n_embd / p.n_head;
  if (f.get_int("llama.attention.value_length", p.head_dim) != p.head_dim)
    fail("{}: llama.attention.value_length != key_length is not supported", f.path());
  if (f.get_int("llama.rope.dimension_count", p.head_dim) != p.head_dim)
    fail("{}: llama.rope.dimension_count {} != head dim {} (partial rotary) is not supported",
         f.path(), f.get_int("llama.rope.dimension_count"), p.head_dim);
  if (f.find("llama.vocab_size")) {
    p.n_vocab = f.get_int("llama.vocab_size");
  } else if (f.find("tokenizer.ggml.tokens")) {
    p.n_vocab = int64_t(f.get("tokenizer.ggml.tokens").as_array().size());
  } else {
    p.n_vocab = f.tensor("token_embd.weight").shape().at(0);
  }
  return p;
}

// A float32 hyperparameter as the shortest decimal that round-trips it (1e-05, not
// 9.999999747378752e-06), like the value in the original config.json.
double shortest(double v, const GgufValue* src) {
  if (src != nullptr && src->type() == GgufValueType::kFloat32)
    return std::stod(fmt::format("{}", float(v)));
  return v;
}

struct HfTensor {
  std::string name;            // empty if the GGUF name is not a llama tensor
  std::vector<int64_t> shape;  // expected HF shape
};

// HF name and shape of a llama GGUF tensor.
HfTensor hf_tensor(const std::string& name, const LlamaParams& p) {
  const int64_t q = p.n_head * p.head_dim, kv = p.n_head_kv * p.head_dim;
  if (name == "token_embd.weight") return {"model.embed_tokens.weight", {p.n_vocab, p.n_embd}};
  if (name == "output_norm.weight") return {"model.norm.weight", {p.n_embd}};
  if (name == "output.weight") return {"lm_head.weight", {p.n_vocab, p.n_embd}};
  struct Layer {
    const char* gguf;
    const char* hf;
    int64_t rows, cols;  // cols 0: a norm
  };
  const Layer kLayer[] = {
      {"attn_q", "self_attn.q_proj", q, p.n_embd},
      {"attn_k", "self_attn.k_proj", kv, p.n_embd},
      {"attn_v", "self_attn.v_proj", kv, p.n_embd},
      {"attn_output", "self_attn.o_proj", p.n_embd, q},
      {"ffn_gate", "mlp.gate_proj", p.n_ff, p.n_embd},
      {"ffn_up", "mlp.up_proj", p.n_ff, p.n_embd},
      {"ffn_down", "mlp.down_proj", p.n_embd, p.n_ff},
      {"attn_norm", "input_layernorm", p.n_embd, 0},
      {"ffn_norm", "post_attention_layernorm", p.n_embd, 0},
  };
  int layer = -1;
  int consumed = 0;
  if (std::sscanf(name.c_str(), "blk.%d.%n", &layer, &consumed) != 1 || consumed == 0 ||
      layer < 0 || layer >= p.n_layers)
    return {};
  const std::string rest = name.substr(size_t(consumed));
  for (const Layer& l : kLayer) {
    const std::string hf = fmt::format("model.layers.{}.{}", layer, l.hf);
    if (rest == std::string(l.gguf) + ".weight") {
      if (l.cols == 0) return {hf + ".weight", {l.rows}};
      return {hf + ".weight", {l.rows, l.cols}};
    }
    if (rest == std::string(l.gguf) + ".bias" && l.cols != 0) return {hf + ".bias", {l.rows}};
  }
  return {};
}

// Removes the temp folder unless released.

}  // namespace

std::vector<float> unpermute_qk_rows(const float* w, int64_t rows, int64_t cols, int64_t n_head) {
  QUANTA_ASSERT(n_head > 0 && rows % (2 * n_head) == 0);
  const int64_t head_dim = rows / n_head;
  const int64_t half = head_dim / 2;
  std::vector<float> out(size_t(rows * cols));
  // GGUF row h*head_dim + 2*i + j holds HF row h*head_dim + j*half + i.
  for (int64_t h = 0; h < n_head; ++h)
    for (int64_t i = 0; i < half; ++i)
      for (int64_t j = 0; j < 2; ++j)
        std::memcpy(&out[size_t((h * head_dim + j * half + i) * cols)],
                    &w[(h * head_dim + 2 * i + j) * cols], size_t(cols) * sizeof(float));
  return out;
}

std::string gguf_llama_config_json(const GgufFile& f) {
  const LlamaParams p = llama_params(f);
  json c;
  c["architectures"] = {"LlamaForCausalLM"};
  c["model_type"] = "llama";
  c["hidden_act"] = "silu";
  c["hidden_size"] = p.n_embd;
  c["intermediate_size"] = p.n_ff;
  c["num_hidden_layers"] = p.n_layers;
  c["num_attention_heads"] = p.n_head;
  c["num_key_value_heads"] = p.n_head_kv;
  if (p.head_dim_given) c["head_dim"] = p.head_dim;
  const char* eps_key = "llama.attention.layer_norm_rms_epsilon";
  c["rms_norm_eps"] = shortest(f.get_double(eps_key), f.find(eps_key));
  const char* theta_key = "llama.rope.freq_base";
  c["rope_theta"] = shortest(f.get_double(theta_key, 10000.0), f.find(theta_key));
  const std::string scaling = f.get_string("llama.rope.scaling.type", "none");
  if (scaling == "linear") {
    const char* k = "llama.rope.scaling.factor";
    c["rope_scaling"] = {{"rope_type", "linear"}, {"factor", shortest(f.get_double(k), f.find(k))}};
  } else if (scaling != "none") {
    fail("{}: llama.rope.scaling.type '{}' is not supported (only none, linear)", f.path(),
         scaling);
  } else {
    c["rope_scaling"] = nullptr;
  }
  c["max_position_embeddings"] = p.n_ctx;
  c["vocab_size"] = p.n_vocab;
  c["tie_word_embeddings"] = f.find_tensor("output.weight") == nullptr;
  c["attention_bias"] = f.find_tensor("blk.0.attn_q.bias") != nullptr;
  c["mlp_bias"] = false;
  c["torch_dtype"] = "float32";
  c["use_cache"] = true;
  for (const char* id : {"bos", "eos", "padding"}) {
    const std::string key = fmt::format("tokenizer.ggml.{}_token_id", id);
    const std::string hf = std::string(id == std::string("padding") ? "pad" : id) + "_token_id";
    if (f.find(key)) c[hf] = f.get_int(key);
  }
  return c.dump(2) + "\n";
}

std::string gguf_generation_config_json(const GgufFile& f) {
  json c = json::object();
  for (const char* id : {"bos", "eos", "padding"}) {
    const std::string key = fmt::format("tokenizer.ggml.{}_token_id", id);
    const std::string hf = std::string(id == std::string("padding") ? "pad" : id) + "_token_id";
    if (f.find(key)) c[hf] = f.get_int(key);
  }
  return c.dump(2) + "\n";
}

GgufImportSummary import_gguf(const std::string& gguf_path, const std::string& out_dir) {
  StagingDir stage(out_dir);
  const fs::path& out = stage.out();
  std::error_code ec;
  auto file = GgufFile::open(gguf_path);
  const GgufFile& f = *file;
  const LlamaParams p = llama_params(f);

  // Build everything in memory first: metadata errors surface before any big work.
  const std::string config = gguf_llama_config_json(f);
  const std::string generation = gguf_generation_config_json(f);
  const std::string tokenizer = gguf_tokenizer_json(f);
  const std::string tokenizer_config = gguf_tokenizer_config_json(f);

  if (f.find_tensor("rope_freqs.weight"))
    fail("{}: tensor 'rope_freqs.weight' (llama3 rope scaling) is not supported", f.path());
  std::set<std::string> required = {"token_embd.weight", "output_norm.weight"};
  for (int64_t l = 0; l < p.n_layers; ++l)
    for (const char* t : {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up",
                          "ffn_down", "attn_norm", "ffn_norm"})
      required.insert(fmt::format("blk.{}.{}.weight", l, t));
  for (const auto& name : required)
    if (!f.find_tensor(name)) fail("{}: missing tensor '{}'", f.path(), name);

  GgufImportSummary summary;
  summary.out_dir = out.string();
  SafetensorsWriter writer;
  for (const GgufTensor& t : f.tensors()) {
    const HfTensor hf = hf_tensor(t.name, p);
    if (hf.name.empty())
      fail("{}: unexpected tensor '{}' for architecture llama", f.path(), t.name);
    with_context(fmt::format("{}: tensor '{}'", f.path(), t.name), [&] {
      const std::vector<int64_t> shape = t.shape();
      if (shape != hf.shape)
        fail("shape [{}] does not match the hyperparameters, expected [{}] for {}",
             fmt::join(shape, ", "), fmt::join(hf.shape, ", "), hf.name);
      if (!can_dequantize(t.type))
        fail("type {} is not supported (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1)",
             ggml_type_name(t.type));
      std::vector<uint8_t> bytes(size_t(t.numel()) * sizeof(float));
      auto* dst = reinterpret_cast<float*>(bytes.data());
      dequantize_row(t.type, t.data, dst, t.numel());
      const bool is_q = t.name.find(".attn_q.") != std::string::npos;
      const bool is_k = t.name.find(".attn_k.") != std::string::npos;
      if (is_q || is_k) {
        const int64_t n_head = is_q ? p.n_head : p.n_head_kv;
        const int64_t rows = shape.at(0);
        if (rows != n_head * p.head_dim || p.head_dim % 2 != 0)
          fail("{} rows, expected head count {} x head dim {} (even)", rows, n_head, p.head_dim);
        const int64_t cols = t.numel() / rows;
        const std::vector<float> unpermuted = unpermute_qk_rows(dst, rows, cols, n_head);
        std::memcpy(dst, unpermuted.data(), bytes.size());
      }
      summary.n_params += t.numel();
      writer.add(hf.name, DType::kF32, shape, std::move(bytes));
    });
    ++summary.n_tensors;
  }
  writer.set_metadata("format", "pt");

  const fs::path& tmp = stage.path();
  writer.write((tmp / "model.safetensors").string());
  write_file_atomic((tmp / "config.json").string(), config);
  write_file_atomic((tmp / "generation_config.json").string(), generation);
  write_file_atomic((tmp / "tokenizer.json").string(), tokenizer);
  write_file_atomic((tmp / "tokenizer_config.json").string(), tokenizer_config);
  for (const auto& e : fs::directory_iterator(tmp)) summary.bytes_written += e.file_size();
  stage.commit();
  return summary;
}

}  // namespace quanta
