// quanta tokenize: print the token ids (and pieces) of a text.
#include "commands.h"
#include "io/tokenizer.h"

namespace quanta::cli {
namespace {

struct TokenizeArgs {
  std::string model, text;
  bool special = false;
};

void run_tokenize(const TokenizeArgs& a) {
  Tokenizer tok = Tokenizer::load(a.model);
  const std::vector<int32_t> ids = tok.encode(a.text, a.special);
  for (int32_t id : ids) fmt::print("{}\t{:?}\n", id, tok.token_bytes(id));
  fmt::print("{} tokens\n", ids.size());
}

}  // namespace

void add_tokenize(CLI::App& app) {
  auto a = std::make_shared<TokenizeArgs>();
  auto* cmd = app.add_subcommand("tokenize", "Print the token ids of a text");
  cmd->add_option("--model", a->model, "Hugging Face model folder (its tokenizer.json)")->required();
  cmd->add_option("--text", a->text, "text to tokenize")->required();
  cmd->add_flag("--special", a->special, "add the tokenizer's special tokens (BOS/EOS) as HF does");
  cmd->callback([a] { run_tokenize(*a); });
}

}  // namespace quanta::cli
