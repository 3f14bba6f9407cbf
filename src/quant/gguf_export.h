// Export of a Hugging Face Llama folder to one GGUF v3 file that llama.cpp loads: plain F32 / BF16 /
// F16 folders as F16 / BF16 / F32, and compressed-tensors folders with their quantized integers
// carried over unchanged (W8 sym group 32 -> Q8_0, W4 sym group 32 -> Q4_0, W4 asym group 32 ->
// Q4_1), so a GPTQ result reaches llama.cpp without re-rounding. Q/K rows are permuted as llama.cpp
// expects; tied embeddings are written once (no output.weight), as convert_hf_to_gguf.py does.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace quanta {

struct GgufExportOptions {
  std::string model_dir;
  std::string out_path;
  // Dense 2-D weights: "auto" (F32 -> F16, BF16 and F16 kept), "f16", "bf16", "f32".
  std::string type = "auto";
  // token_embd / output: "auto" (as `type`), "f16", "bf16", "f32", "q8_0".
  std::string embed_type = "auto";
};

struct GgufExportSummary {
  std::string path;
  int64_t n_tensors = 0;
  int64_t n_params = 0;
  uint64_t bytes = 0;
  std::map<std::string, int64_t> tensors_by_type;  // "Q4_0" -> count
  std::string file_type;                           // e.g. "MOSTLY_Q4_0"
  // Quantized Linears only: how storing the scales (and Q4_1 minima) as f16 changed them, and the
  // resulting change of the dequantized weights (ggml's dequantization of the written blocks vs
  // compressed-tensors' dequantization of the folder).
  int64_t n_block_params = 0;          // d (and m) values written
  int64_t n_block_params_rounded = 0;  // of those, changed by f16 rounding
  double max_block_param_rel_change = 0;
  int64_t n_quantized_weights = 0;
  int64_t n_weights_changed = 0;
  double max_weight_abs_change = 0;
  double max_weight_rel_change = 0;  // |change| / |source weight|, over nonzero source weights
  std::string data_sha256;           // of the tensor data section (also stored in the file)
};

// Writes opt.out_path atomically (PATH.tmp-<pid>, fsync, rename); the file carries
// quanta.data_sha256, the SHA-256 of its tensor data section, for `quanta verify`. Throws
// quanta::Error naming the folder, tensor or scheme that cannot be exported, and for a quantization
// scheme without a GGUF type, the type it would need.
GgufExportSummary export_gguf(const GgufExportOptions& opt);

}  // namespace quanta
