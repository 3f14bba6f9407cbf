#include "eval/speed.h"

#include <chrono>
#include <numeric>
#include <vector>

namespace quanta {
namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

double measure_read_bandwidth(ThreadPool& pool, size_t buffer_bytes) {
  std::vector<float> buf(buffer_bytes / sizeof(float));
  const int64_t n = int64_t(buf.size());
  pool.parallel_for(n, [&](int64_t b, int64_t e, int) {  // fault the pages in on their threads
    for (int64_t i = b; i < e; ++i) buf[size_t(i)] = float(i & 7);
  });
  double best = 0;
  std::vector<float> sink(static_cast<size_t>(pool.size()));
  for (int rep = 0; rep < 5; ++rep) {
    const double t0 = now_s();
    pool.parallel_for(n, [&](int64_t b, int64_t e, int th) {
      // Eight independent partial sums let the compiler vectorise and overlap the loads.
      float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      int64_t i = b;
      for (; i + 8 <= e; i += 8)
        for (int j = 0; j < 8; ++j) s[j] += buf[size_t(i + j)];
      for (; i < e; ++i) s[0] += buf[size_t(i)];
      sink[size_t(th)] = std::accumulate(s, s + 8, 0.0f);
    });
    const double dt = now_s() - t0;
    best = std::max(best, double(buffer_bytes) / dt);
  }
  volatile float keep = sink[0];
  (void)keep;
  return best;
}

double weight_bytes_per_token(const LlamaModel& model) {
  const ModelConfig& c = model.config();
  double bytes = 0;
  for (const auto& [name, t] : model.store().tensors()) {
    if (name == "model.embed_tokens.weight") {
      bytes += double(t.nbytes) / double(c.vocab_size);  // one row looked up
      if (c.tie_word_embeddings && !model.store().contains("lm_head.weight"))
        bytes += double(t.nbytes);  // the tied lm_head reads the whole table
    } else {
      bytes += double(t.nbytes);
    }
  }
  return bytes;
}

SpeedResult measure_speed(LlamaModel& model, int64_t prompt_tokens, int64_t decode_tokens) {
  const ModelConfig& c = model.config();
  SpeedResult r;
  r.prompt_tokens = prompt_tokens;
  r.decode_tokens = decode_tokens;
  std::vector<int32_t> prompt(static_cast<size_t>(prompt_tokens));
  for (int64_t i = 0; i < prompt_tokens; ++i) prompt[size_t(i)] = int32_t((i * 7919 + 13) % c.vocab_size);
  KvCache cache = model.make_cache(prompt_tokens + decode_tokens);
  std::vector<float> logits(static_cast<size_t>(c.vocab_size));
  // Warm-up: page in the weights and the code paths.
  model.forward(prompt.data(), std::min<int64_t>(prompt_tokens, 16), cache, logits.data(), 1);
  cache.clear();

  double t0 = now_s();
  model.forward(prompt.data(), prompt_tokens, cache, logits.data(), 1);
  r.prefill_tok_s = double(prompt_tokens) / (now_s() - t0);

  int32_t tok = 0;
  t0 = now_s();
  for (int64_t i = 0; i < decode_tokens; ++i) {
    tok = int32_t((tok + 7919 * (i + 1)) % c.vocab_size);
    model.forward(&tok, 1, cache, logits.data(), 1);
  }
  r.decode_tok_s = double(decode_tokens) / (now_s() - t0);

  const double kv_row_bytes = 2.0 * double(c.n_layers * c.n_heads_kv * c.head_dim) * sizeof(float);
  const double mean_ctx = double(prompt_tokens) + double(decode_tokens) / 2.0;
  r.bytes_per_decode_token = weight_bytes_per_token(model) + kv_row_bytes * mean_ctx;
  r.bandwidth = measure_read_bandwidth(ThreadPool::global());
  r.roofline_tok_s = r.bandwidth / r.bytes_per_decode_token;
  return r;
}

}  // namespace quanta
