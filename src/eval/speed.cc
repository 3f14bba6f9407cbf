#include "eval/speed.h"

#include <algorithm>
#include <chrono>
#include <numeric>
#include <vector>

#include "core/error.h"
#include "core/huge_pages.h"
#include "core/peak_rss.h"
#include "eval/serving_load.h"  // percentile
#include "kernels/matmul.h"

namespace quanta {
namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

double measure_read_bandwidth(ThreadPool& pool, size_t buffer_bytes) {
  // Each thread streams its part of the buffer through the SIMD dot kernel against a small,
  // L1-resident vector of ones, so only the buffer itself is read from memory.
  // The buffer sits on huge pages where the kernel grants them, as the weights do
  // (LlamaModel::place_weights_on_huge_pages): 4 KiB pages stream measurably slower (Zen 3:
  // 5-27 % in paired runs), and the roofline is the machine's best, not the worse layout's.
  constexpr int64_t kChunk = 4096;
  const HugePageBuffer mem(buffer_bytes);
  float* buf = reinterpret_cast<float*>(mem.data());
  const std::vector<float> ones(static_cast<size_t>(kChunk), 1.0f);
  const int64_t n = int64_t(buffer_bytes / sizeof(float)) / kChunk * kChunk;
  const kernels::Isa isa = kernels::active_isa();
  pool.parallel_for(n, [&](int64_t b, int64_t e, int) {  // fault the pages in on their threads
    for (int64_t i = b; i < e; ++i) buf[size_t(i)] = float(i & 7);
  }, kChunk);
  double best = 0;
  std::vector<float> sink(static_cast<size_t>(pool.size()));
  for (int rep = 0; rep < 5; ++rep) {
    const double t0 = now_s();
    pool.parallel_for(n, [&](int64_t b, int64_t e, int th) {
      float s = 0;
      for (int64_t i = b; i < e; i += kChunk) s += kernels::dot(buf + i, ones.data(), kChunk, isa);
      sink[size_t(th)] = s;
    }, kChunk);
    const double dt = now_s() - t0;
    best = std::max(best, double(n) * sizeof(float) / dt);
  }
  volatile float keep = sink[0];
  (void)keep;
  return best;
}

WeightBytes weight_bytes_read(const LlamaModel& model) {
  const ModelConfig& c = model.config();
  WeightBytes b;
  for (int64_t l = 0; l < c.n_layers; ++l)
    for (const std::string& name : LlamaModel::linear_names())
      b.layers += double(model.linear(l, name).nbytes());
  // Norms (f32 vectors): two per layer of hidden size, plus the final one.
  b.layers += double(sizeof(float)) * double(c.hidden_size) * double(2 * c.n_layers + 1);
  b.lm_head = double(model.lm_head().nbytes());
  b.embedding = double(model.embedding().nbytes()) / double(c.vocab_size);
  return b;
}

double weight_bytes_per_token(const LlamaModel& model) { return weight_bytes_read(model).total(); }

TokensPerSecond measure_prefill_decode(LlamaModel& model, int64_t prompt_tokens, int64_t decode_tokens) {
  const ModelConfig& c = model.config();
  std::vector<int32_t> prompt(static_cast<size_t>(prompt_tokens));
  for (int64_t i = 0; i < prompt_tokens; ++i) prompt[size_t(i)] = int32_t((i * 7919 + 13) % c.vocab_size);
  KvCache cache = model.make_cache(prompt_tokens + decode_tokens);
  std::vector<float> logits(static_cast<size_t>(c.vocab_size));
  // Warm-up: page in the weights and the code paths.
  model.forward(prompt.data(), std::min<int64_t>(prompt_tokens, 16), cache, logits.data(), 1);
  cache.clear();

  TokensPerSecond r;
  double t0 = now_s();
  model.forward(prompt.data(), prompt_tokens, cache, logits.data(), 1);
  r.prefill = double(prompt_tokens) / (now_s() - t0);

  int32_t tok = 0;
  t0 = now_s();
  for (int64_t i = 0; i < decode_tokens; ++i) {
    tok = int32_t((tok + 7919 * (i + 1)) % c.vocab_size);
    model.forward(&tok, 1, cache, logits.data(), 1);
  }
  r.decode = double(decode_tokens) / (now_s() - t0);
  return r;
}

SpeedResult measure_speed(LlamaModel& model, int64_t prompt_tokens, int64_t decode_tokens, int rounds) {
  QUANTA_ASSERT(rounds >= 1);
  SpeedResult r;
  r.prompt_tokens = prompt_tokens;
  r.decode_tokens = decode_tokens;
  r.rounds = rounds;
  const double kv_row_bytes = model.kv_bytes_per_token();
  const double mean_ctx = double(prompt_tokens) + double(decode_tokens) / 2.0;
  r.weights = weight_bytes_read(model);
  r.bytes_per_decode_token = r.weights.total() + kv_row_bytes * mean_ctx;

  // Note: read bandwidth on a shared machine drifts by tens of percent within seconds, so each
  // round streams a buffer as large as a decode step's reads right after its decode, and the
  // round's share of the roofline pairs the two; the result is the median round.
  std::vector<double> prefill, decode, bw_ws, share;
  for (int round = 0; round < rounds; ++round) {
    const TokensPerSecond tps = measure_prefill_decode(model, prompt_tokens, decode_tokens);
    // Before any bandwidth probe: their buffers (1 GiB and more) are not the model's memory.
    if (round == 0) r.peak_rss = peak_rss_bytes();
    const double bw = measure_read_bandwidth(ThreadPool::global(), size_t(r.bytes_per_decode_token));
    prefill.push_back(tps.prefill);
    decode.push_back(tps.decode);
    bw_ws.push_back(bw);
    share.push_back(tps.decode / (bw / r.bytes_per_decode_token));
  }
  // Note: the last-level cache can hold part of the weights (260 MiB on some servers), so a
  // buffer far larger than the caches is streamed too; the roofline takes the higher bandwidth
  // (the stricter bound), for the rounds' shares as well.
  r.bandwidth_dram = measure_read_bandwidth(
      ThreadPool::global(), std::max<size_t>(size_t(1) << 30, size_t(4 * r.bytes_per_decode_token)));
  for (int round = 0; round < rounds; ++round)
    if (r.bandwidth_dram > bw_ws[size_t(round)])
      share[size_t(round)] = decode[size_t(round)] / (r.bandwidth_dram / r.bytes_per_decode_token);
  r.prefill_tok_s = percentile(prefill, 50);
  r.decode_tok_s = percentile(decode, 50);
  r.decode_tok_s_min = percentile(decode, 0);
  r.decode_tok_s_max = percentile(decode, 100);
  r.bandwidth_working_set = percentile(bw_ws, 50);
  r.bandwidth = std::max(r.bandwidth_working_set, r.bandwidth_dram);
  r.roofline_tok_s = r.bandwidth / r.bytes_per_decode_token;
  r.roofline_share = percentile(share, 50);
  r.roofline_share_min = percentile(share, 0);
  r.roofline_share_max = percentile(share, 100);
  return r;
}

}  // namespace quanta
