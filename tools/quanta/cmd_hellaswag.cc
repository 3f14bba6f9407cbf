// quanta hellaswag: HellaSwag acc and acc_norm of a model (llama.cpp's scoring; eval/hellaswag.h).
#include "commands.h"
#include "eval/hellaswag.h"
#include "progress.h"

namespace quanta::cli {
namespace {

struct HellaswagArgs {
  LmHeadOption lm_head;
  std::string model, file;
  int64_t items = 0;
};

void run_hellaswag(const HellaswagArgs& a) {
  LlamaModel model = LlamaModel::load(a.model);
  prepare_for_inference(model, a.lm_head);
  const Tokenizer tok = Tokenizer::load(a.model);
  const std::vector<HellaswagItem> items = load_hellaswag(a.file, a.items);
  ProgressBar bar("items");
  const HellaswagResult r = hellaswag_eval(model, tok, items, [&](int64_t d, int64_t t) { bar.update(d, t); });
  fmt::print("HellaSwag {} items: acc {:.2f} % ({}), acc_norm {:.2f} % ({})  ({:.1f} s, {:.2f} items/s)\n",
             r.n_items, r.acc * 100, r.n_correct, r.acc_norm * 100, r.n_correct_norm, r.seconds,
             double(r.n_items) / r.seconds);
}

}  // namespace

void add_hellaswag(CLI::App& app) {
  auto a = std::make_shared<HellaswagArgs>();
  auto* cmd = app.add_subcommand(
      "hellaswag",
      "HellaSwag multiple choice as llama-perplexity --hellaswag scores it: each ending tokenized as\n"
      "context + \" \" + ending, the tokens after the prefix all four share scored; acc = largest summed\n"
      "log-prob, acc_norm = largest mean log-prob per token. Items in file order (llama.cpp shuffles).");
  cmd->add_option("--model", a->model, "Hugging Face model folder")->required();
  add_lm_head_option(cmd, a->lm_head);
  cmd->add_option("--file", a->file, "6-lines-per-item file, e.g. ../shared/data/hellaswag/hellaswag_val_full.txt")
      ->required()->check(CLI::ExistingFile);
  cmd->add_option("--items", a->items, "first N items (0: all)")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->callback([a] { run_hellaswag(*a); });
}

}  // namespace quanta::cli
