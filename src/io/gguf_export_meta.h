// GGUF metadata of a Hugging Face Llama folder, as llama.cpp's convert_hf_to_gguf.py writes it for
// LlamaForCausalLM: general.*, llama.* hyperparameters and the tokenizer.* keys (byte-level BPE,
// tokenizer.ggml.model "gpt2"). The inverse of gguf_llama_config_json / gguf_tokenizer_json.
#pragma once

#include <cstdint>
#include <string>

#include "io/hf_config.h"

namespace quanta {

class GgufWriter;

// llama.cpp's llama_ftype values for general.file_type.
enum class GgufFileType : uint32_t {
  kAllF32 = 0,
  kMostlyF16 = 1,
  kMostlyQ4_0 = 2,
  kMostlyQ4_1 = 3,
  kMostlyQ8_0 = 7,
  kMostlyBF16 = 32,
};

// Checks that `c` is a model llama.cpp's "llama" architecture runs as HF does (Llama or Mistral
// without sliding window; no q/k/v bias, no q/k norm, no llama3 rope scaling). Throws quanta::Error
// naming config.json and the field otherwise.
void check_llama_exportable(const ModelConfig& c, const std::string& where);

// general.* and llama.* keys from DIR/config.json.
void add_llama_metadata(GgufWriter& w, const std::string& model_dir, const ModelConfig& c,
                        GgufFileType file_type);

// tokenizer.* keys from DIR/tokenizer.json and DIR/tokenizer_config.json (and special token ids
// from config.json / generation_config.json where the tokenizer files do not name them).
// The vocabulary is padded to `vocab_size` with "[PAD<id>]" tokens of type UNUSED, as the
// converter does. Throws naming the file and field for unsupported tokenizers.
void add_tokenizer_metadata(GgufWriter& w, const std::string& model_dir, int64_t vocab_size);

// tokenizer.ggml.pre for a tokenizer.json pre-tokenizer/normalizer, recognised by structure
// ("smollm", "gpt2", "llama-bpe", "qwen2"); throws naming the structure otherwise.
std::string gguf_pre_tokenizer_name(const std::string& tokenizer_json_text,
                                    const std::string& where);

}  // namespace quanta
