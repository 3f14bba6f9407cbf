// Turns a llama-architecture GGUF (as llama.cpp's convert_hf_to_gguf.py writes it) back into a
// plain Hugging Face model folder: model.safetensors (F32, HF names and shapes, Q/K rows
// un-permuted), config.json, generation_config.json, tokenizer.json, tokenizer_config.json.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace quanta {

class GgufFile;

struct GgufImportSummary {
  std::string out_dir;
  int64_t n_tensors = 0;
  int64_t n_params = 0;
  uint64_t bytes_written = 0;  // all files of the folder
};

// Writes everything into OUT.tmp-<pid>/ and renames it to `out_dir` when complete. Refuses an
// existing non-empty `out_dir`. Throws quanta::Error naming the GGUF file and the field or tensor
// (unknown architecture, missing tensor, unsupported tensor type or tokenizer).
GgufImportSummary import_gguf(const std::string& gguf_path, const std::string& out_dir);

// Undoes llama.cpp's rotary row permutation of attn_q / attn_k. The converter did
//   w.reshape(n_head, 2, rows / n_head / 2, cols).swapaxes(1, 2).reshape(rows, cols)
// so this applies w.reshape(n_head, rows / n_head / 2, 2, cols).swapaxes(1, 2).
// w: (rows, cols) row-major; returns the HF-ordered (rows, cols). Also works for biases (cols=1).
std::vector<float> unpermute_qk_rows(const float* w, int64_t rows, int64_t cols, int64_t n_head);

// The JSON files of the folder, from the GGUF's metadata (pretty-printed, as text).
std::string gguf_llama_config_json(const GgufFile& f);
std::string gguf_generation_config_json(const GgufFile& f);
// tokenizer.ggml.model must be "gpt2" (byte-level BPE); tokenizer.ggml.pre one of "smollm",
// "gpt2", "llama-bpe", "qwen2", "default".
std::string gguf_tokenizer_json(const GgufFile& f);
std::string gguf_tokenizer_config_json(const GgufFile& f);

}  // namespace quanta
