#include "eval/report_writers.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

namespace quanta {
namespace {

std::string html_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      default: o += c;
    }
  }
  return o;
}

nlohmann::json load_json(const ServingLoadResult& l) {
  return {{"concurrency", l.concurrency}, {"requests", l.requests},   {"output_tokens", l.output_tokens},
          {"seconds", l.seconds},         {"ttft_p50_s", l.ttft_p50}, {"ttft_p99_s", l.ttft_p99},
          {"tpot_p50_s", l.tpot_p50},     {"output_tok_s", l.output_tok_s}};
}

std::string recommendation_markdown(const Report& r) {
  const Recommendation& rec = r.rec;
  std::string s = fmt::format("## Recommendation (perplexity budget +{:g} %: ppl <= {:.3f})\n\n",
                              r.settings.max_ppl_increase_pct, rec.ppl_limit);
  if (!rec.note.empty()) s += fmt::format("**{}**\n\n", rec.note);
  std::vector<std::string> within;
  for (int i : rec.within_budget) within.push_back(r.rows[size_t(i)].name);
  s += fmt::format("Within the budget: {}.\n\n", fmt::join(within, ", "));
  if (rec.online.row >= 0)
    s += fmt::format("- **Online (latency-bound): {}** — {}.\n", r.rows[size_t(rec.online.row)].name,
                     rec.online.rationale);
  if (rec.offline.row >= 0)
    s += fmt::format("- **Offline (throughput-bound): {}** — {}.\n", r.rows[size_t(rec.offline.row)].name,
                     rec.offline.rationale);
  return s;
}

std::string settings_markdown(const ReportSettings& st) {
  return fmt::format(
      "## Settings\n\n"
      "- model: `{}`; {} threads, ISA {}; measured {} (UTC)\n"
      "- perplexity: `{}`, {} windows of {} tokens (every token after the first of each window)\n"
      "- KL divergence to the baseline: {} windows of {} tokens, every position; top-1 = argmax agreement\n"
      "- HellaSwag: `{}`, first {} items; acc = argmax of summed log-prob, acc_norm = argmax of mean "
      "log-prob per token (llama.cpp's convention: context + \" \" + ending, tokens after the common prefix)\n"
      "- speed: one sequence, prefill of {} tokens, then {} decode steps\n"
      "- load: continuous-batching engine in process, prompts of {} random tokens, {} generated "
      "(ignore_eos), at concurrency 1 and {}\n"
      "- compression method: {}\n",
      st.model, st.threads, st.isa, st.date, st.text, st.windows, st.ctx, st.kl_windows, st.ctx, st.hellaswag,
      st.hellaswag_items, st.speed_prompt, st.speed_decode, st.load.prompt_len, st.load.gen_len, st.concurrency,
      st.method);
}

// "Nice" tick positions covering [lo, hi].
std::vector<double> ticks(double lo, double hi) {
  const double span = std::max(hi - lo, 1e-12);
  const double raw = span / 5;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  std::vector<double> t;
  for (double v = std::ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) t.push_back(v);
  return t;
}

}  // namespace

std::string svg_scatter(const std::string& title, const std::string& x_label, const std::string& y_label,
                        const std::vector<PlotPoint>& points) {
  const double W = 560, H = 380, L = 70, R = 30, T = 40, B = 55;
  double x0 = 1e300, x1 = -1e300, y0 = 1e300, y1 = -1e300;
  for (const auto& p : points) {
    x0 = std::min(x0, p.x), x1 = std::max(x1, p.x), y0 = std::min(y0, p.y), y1 = std::max(y1, p.y);
  }
  if (points.empty()) x0 = y0 = 0, x1 = y1 = 1;
  const auto pad = [](double& lo, double& hi) {
    const double d = hi - lo > 0 ? (hi - lo) * 0.08 : std::max(std::abs(hi) * 0.05, 1e-3);
    lo -= d, hi += d;
  };
  pad(x0, x1);
  pad(y0, y1);
  const auto sx = [&](double x) { return L + (x - x0) / (x1 - x0) * (W - L - R); };
  const auto sy = [&](double y) { return H - B - (y - y0) / (y1 - y0) * (H - T - B); };
  std::string s = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" "
      "font-family=\"sans-serif\" font-size=\"11\">\n"
      "<text x=\"{}\" y=\"20\" text-anchor=\"middle\" font-size=\"14\">{}</text>\n"
      "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#888\"/>\n",
      W, H, W, H, W / 2, html_escape(title), L, T, W - L - R, H - T - B);
  for (double t : ticks(x0, x1))
    s += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" stroke=\"#eee\"/>"
                     "<text x=\"{0:.1f}\" y=\"{3}\" text-anchor=\"middle\">{4:g}</text>\n",
                     sx(t), T, H - B, H - B + 15, t);
  for (double t : ticks(y0, y1))
    s += fmt::format("<line x1=\"{1}\" y1=\"{0:.1f}\" x2=\"{2}\" y2=\"{0:.1f}\" stroke=\"#eee\"/>"
                     "<text x=\"{3}\" y=\"{0:.1f}\" text-anchor=\"end\" dominant-baseline=\"middle\">{4:g}</text>\n",
                     sy(t), L, W - R, L - 5, t);
  s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", (L + W - R) / 2, H - 12,
                   html_escape(x_label));
  s += fmt::format("<text x=\"15\" y=\"{0}\" text-anchor=\"middle\" transform=\"rotate(-90 15 {0})\">{1}</text>\n",
                   (T + H - B) / 2, html_escape(y_label));
  std::vector<PlotPoint> front;
  for (const auto& p : points)
    if (p.front) front.push_back(p);
  std::sort(front.begin(), front.end(), [](const auto& a, const auto& b) { return a.x < b.x; });
  if (front.size() > 1) {
    std::string pts;
    for (const auto& p : front) pts += fmt::format("{:.1f},{:.1f} ", sx(p.x), sy(p.y));
    s += fmt::format("<polyline class=\"pareto\" points=\"{}\" fill=\"none\" stroke=\"#d62728\" "
                     "stroke-width=\"1.5\" stroke-dasharray=\"5,3\"/>\n", pts);
  }
  for (const auto& p : points)
    s += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"5\" fill=\"{}\" stroke=\"#1f77b4\"/>"
                     "<text x=\"{:.1f}\" y=\"{:.1f}\">{}</text>\n",
                     sx(p.x), sy(p.y), p.front ? "#d62728" : "#fff", sx(p.x) + 7, sy(p.y) - 6,
                     html_escape(p.label));
  s += "</svg>\n";
  return s;
}

