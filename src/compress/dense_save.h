// Saving a (pruned) model densely: a plain HF folder with BF16 weights, as llm-compressor saves
// sparsity-only results (no sparsity_config, so every loader reads it).
#pragma once

#include <string>

#include "model/llama.h"

namespace quanta {

// Writes every tensor of the model's store as BF16, with each Linear taken from the model's current
// weights (set_linear), plus config.json (torch_dtype bfloat16), the tokenizer and generation files
// of source_dir, and recipe.yaml. Atomic: OUT.tmp-<pid>/ renamed to OUT when complete.
void save_dense_model(const std::string& out_dir, const std::string& source_dir,
                      const LlamaModel& model, const std::string& recipe_yaml);

}  // namespace quanta
