// The compressed-tensors checkpoint format (what vLLM and transformers read), as llm-compressor
// writes it (../shared/PEERS.md): pack-quantized (int4 in int32, weight_packed / weight_scale /
// weight_zero_point / weight_shape / weight_g_idx), int-quantized (int8 `weight`), float-quantized
// (F8_E4M3 `weight`), and config.json's `quantization_config`.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "quant/quant_args.h"

namespace quanta {

struct CompressedSaveOptions {
  std::string source_dir;              // the original HF folder: config, tokenizer, generation files
  Scheme scheme;
  std::vector<std::string> ignore;     // e.g. {"lm_head"}
  std::vector<std::string> targets = {"Linear"};
  std::string recipe_yaml;             // written as recipe.yaml
};

// Writes an HF folder: every tensor of `dense` not in `quantized` as is (converted to BF16 if
// `dense_bf16`), every entry of `quantized` (keyed by the Linear's weight name, e.g.
// "model.layers.0.mlp.up_proj.weight") in compressed-tensors layout, config.json with
// quantization_config, copies of the tokenizer/generation files, recipe.yaml. Written to a
// temporary folder and renamed to out_dir only when complete; refuses an existing non-empty out_dir.
void save_compressed_tensors(const std::string& out_dir, const CompressedSaveOptions& opt,
                             const std::map<std::string, QuantizedWeight>& quantized,
                             const TensorStore& dense, bool dense_bf16 = true);

// True if DIR/config.json has a compressed-tensors quantization_config.
bool is_compressed_tensors(const std::string& dir);

// Opens a compressed-tensors folder with every quantized Linear dequantized to F32 under its
// plain name ("...up_proj.weight"); all other tensors as stored. Throws quanta::Error naming the
// file/tensor/field on anything malformed (missing scale, wrong packed shape, unknown format).
TensorStore load_compressed_tensors(const std::string& dir);

// Dynamic activation quantization of such a folder (W8A8, FP8_DYNAMIC: per token at run time);
// nullopt for weight-only schemes and plain folders.
std::optional<QuantArgs> input_activation_args(const std::string& dir);

// The quantized weights of such a folder, unpacked (for tests and for kernels that keep them
// compressed).
std::map<std::string, QuantizedWeight> read_quantized_weights(const std::string& dir);

// Same, one weight at a time: fn(name, weight) for each quantized tensor of `store` (the folder
// DIR opened as stored), name being the Linear's weight name ("...up_proj.weight").
void for_each_quantized_weight(
    const std::string& dir, const TensorStore& store,
    const std::function<void(const std::string&, QuantizedWeight&&)>& fn);

}  // namespace quanta