std::string report_table_markdown(const Report& r) {
  const int64_t n = r.settings.concurrency;
  std::string s = fmt::format(
      "| scheme | size MiB | weights MiB | KV MiB | ppl | Δppl % | acc_norm % | acc % | KL | top-1 % | prefill tok/s "
      "| decode tok/s | TTFT ms (1) | latency ms (1) | out tok/s ({}) | TTFT ms ({}) |\n"
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
      n, n);
  for (const ReportRow& w : r.rows)
    s += fmt::format("| {}{} | {:.1f} | {:.1f} | {:.1f} | {:.3f} | {:+.2f} | {:.1f} | {:.1f} | {:.4f} | {:.1f} | {:.0f} "
                     "| {:.1f} | {:.1f} | {:.0f} | {:.1f} | {:.0f} |\n",
                     w.name, w.baseline ? " (baseline)" : "", w.size_mib, w.weights_mib, w.kv_mib, w.ppl,
                     w.ppl_increase_pct, w.acc_norm * 100, w.acc * 100, w.kl_mean, w.top1_agree * 100,
                     w.prefill_tok_s, w.decode_tok_s, w.load_1.ttft_p50 * 1e3, w.request_latency_s() * 1e3,
                     w.load_n.output_tok_s, w.load_n.ttft_p50 * 1e3);
  return s;
}

std::string report_markdown(const Report& r) {
  return fmt::format("# quanta report: {}\n\n{}\n{}\n{}", r.settings.model, report_table_markdown(r),
                     recommendation_markdown(r), settings_markdown(r.settings));
}

std::string report_json(const Report& r) {
  const ReportSettings& st = r.settings;
  nlohmann::json j;
  j["settings"] = {{"model", st.model},
                   {"text", st.text},
                   {"ctx", st.ctx},
                   {"windows", st.windows},
                   {"kl_windows", st.kl_windows},
                   {"hellaswag", st.hellaswag},
                   {"hellaswag_items", st.hellaswag_items},
                   {"max_ppl_increase_pct", st.max_ppl_increase_pct},
                   {"concurrency", st.concurrency},
                   {"load_prompt_len", st.load.prompt_len},
                   {"load_gen_len", st.load.gen_len},
                   {"speed_prompt", st.speed_prompt},
                   {"speed_decode", st.speed_decode},
                   {"method", st.method},
                   {"threads", st.threads},
                   {"isa", st.isa},
                   {"date", st.date}};
  j["rows"] = nlohmann::json::array();
  for (const ReportRow& w : r.rows)
    j["rows"].push_back({{"name", w.name},
                         {"scheme", w.scheme},
                         {"group_size", w.group_size},
                         {"method", w.method},
                         {"folder", w.folder},
                         {"baseline", w.baseline},
                         {"compress_seconds", w.compress_seconds},
                         {"size_mib", w.size_mib},
                         {"weights_mib", w.weights_mib},
                         {"kv_mib", w.kv_mib},
                         {"ppl", w.ppl},
                         {"ppl_increase_pct", w.ppl_increase_pct},
                         {"hellaswag_items", w.hellaswag_items},
                         {"acc", w.acc},
                         {"acc_norm", w.acc_norm},
                         {"kl_mean", w.kl_mean},
                         {"kl_max", w.kl_max},
                         {"top1_agree", w.top1_agree},
                         {"prefill_tok_s", w.prefill_tok_s},
                         {"decode_tok_s", w.decode_tok_s},
                         {"request_latency_s", w.request_latency_s()},
                         {"load_1", load_json(w.load_1)},
                         {"load_n", load_json(w.load_n)}});
  const Recommendation& rec = r.rec;
  const auto pick = [&](const Pick& p) {
    return nlohmann::json{{"scheme", p.row >= 0 ? r.rows[size_t(p.row)].name : ""}, {"rationale", p.rationale}};
  };
  nlohmann::json within = nlohmann::json::array();
  for (int i : rec.within_budget) within.push_back(r.rows[size_t(i)].name);
  j["recommendation"] = {{"ppl_limit", rec.ppl_limit},
                         {"compressed_within_budget", rec.compressed_within_budget},
                         {"within_budget", within},
                         {"online", pick(rec.online)},
                         {"offline", pick(rec.offline)},
                         {"note", rec.note}};
  return j.dump(2) + "\n";
}

