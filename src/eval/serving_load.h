// Latency and throughput under load, measured on the continuous-batching engine in this process
// (runtime/scheduler.h, what `quanta serve` runs, without the HTTP layer): `concurrency` client
// threads each submit a request of prompt_len random token ids generating exactly gen_len tokens
// (ignore_eos, greedy), wait for it to finish and submit the next, until `requests` are done.
#pragma once

#include <cstdint>
#include <vector>

#include "io/tokenizer.h"
#include "model/llama.h"

namespace quanta {

struct ServingLoadOptions {
  int64_t prompt_len = 64, gen_len = 32;
  int64_t requests = 0;        // 0: 2 x concurrency, at least 4
  int64_t token_range = 1000;  // prompt ids drawn from [3, token_range)
  uint64_t seed = 1;
};

struct ServingLoadResult {
  int64_t concurrency = 0, requests = 0, output_tokens = 0;
  double seconds = 0;
  double ttft_p50 = 0, ttft_p99 = 0;  // submit -> first token (seconds)
  double tpot_p50 = 0;                // per request: (last token - first token) / (gen_len - 1)
  double output_tok_s = 0;            // generated tokens of all requests / wall time
};

// p in [0, 100], linear interpolation between order statistics; 0 for an empty set.
double percentile(std::vector<double> v, double p);

ServingLoadResult measure_serving_load(LlamaModel& model, const Tokenizer& tok, const ServingLoadOptions& opt,
                                       int64_t concurrency);

}  // namespace quanta
