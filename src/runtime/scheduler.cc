#include "runtime/scheduler.h"

#include <algorithm>
#include <chrono>

#include "core/error.h"
#include "runtime/text_stream.h"

namespace quanta {

using Clock = std::chrono::steady_clock;

struct Engine::Active {
  std::shared_ptr<RequestChannel> ch;
  RequestParams p;
  SeqBlocks kv;
  int64_t prefilled = 0;  // prompt tokens whose K/V are in the cache
  int64_t generated = 0;
  int32_t last = -1;  // the last sampled token, fed back next step
  Sampler sampler;
  TextStream text;
  Clock::time_point submitted, last_token;

  Active(std::shared_ptr<RequestChannel> c, RequestParams params)
      : ch(std::move(c)), p(std::move(params)), sampler(p.sampling), text(p.stop),
        submitted(Clock::now()) {}
  bool prefilling() const { return prefilled < int64_t(p.prompt.size()); }
};

namespace {
double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
}  // namespace

Engine::Engine(LlamaModel& model, const Tokenizer& tok, EngineOptions opt)
    : model_(model), tok_(tok), opt_(std::move(opt)),
      cache_(model.make_paged_cache(
          opt_.kv_blocks > 0 ? opt_.kv_blocks
                             : opt_.max_batch * ((opt_.ctx + opt_.block_size - 1) / opt_.block_size),
          opt_.block_size)) {
  if (opt_.max_batch < 1 || opt_.ctx < 2 || opt_.prefill_chunk < 1)
    fail("engine: need max_batch >= 1, ctx >= 2 and prefill_chunk >= 1");
  opt_.kv_blocks = cache_.n_blocks();
  metrics_.kv_blocks_total = cache_.n_blocks();
  logits_.resize(size_t(opt_.max_batch * model_.config().vocab_size));
  thread_ = std::thread([this] { loop(); });
}

Engine::~Engine() { stop(); }

std::shared_ptr<RequestChannel> Engine::submit(RequestParams p) {
  const int64_t n = int64_t(p.prompt.size());
  if (n == 0) fail("the prompt is empty (no tokens)");
  if (p.max_tokens < 1) fail("max_tokens must be at least 1 (got {})", p.max_tokens);
  if (n + p.max_tokens > opt_.ctx)
    fail("the prompt has {} tokens and max_tokens is {}: together over the context of {} tokens",
         n, p.max_tokens, opt_.ctx);
  if (cache_.blocks_for(n + p.max_tokens) > cache_.n_blocks())
    fail("the request needs {} KV blocks; the cache has {}", cache_.blocks_for(n + p.max_tokens),
         cache_.n_blocks());
  for (int32_t id : p.prompt)
    if (id < 0 || id >= model_.config().vocab_size)
      fail("token id {} is outside the vocabulary (size {})", id, model_.config().vocab_size);
  auto ch = std::make_shared<RequestChannel>();
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (stopping_) fail("the server is shutting down");
    waiting_.push_back(std::make_unique<Active>(ch, std::move(p)));
    metrics_.waiting = int64_t(waiting_.size());
  }
  cv_.notify_all();
  return ch;
}

void Engine::stop() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

EngineMetrics Engine::metrics() const {
  std::lock_guard<std::mutex> lk(mu_);
  return metrics_;
}

void Engine::loop() {
  std::vector<std::unique_ptr<Active>> running;
  for (;;) {
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [&] { return !running.empty() || !waiting_.empty() || stopping_; });
      if (running.empty() && waiting_.empty() && stopping_) return;
    }
    admit(running);
    step(running);
  }
}

void Engine::finish(Active& a, const std::string& reason, std::string text, std::string error) {
  cache_.release(a.kv);
  {
    // Metrics first, so a client that got its last event sees its blocks freed.
    std::lock_guard<std::mutex> lk(mu_);
    if (reason == "cancelled")
      ++metrics_.requests_cancelled;
    else if (reason == "error")
      ++metrics_.requests_failed;
    else
      ++metrics_.requests_finished;
    metrics_.kv_blocks_used = cache_.n_used();
    metrics_.running = std::max<int64_t>(0, metrics_.running - 1);
  }
  StreamEvent e;
  e.text = std::move(text);
  e.done = true;
  e.finish_reason = reason;
  e.error = std::move(error);
  e.prompt_tokens = int64_t(a.p.prompt.size());
  e.completion_tokens = a.generated;
  a.ch->push(std::move(e));
}