std::string report_html(const Report& r) {
  std::vector<double> size, ppl, dec, accn;
  for (const ReportRow& w : r.rows) {
    size.push_back(w.size_mib), ppl.push_back(w.ppl), dec.push_back(w.decode_tok_s), accn.push_back(w.acc_norm * 100);
  }
  const std::vector<bool> f1 = pareto_front(size, ppl, true, true);
  const std::vector<bool> f2 = pareto_front(dec, accn, false, false);
  std::vector<PlotPoint> p1, p2;
  for (size_t i = 0; i < r.rows.size(); ++i) {
    p1.push_back({size[i], ppl[i], r.rows[i].name, f1[i]});
    p2.push_back({dec[i], accn[i], r.rows[i].name, f2[i]});
  }
  // The markdown table and recommendation as HTML: a small converter for exactly what
  // report_markdown writes (a pipe table, bullet lines, bold, paragraphs).
  std::string table = "<table>\n";
  {
    const std::string md = report_table_markdown(r);
    size_t pos = 0;
    int line = 0;
    while (pos < md.size()) {
      const size_t nl = md.find('\n', pos);
      const std::string l = md.substr(pos, nl - pos);
      pos = nl + 1;
      if (line++ == 1) continue;  // the |---| row
      std::vector<std::string> cells;
      size_t a = 1;
      for (size_t b = l.find('|', a); b != std::string::npos; a = b + 1, b = l.find('|', a))
        cells.push_back(l.substr(a + 1, b - a - 2));  // "| x |" -> "x"
      table += "<tr>";
      const char* tag = line == 1 ? "th" : "td";
      for (const auto& c : cells) table += fmt::format("<{0}>{1}</{0}>", tag, html_escape(c));
      table += "</tr>\n";
    }
  }
  table += "</table>\n";
  const Recommendation& rec = r.rec;
  std::string recs = fmt::format("<h2>Recommendation (perplexity budget +{:g} %: ppl &lt;= {:.3f})</h2>\n",
                                 r.settings.max_ppl_increase_pct, rec.ppl_limit);
  if (!rec.note.empty()) recs += fmt::format("<p><b>{}</b></p>\n", html_escape(rec.note));
  recs += "<ul>\n";
  if (rec.online.row >= 0)
    recs += fmt::format("<li><b>Online (latency-bound): {}</b>: {}</li>\n",
                        html_escape(r.rows[size_t(rec.online.row)].name), html_escape(rec.online.rationale));
  if (rec.offline.row >= 0)
    recs += fmt::format("<li><b>Offline (throughput-bound): {}</b>: {}</li>\n",
                        html_escape(r.rows[size_t(rec.offline.row)].name), html_escape(rec.offline.rationale));
  recs += "</ul>\n";
  std::string settings = settings_markdown(r.settings);
  return fmt::format(
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>quanta report: {0}</title>\n"
      "<style>body{{font-family:sans-serif;margin:2em}} table{{border-collapse:collapse;font-size:13px}} "
      "td,th{{border:1px solid #ccc;padding:3px 6px;text-align:right}} td:first-child{{text-align:left}} "
      "pre{{white-space:pre-wrap}}</style></head><body>\n<h1>quanta report: {0}</h1>\n{1}{2}"
      "<h2>Plots</h2>\n<p>Filled red markers and the dashed line: the Pareto front (no other scheme is at least as "
      "good on both axes and better on one).</p>\n{3}{4}<h2>Settings</h2>\n<pre>{5}</pre>\n</body></html>\n",
      html_escape(r.settings.model), table, recs,
      svg_scatter("Size on disk vs WikiText-2 perplexity (lower-left is better)", "size on disk (MiB)",
                  "perplexity", p1),
      svg_scatter("Decode speed vs HellaSwag acc_norm (upper-right is better)",
                  "single-stream decode tok/s", "acc_norm (%)", p2),
      html_escape(settings.substr(settings.find('\n') + 2)));
}

}  // namespace quanta
