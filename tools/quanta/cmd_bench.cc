// quanta bench: prefill and decode speed, and decode as a share of the memory-bandwidth roofline.
#include "commands.h"
#include "eval/speed.h"
#include "kernels/isa.h"

namespace quanta::cli {
namespace {

struct BenchArgs {
  LmHeadOption lm_head;
  std::string model;
  std::string kv_type = "f16";
  int64_t prompt = 512, decode = 128;
  int rounds = 3;
};

void run_bench(const BenchArgs& a) {
  LlamaModel model = LlamaModel::load(a.model);
  prepare_for_inference(model, a.lm_head);
  model.set_kv_type(parse_kv_type(a.kv_type));
  const SpeedResult r = measure_speed(model, a.prompt, a.decode, a.rounds);
  fmt::print("model        {}\n", a.model);
  fmt::print("kernels      {}, {} threads\n", kernels::isa_name(kernels::active_isa()), ThreadPool::global().size());
  fmt::print("KV cache     {}\n", a.kv_type);
  if (model.lm_head_quantized())
    fmt::print("lm_head      int8, {}\n", a.lm_head.group > 0 ? fmt::format("groups of {}", a.lm_head.group) : "per row");
  fmt::print("rounds       {} (medians; each round: prefill, decode, then the step-sized bandwidth probe)\n", r.rounds);
  fmt::print("prefill      {:.1f} tok/s ({} tokens)\n", r.prefill_tok_s, r.prompt_tokens);
  fmt::print("decode       {:.1f} tok/s ({} tokens; rounds {:.1f}-{:.1f})\n", r.decode_tok_s, r.decode_tokens,
             r.decode_tok_s_min, r.decode_tok_s_max);
  fmt::print("bandwidth    {:.1f} GB/s streaming a buffer the size of one step's reads, {:.1f} GB/s a larger one (>= 1 GiB)\n",
             r.bandwidth_working_set / 1e9, r.bandwidth_dram / 1e9);
  fmt::print("weights      {} (QUANTA_DEQUANT_WEIGHTS=1: dequantized reference)\n",
             model.compressed() ? "compressed in memory" : "dense as stored or dequantized");
  fmt::print("bytes/token  {:.1f} MB (weights + KV cache read per decode step)\n", r.bytes_per_decode_token / 1e6);
  fmt::print("  weights    {:.1f} MB: layers {:.1f} MB, lm_head {:.1f} MB, embedding row {:.3f} MB\n",
             r.weights.total() / 1e6, r.weights.layers / 1e6, r.weights.lm_head / 1e6, r.weights.embedding / 1e6);
  fmt::print("roofline     {:.1f} tok/s (bytes/token at the higher bandwidth); decode at {:.1f}% of it "
             "(median of the rounds' paired shares; range {:.1f}-{:.1f}%)\n",
             r.roofline_tok_s, 100.0 * r.roofline_share, 100.0 * r.roofline_share_min, 100.0 * r.roofline_share_max);
  fmt::print("peak RSS     {:.1f} MiB (load, prefill and decode; before the bandwidth probes)\n",
             double(r.peak_rss) / 1048576.0);
}

}  // namespace

void add_bench(CLI::App& app) {
  auto a = std::make_shared<BenchArgs>();
  auto* cmd = app.add_subcommand("bench", "Prefill and decode tokens/s and decode vs the memory-bandwidth roofline");
  cmd->add_option("--model", a->model, "Hugging Face model folder")->required();
  add_lm_head_option(cmd, a->lm_head);
  add_kv_type_option(cmd, a->kv_type);
  cmd->add_option("--prompt-len", a->prompt, "prefill prompt length in tokens")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--decode-len", a->decode, "tokens to decode")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--rounds", a->rounds, "rounds of prefill + decode + bandwidth probe; medians are reported")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  cmd->callback([a] { run_bench(*a); });
}

}  // namespace quanta::cli
