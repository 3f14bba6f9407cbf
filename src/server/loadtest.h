// A load generator for an OpenAI-compatible server (in the manner of vLLM's benchmark_serving):
// `concurrency` clients each stream /v1/completions requests of prompt_len random token ids for
// exactly gen_len tokens (ignore_eos) until `requests` are done; per level it reports time to
// first token, inter-token latency (gaps between streamed chunks), output tokens/s, requests/s.
// Optionally some clients hang up mid-stream and some requests are malformed, to check that the
// server frees what they held and keeps serving.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "eval/serving_load.h"

namespace quanta::server {

struct LoadtestOptions {
  std::string url = "http://127.0.0.1:8000";
  std::string api_key, model;
  int64_t requests = 32;
  int64_t prompt_len = 128, gen_len = 128;
  int64_t token_range = 1000;   // prompt ids drawn from [3, token_range)
  double abort_fraction = 0;    // fraction of streams closed after a few chunks
  int64_t malformed = 0;        // extra bad requests sent (each must get a 4xx JSON error)
  uint64_t seed = 1;
};

struct LoadtestResult {
  int64_t concurrency = 0;
  int64_t ok = 0, failed = 0, aborted = 0;
  int64_t malformed_ok = 0;  // malformed requests answered with a 4xx JSON error
  int64_t output_tokens = 0;
  double seconds = 0;
  double ttft_p50 = 0, ttft_p99 = 0, itl_p50 = 0, itl_p99 = 0;  // seconds
  double output_tok_s = 0, requests_s = 0;
  std::string first_error;
};

// eval/serving_load.h: p in [0, 100], linear interpolation between order statistics.
using quanta::percentile;

LoadtestResult run_loadtest(const LoadtestOptions& opt, int64_t concurrency);

// GET url + path; returns the body, or throws quanta::Error.
std::string http_get(const std::string& url, const std::string& path, const std::string& api_key = "");

}  // namespace quanta::server
