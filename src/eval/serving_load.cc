#include "eval/serving_load.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <random>
#include <thread>

#include "core/error.h"
#include "runtime/scheduler.h"

namespace quanta {
namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

}  // namespace

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double r = p / 100.0 * double(v.size() - 1);
  const size_t lo = size_t(r);
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (r - double(lo));
}

ServingLoadResult measure_serving_load(LlamaModel& model, const Tokenizer& tok, const ServingLoadOptions& opt,
                                       int64_t concurrency) {
  if (concurrency < 1) fail("load test: concurrency must be positive (got {})", concurrency);
  if (opt.prompt_len < 1 || opt.gen_len < 1) fail("load test: prompt and generation lengths must be positive");
  const int64_t n_req = opt.requests > 0 ? opt.requests : std::max<int64_t>(4, 2 * concurrency);
  const int64_t range = std::min<int64_t>(opt.token_range, model.config().vocab_size);
  if (range <= 3) fail("load test: token range {} leaves no ids to draw", range);
  std::vector<std::vector<int32_t>> prompts(static_cast<size_t>(n_req));
  std::mt19937_64 rng(opt.seed);
  std::uniform_int_distribution<int32_t> dist(3, int32_t(range - 1));
  for (auto& p : prompts) {
    p.resize(size_t(opt.prompt_len));
    for (auto& id : p) id = dist(rng);
  }
  EngineOptions eo;
  eo.max_batch = concurrency;
  eo.ctx = opt.prompt_len + opt.gen_len;
  Engine engine(model, tok, eo);

  std::atomic<int64_t> next{0};
  std::mutex mu;
  std::vector<double> ttft, tpot;
  int64_t out_tokens = 0;
  std::string error;
  const auto t0 = Clock::now();
  std::vector<std::thread> clients;
  for (int64_t c = 0; c < concurrency; ++c)
    clients.emplace_back([&] {
      for (int64_t i = next++; i < n_req; i = next++) {
        RequestParams rp;
        rp.prompt = prompts[size_t(i)];
        rp.max_tokens = opt.gen_len;
        rp.ignore_eos = true;
        const auto start = Clock::now();
        Clock::time_point first{}, last{};
        bool seen = false;
        StreamEvent e;
        auto ch = engine.submit(std::move(rp));
        for (;;) {
          if (!ch->pop(e, std::chrono::milliseconds(100))) continue;
          last = Clock::now();
          if (!seen) first = last, seen = true;
          if (e.done) break;
        }
        std::lock_guard<std::mutex> lk(mu);
        if (e.finish_reason == "error" && error.empty()) error = e.error;
        ttft.push_back(since(start, first));
        if (e.completion_tokens > 1) tpot.push_back(since(first, last) / double(e.completion_tokens - 1));
        out_tokens += e.completion_tokens;
      }
    });
  for (auto& t : clients) t.join();
  ServingLoadResult r;
  r.seconds = since(t0, Clock::now());
  engine.stop();
  if (!error.empty()) fail("load test: a request failed: {}", error);
  r.concurrency = concurrency;
  r.requests = n_req;
  r.output_tokens = out_tokens;
  r.ttft_p50 = percentile(ttft, 50);
  r.ttft_p99 = percentile(ttft, 99);
  r.tpot_p50 = percentile(tpot, 50);
  r.output_tok_s = double(out_tokens) / r.seconds;
  return r;
}

}  // namespace quanta
