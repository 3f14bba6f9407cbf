// Subcommands of the quanta CLI. Each add_* registers one subcommand on the app; the callback
// parses nothing itself beyond CLI11 options and calls into libquanta.
#pragma once

#include <fmt/format.h>

#include <CLI/CLI.hpp>

#include "core/error.h"
#include "model/kv_cache.h"
#include "model/llama.h"

namespace quanta::cli {

// --kv-type f32|f16|bf16|int8 on the commands that run the model; default: the model's
// (LlamaModel::kDefaultKvType).
inline CLI::Option* add_kv_type_option(CLI::App* cmd, std::string& kv_type) {
  return cmd
      ->add_option("--kv-type", kv_type,
                   "KV cache storage: f32, f16, bf16 or int8 (per position and KV head one "
                   "f32 scale)")
      ->capture_default_str()
      ->check(CLI::IsMember({"f32", "f16", "bf16", "int8"}));
}

// --lm-head stored|int8 and --lm-head-group N on the commands that run the model
// (LlamaModel::quantize_lm_head_int8).
struct LmHeadOption {
  std::string type = "stored";
  int64_t group = 32;
};
inline void add_lm_head_option(CLI::App* cmd, LmHeadOption& o) {
  cmd->add_option("--lm-head", o.type,
                  "lm_head as stored, or int8: an int8 copy (Q8_0's rule) for the W8A16 kernel, half "
                  "of BF16's bytes per decode step; changes the logits slightly")
      ->capture_default_str()
      ->check(CLI::IsMember({"stored", "int8"}));
  cmd->add_option("--lm-head-group", o.group, "columns per scale of --lm-head int8 (0: one per row)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
}
// For the inference commands: the --lm-head option, then the streamed weights onto huge pages.
inline void prepare_for_inference(LlamaModel& m, const LmHeadOption& o) {
  if (o.type == "int8") m.quantize_lm_head_int8(o.group);
  m.place_weights_on_huge_pages();
}

void add_info(CLI::App& app);
void add_generate(CLI::App& app);
void add_ppl(CLI::App& app);
void add_bench(CLI::App& app);
void add_import_gguf(CLI::App& app);
void add_tokenize(CLI::App& app);
void add_compress(CLI::App& app);
void add_export(CLI::App& app);
void add_verify(CLI::App& app);
void add_serve(CLI::App& app);
void add_loadtest(CLI::App& app);
void add_plan(CLI::App& app);
void add_report(CLI::App& app);
void add_hellaswag(CLI::App& app);

}  // namespace quanta::cli
