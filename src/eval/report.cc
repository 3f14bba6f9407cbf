#include "eval/report.h"

#include <fmt/format.h>

#include "core/error.h"

namespace quanta {

double ReportRow::request_latency_s() const {
  return load_1.ttft_p50 + double(std::max<int64_t>(0, load_1.output_tokens / std::max<int64_t>(1, load_1.requests) - 1)) *
                               load_1.tpot_p50;
}

std::vector<bool> pareto_front(const std::vector<double>& x, const std::vector<double>& y, bool minimize_x,
                               bool minimize_y) {
  QUANTA_ASSERT(x.size() == y.size());
  const auto better_eq = [](double a, double b, bool min) { return min ? a <= b : a >= b; };
  const auto better = [](double a, double b, bool min) { return min ? a < b : a > b; };
  std::vector<bool> front(x.size(), true);
  for (size_t i = 0; i < x.size(); ++i)
    for (size_t j = 0; j < x.size() && front[i]; ++j)
      if (j != i && better_eq(x[j], x[i], minimize_x) && better_eq(y[j], y[i], minimize_y) &&
          (better(x[j], x[i], minimize_x) || better(y[j], y[i], minimize_y)))
        front[i] = false;
  return front;
}

Recommendation recommend(const std::vector<ReportRow>& rows, double max_ppl_increase_pct) {
  int base = -1;
  for (size_t i = 0; i < rows.size(); ++i)
    if (rows[i].baseline) base = int(i);
  if (base < 0) fail("report: no baseline row to measure the perplexity budget against");
  Recommendation r;
  r.ppl_limit = rows[size_t(base)].ppl * (1.0 + max_ppl_increase_pct / 100.0);
  for (size_t i = 0; i < rows.size(); ++i)
    if (rows[i].baseline || rows[i].ppl <= r.ppl_limit) {
      r.within_budget.push_back(int(i));
      r.compressed_within_budget = r.compressed_within_budget || !rows[i].baseline;
    }
  const std::string budget = fmt::format("perplexity <= {:.3f} (baseline {:.3f} + {:g} %)", r.ppl_limit,
                                         rows[size_t(base)].ppl, max_ppl_increase_pct);
  if (!r.compressed_within_budget)
    r.note = fmt::format("no compressed scheme is within the budget ({}); the baseline is recommended", budget);
  int on = -1, off = -1;
  for (int i : r.within_budget) {
    const ReportRow& a = rows[size_t(i)];
    if (on < 0 || a.request_latency_s() < rows[size_t(on)].request_latency_s() ||
        (a.request_latency_s() == rows[size_t(on)].request_latency_s() &&
         a.decode_tok_s > rows[size_t(on)].decode_tok_s))
      on = i;
    if (off < 0 || a.load_n.output_tok_s > rows[size_t(off)].load_n.output_tok_s) off = i;
  }
  const ReportRow& o = rows[size_t(on)];
  r.online.row = on;
  r.online.rationale = fmt::format(
      "lowest single-request latency within budget: {:.0f} ms for one request generating {} tokens alone "
      "(TTFT p50 {:.1f} ms + {:.1f} ms per output token; {:.1f} tok/s single-stream decode); ppl {:.3f} "
      "({:+.2f} %); budget: {}",
      o.request_latency_s() * 1e3, o.load_1.requests > 0 ? o.load_1.output_tokens / o.load_1.requests : 0,
      o.load_1.ttft_p50 * 1e3, o.load_1.tpot_p50 * 1e3, o.decode_tok_s, o.ppl, o.ppl_increase_pct, budget);
  const ReportRow& f = rows[size_t(off)];
  r.offline.row = off;
  r.offline.rationale = fmt::format(
      "highest throughput within budget: {:.1f} output tok/s at concurrency {} (TTFT p50 {:.0f} ms); "
      "ppl {:.3f} ({:+.2f} %); budget: {}",
      f.load_n.output_tok_s, f.load_n.concurrency, f.load_n.ttft_p50 * 1e3, f.ppl, f.ppl_increase_pct, budget);
  return r;
}

}  // namespace quanta
