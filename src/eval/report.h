// The scheme comparison report (`quanta report`): one row of measurements per scheme, the Pareto
// fronts the plots mark, and the recommendation for an online (latency-bound) and an offline
// (throughput-bound) deployment within a perplexity budget. Measurement is in report_run.h, the
// markdown/JSON/HTML writers in report_writers.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "eval/serving_load.h"

namespace quanta {

struct ReportRow {
  std::string name;    // as given to --schemes, e.g. "W4A16:g64", or the baseline's dtype ("F32")
  std::string scheme;  // compressed-tensors scheme, or "" for the baseline
  int64_t group_size = -1;
  std::string method;  // rtn | gptq | "" (baseline) | "reused" (--folders)
  std::string folder;
  bool baseline = false;
  double compress_seconds = 0;
  double size_mib = 0;     // files of the folder on disk
  double weights_mib = 0;  // weights as the engine holds them in memory
  double kv_mib = 0;       // f32 KV cache for the load test's concurrency x (prompt + gen) tokens
  double ppl = 0;
  double ppl_increase_pct = 0;  // vs the baseline
  int64_t hellaswag_items = 0;
  double acc = 0, acc_norm = 0;  // fractions
  double kl_mean = 0, kl_max = 0, top1_agree = 1;
  double prefill_tok_s = 0, decode_tok_s = 0;  // one sequence
  ServingLoadResult load_1, load_n;            // concurrency 1 and --concurrency
  // Online latency of one request alone: TTFT + (gen - 1) x time per output token (p50s).
  double request_latency_s() const;
};

struct ReportSettings {
  std::string model, text, hellaswag;
  int64_t ctx = 512, windows = 0, kl_windows = 0, hellaswag_items = 0;
  double max_ppl_increase_pct = 1.0;
  int64_t concurrency = 8;
  ServingLoadOptions load;
  int64_t speed_prompt = 128, speed_decode = 64;
  std::string method = "rtn";
  int threads = 0;
  std::string isa;
  std::string date;  // UTC, ISO 8601
};

struct Pick {
  int row = -1;            // index into rows; -1: none
  std::string rationale;   // the numbers that decided it
};

struct Recommendation {
  double ppl_limit = 0;    // baseline ppl x (1 + budget)
  bool compressed_within_budget = false;
  std::vector<int> within_budget;  // row indices
  Pick online, offline;
  std::string note;        // e.g. no compressed scheme within the budget
};

struct Report {
  ReportSettings settings;
  std::vector<ReportRow> rows;
  Recommendation rec;
};

// front[i]: no other point is at least as good on both axes and better on one. Better is smaller
// where minimize_* is set, larger otherwise.
std::vector<bool> pareto_front(const std::vector<double>& x, const std::vector<double>& y, bool minimize_x,
                               bool minimize_y);

// Within budget: ppl <= baseline ppl x (1 + max_ppl_increase_pct / 100). Online: the lowest
// request_latency_s() among those (ties: higher single-stream decode tok/s); offline: the highest
// output tok/s at --concurrency. The baseline is always within its own budget, so a pick always
// exists if the rows hold a baseline; throws quanta::Error if they do not.
Recommendation recommend(const std::vector<ReportRow>& rows, double max_ppl_increase_pct);

}  // namespace quanta
