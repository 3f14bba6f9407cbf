// quanta generate: stream a completion (or a chat reply with --chat) to stdout.
#include <algorithm>
#include <cstdio>

#include "commands.h"
#include "io/hf_config.h"
#include "io/tokenizer.h"
#include "runtime/generate.h"

namespace quanta::cli {
namespace {

struct GenerateArgs {
  LmHeadOption lm_head;
  std::string model, prompt, system;
  std::string kv_type = "f16";
  bool chat = false;
  bool verbose = false, print_ids = false;
  int64_t max_tokens = 128, ctx = 2048;
  float temperature = 0.0f, top_p = 1.0f;
  int top_k = 0, logprobs = 0;
  uint64_t seed = 0;
  std::vector<std::string> stop;
};

void run_generate(const GenerateArgs& a) {
  LlamaModel model = LlamaModel::load(a.model);
  prepare_for_inference(model, a.lm_head);
  model.set_kv_type(parse_kv_type(a.kv_type));
  Tokenizer tok = Tokenizer::load(a.model);
  const GenerationConfig gen = load_generation_config(a.model, model.config());
  std::string text = a.prompt;
  if (a.chat) {
    if (tok.chat_template().empty()) fail("{}: the tokenizer has no chat_template; drop --chat", a.model);
    std::vector<ChatMessage> msgs;
    if (!a.system.empty()) msgs.push_back({"system", a.system});
    msgs.push_back({"user", a.prompt});
    text = tok.apply_chat_template(msgs, true);
  }
  std::vector<int32_t> ids = tok.encode(text, !a.chat);
  GenerateOptions opt;
  opt.max_tokens = a.max_tokens;
  opt.context = a.ctx;
  opt.sampling = {a.temperature, a.top_k, a.top_p, a.seed};
  opt.eos_ids = gen.eos_ids;
  if (tok.eos_id() >= 0 && std::find(opt.eos_ids.begin(), opt.eos_ids.end(), tok.eos_id()) == opt.eos_ids.end())
    opt.eos_ids.push_back(tok.eos_id());
  opt.stop = a.stop;
  opt.top_logprobs = a.logprobs;
  if (!a.chat) {
    std::fputs(text.c_str(), stdout);
  }
  GenerateResult r = generate(model, tok, ids, opt, [](const std::string& s) {
    std::fputs(s.c_str(), stdout);
    std::fflush(stdout);
  });
  std::fputs("\n", stdout);
  std::fflush(stdout);
  if (a.print_ids) {
    std::string line = "ids:";
    for (int32_t t : r.tokens) line += " " + std::to_string(t);
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  for (size_t i = 0; i < r.top_logprobs.size(); ++i) {
    std::string line = fmt::format("logprobs {}:", i);
    for (const TokenLogprob& t : r.top_logprobs[i]) line += fmt::format(" {}={:.5f}", t.id, t.logprob);
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  if (a.verbose)
    std::fprintf(stderr, "[%lld prompt tokens, %.1f tok/s prefill; %zu generated, %.1f tok/s decode; finish: %s]\n",
                 (long long)r.prompt_tokens, double(r.prompt_tokens) / r.prefill_seconds, r.tokens.size(),
                 r.tokens.size() > 1 ? double(r.tokens.size() - 1) / r.decode_seconds : 0.0,
                 r.finish_reason.c_str());
}

}  // namespace

void add_generate(CLI::App& app) {
  auto a = std::make_shared<GenerateArgs>();
  auto* cmd = app.add_subcommand("generate", "Generate text from a prompt, streaming tokens to stdout");
  cmd->add_option("--model", a->model, "Hugging Face model folder")->required();
  add_lm_head_option(cmd, a->lm_head);
  add_kv_type_option(cmd, a->kv_type);
  cmd->add_option("--prompt", a->prompt, "prompt text (with --chat: the user message)")->required();
  cmd->add_flag("--chat", a->chat, "format the prompt with the model's chat template");
  cmd->add_option("--system", a->system, "system message (with --chat)");
  cmd->add_option("--max-tokens", a->max_tokens, "tokens to generate at most")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--temperature", a->temperature, "sampling temperature; 0 = greedy")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--top-p", a->top_p, "nucleus sampling mass")->capture_default_str()->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--top-k", a->top_k, "keep the k most likely tokens; 0 = all")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--seed", a->seed, "random seed for sampling")->capture_default_str();
  cmd->add_option("--stop", a->stop, "stop string (repeatable)");
  cmd->add_option("--ctx", a->ctx, "context length (prompt + generated)")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_flag("-v,--verbose", a->verbose, "print token counts and speed to stderr");
  cmd->add_flag("--print-ids", a->print_ids, "print the generated token ids to stderr ('ids: ...')");
  cmd->add_option("--logprobs", a->logprobs,
                  "print the top-K log-probabilities of each generated token to stderr "
                  "('logprobs STEP: ID=LOGPROB ...', most likely first)")
      ->check(CLI::Range(0, 20));
  cmd->callback([a] { run_generate(*a); });
}

}  // namespace quanta::cli
