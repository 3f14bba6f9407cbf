#include "runtime/generate.h"

#include <algorithm>
#include <chrono>

#include "core/error.h"
#include "runtime/text_stream.h"

namespace quanta {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace

GenerateResult generate(LlamaModel& model, const Tokenizer& tok, const std::vector<int32_t>& prompt,
                        const GenerateOptions& opt,
                        const std::function<void(const std::string&)>& on_text) {
  if (prompt.empty()) fail("the prompt is empty (no tokens)");
  const int64_t vocab = model.config().vocab_size;
  if (int64_t(prompt.size()) >= opt.context)
    fail("the prompt has {} tokens; the context is {} tokens", prompt.size(), opt.context);
  const int64_t max_new = std::min<int64_t>(opt.max_tokens, opt.context - int64_t(prompt.size()));
  KvCache cache = model.make_cache(int64_t(prompt.size()) + max_new);
  Sampler sampler(opt.sampling);
  std::vector<float> logits(static_cast<size_t>(vocab));
  GenerateResult r;
  r.prompt_tokens = int64_t(prompt.size());
  r.finish_reason = "length";

  auto t0 = Clock::now();
  model.forward(prompt.data(), int64_t(prompt.size()), cache, logits.data(), 1);
  r.prefill_seconds = seconds_since(t0);
  t0 = Clock::now();

  std::string full;
  size_t emitted = 0;
  for (int64_t step = 0; step < max_new; ++step) {
    if (opt.top_logprobs > 0) r.top_logprobs.push_back(top_logprobs(logits.data(), vocab, opt.top_logprobs));
    const int32_t id = sampler.sample(logits.data(), vocab);
    r.tokens.push_back(id);
    if (std::find(opt.eos_ids.begin(), opt.eos_ids.end(), id) != opt.eos_ids.end()) {
      r.finish_reason = "stop";
      break;
    }
    full += tok.token_bytes(id);
    size_t stop_at = std::string::npos;
    for (const auto& st : opt.stop) {
      if (st.empty()) continue;
      const size_t from = emitted > st.size() ? emitted - st.size() : 0;
      const size_t p = full.find(st, from);
      if (p != std::string::npos) stop_at = std::min(stop_at, p);
    }
    if (stop_at != std::string::npos) {
      full.resize(stop_at);
      r.finish_reason = "stop";
      break;
    }
    const size_t safe = utf8_safe_end(full, full.size() - held_back_for_stops(full, opt.stop));
    if (on_text && safe > emitted) on_text(full.substr(emitted, safe - emitted));
    emitted = std::max(emitted, safe);
    if (step + 1 == max_new) break;
    model.forward(&id, 1, cache, logits.data(), 1);
  }
  if (on_text && full.size() > emitted) on_text(full.substr(emitted));
  r.decode_seconds = seconds_since(t0);
  r.text = full;
  return r;
}

}  // namespace quanta