void Engine::admit(std::vector<std::unique_ptr<Active>>& running) {
  // Cancelled requests leave at once, freeing their blocks for the ones admitted below.
  for (auto& a : running)
    if (a->ch->cancelled()) finish(*a, "cancelled");
  std::erase_if(running, [](const auto& a) { return a->kv.table.empty() && a->ch->cancelled(); });
  std::lock_guard<std::mutex> lk(mu_);
  while (!waiting_.empty()) {
    Active& a = *waiting_.front();
    if (a.ch->cancelled()) {
      a.ch->push({"", true, "cancelled", "", int64_t(a.p.prompt.size()), 0});
      ++metrics_.requests_cancelled;
      waiting_.pop_front();
      continue;
    }
    if (int64_t(running.size()) >= opt_.max_batch) break;
    // Note: the blocks for prompt + max_tokens are taken up front, so a running request never
    // runs out of cache mid-generation (no preemption needed); FIFO: a large request at the head
    // waits rather than being overtaken.
    if (!cache_.reserve(a.kv, int64_t(a.p.prompt.size()) + a.p.max_tokens)) break;
    running.push_back(std::move(waiting_.front()));
    waiting_.pop_front();
  }
  metrics_.waiting = int64_t(waiting_.size());
  metrics_.running = int64_t(running.size());
  metrics_.kv_blocks_used = cache_.n_used();
}

void Engine::step(std::vector<std::unique_ptr<Active>>& running) {
  if (running.empty()) return;
  std::vector<BatchSeq> batch;
  std::vector<Active*> owners;
  // Decode tokens first (one each), then prompt chunks within the per-step prefill budget.
  for (auto& a : running)
    if (!a->prefilling()) {
      batch.push_back({&a->last, 1, &a->kv, true});
      owners.push_back(a.get());
    }
  int64_t budget = opt_.prefill_chunk;
  for (auto& a : running) {
    if (!a->prefilling() || budget == 0) continue;
    const int64_t n = std::min(budget, int64_t(a->p.prompt.size()) - a->prefilled);
    const bool completes = a->prefilled + n == int64_t(a->p.prompt.size());
    batch.push_back({a->p.prompt.data() + a->prefilled, n, &a->kv, completes});
    owners.push_back(a.get());
    a->prefilled += n;
    budget -= n;
  }
  try {
    model_.forward_batch(batch, cache_, logits_.data());
  } catch (const std::exception& e) {
    for (auto& a : running) finish(*a, "error", "", e.what());
    running.clear();
    std::lock_guard<std::mutex> lk(mu_);
    metrics_.running = 0;
    metrics_.kv_blocks_used = cache_.n_used();
    return;
  }
  const int64_t vocab = model_.config().vocab_size;
  const auto now = Clock::now();
  uint64_t new_prompt = 0, new_gen = 0;
  std::vector<double> ttfts, itls;
  // Sample every request first and decide what happens to it; the metrics are updated before
  // any event goes out, so a client that saw its last token sees counters that include it.
  struct Outcome {
    Active* a;
    std::string text, finish;  // finish empty: the request goes on
  };
  std::vector<Outcome> outcomes;
  int64_t row = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    Active& a = *owners[i];
    if (!batch[i].want_logits) continue;
    const float* lg = logits_.data() + (row++) * vocab;
    if (a.generated == 0) {
      new_prompt += a.p.prompt.size();
      ttfts.push_back(seconds(now - a.submitted));
    } else {
      itls.push_back(seconds(now - a.last_token));
    }
    a.last_token = now;
    const int32_t id = a.sampler.sample(lg, vocab);
    a.last = id;
    ++a.generated;
    ++new_gen;
    const bool eos = !a.p.ignore_eos &&
                     std::find(opt_.eos_ids.begin(), opt_.eos_ids.end(), id) != opt_.eos_ids.end();
    if (eos) {
      outcomes.push_back({&a, a.text.flush(), "stop"});
      continue;
    }
    std::string piece = a.text.push(tok_.token_bytes(id));
    if (a.text.stopped())
      outcomes.push_back({&a, std::move(piece), "stop"});
    else if (a.generated >= a.p.max_tokens)
      outcomes.push_back({&a, piece + a.text.flush(), "length"});
    else if (!piece.empty() || a.generated == 1)
      // The first token is always announced (even if its text is held back) so that the
      // client sees its time to first token.
      outcomes.push_back({&a, std::move(piece), ""});
  }
  {
    std::lock_guard<std::mutex> lk(mu_);
    ++metrics_.steps;
    metrics_.prompt_tokens += new_prompt;
    metrics_.generation_tokens += new_gen;
    for (double v : ttfts) metrics_.ttft.observe(v);
    for (double v : itls) metrics_.itl.observe(v);
  }
  for (Outcome& o : outcomes) {
    if (!o.finish.empty())
      finish(*o.a, o.finish, std::move(o.text));
    else
      o.a->ch->push({std::move(o.text), false, "", "", int64_t(o.a->p.prompt.size()), o.a->generated});
  }
  std::erase_if(running, [](const auto& a) { return a->kv.table.empty(); });
  std::lock_guard<std::mutex> lk(mu_);
  metrics_.running = int64_t(running.size());
  metrics_.kv_blocks_used = cache_.n_used();
}

}  // namespace quanta
