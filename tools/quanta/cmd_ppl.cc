// quanta ppl: perplexity of a model on a text file.
#include "commands.h"
#include "eval/perplexity.h"
#include "io/hf_config.h"
#include "io/tokenizer.h"
#include "progress.h"

namespace quanta::cli {
namespace {

struct PplArgs {
  LmHeadOption lm_head;
  std::string model, text;
  std::string kv_type = "f16";
  int64_t ctx = 512, windows = 0;
  bool second_half = false;
};

void run_ppl(const PplArgs& a) {
  LlamaModel model = LlamaModel::load(a.model);
  prepare_for_inference(model, a.lm_head);
  model.set_kv_type(parse_kv_type(a.kv_type));
  Tokenizer tok = Tokenizer::load(a.model);
  // Note: the file is read as bytes (CRLF kept), as llama.cpp does; text mode changes the result.
  const std::string text = read_file(a.text);
  const std::vector<int32_t> ids = tok.encode(text, false);
  PplOptions opt;
  opt.ctx = a.ctx;
  opt.max_windows = a.windows;
  opt.scoring = a.second_half ? PplScoring::kSecondHalf : PplScoring::kAllButFirst;
  fmt::print(stderr, "{}: {} bytes, {} tokens, {} windows of {}\n", a.text, text.size(), ids.size(),
             a.windows > 0 ? std::min<int64_t>(a.windows, int64_t(ids.size()) / a.ctx)
                           : int64_t(ids.size()) / a.ctx,
             a.ctx);
  ProgressBar bar("windows");
  const PplResult r = perplexity(model, ids, opt, [&](int64_t d, int64_t t) { bar.update(d, t); });
  fmt::print("perplexity {:.4f}  ({} windows of {}, {} tokens scored, {}, {:.1f} s, {:.0f} tok/s)\n",
             r.ppl, r.n_windows, a.ctx, r.n_scored,
             a.second_half ? "second half of each window" : "all tokens after the first of each window",
             r.seconds, double(r.n_windows * a.ctx) / r.seconds);
}

}  // namespace

void add_ppl(CLI::App& app) {
  auto a = std::make_shared<PplArgs>();
  auto* cmd = app.add_subcommand(
      "ppl",
      "Perplexity over non-overlapping windows: the file is read as bytes and tokenized once without\n"
      "BOS, cut into windows of --ctx tokens (a last partial window is dropped), each window run from an\n"
      "empty cache; exp(mean NLL) over every token after the first of each window, or with\n"
      "--second-half over tokens ctx/2+1..ctx-1 only (llama-perplexity's convention)");
  cmd->add_option("--model", a->model, "Hugging Face model folder")->required();
  add_lm_head_option(cmd, a->lm_head);
  add_kv_type_option(cmd, a->kv_type);
  cmd->add_option("--text", a->text, "text file, e.g. ../shared/data/wikitext-2-raw/wiki.test.raw")->required()->check(CLI::ExistingFile);
  cmd->add_option("--ctx", a->ctx, "window length in tokens")->capture_default_str()->check(CLI::Range(2, 1 << 20));
  cmd->add_option("--windows", a->windows, "score only the first N windows; 0 = all")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_flag("--second-half", a->second_half, "score only the second half of each window (llama.cpp)");
  cmd->callback([a] { run_ppl(*a); });
}

}  // namespace quanta::cli
