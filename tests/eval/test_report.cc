// The scheme report: Pareto fronts, the recommendation within a perplexity budget, the writers
// (valid JSON and HTML holding the numbers), --schemes parsing, and a whole run on the tiny model
// (compress W8A16, measure both rows, write the folder; an existing --out is refused).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "eval/report_run.h"
#include "eval/report_writers.h"
#include "io/hf_config.h"
#include "test_util.h"
#include "tiny_llama.h"

namespace quanta {
namespace {

using testing_util::error_of;

TEST(Report, ParetoFront) {
  // size (min) vs ppl (min): (10, 5) and (4, 9) and (2, 20) trade off; (12, 6) is dominated by
  // (10, 5); (4, 9) twice: equal points do not dominate each other.
  const std::vector<bool> f = pareto_front({10, 4, 2, 12, 4}, {5, 9, 20, 6, 9}, true, true);
  EXPECT_EQ(f, (std::vector<bool>{true, true, true, false, true}));
  // Maximise both: (3, 3) dominates (2, 2) and (3, 1).
  EXPECT_EQ(pareto_front({3, 2, 3, 1}, {3, 2, 1, 4}, false, false), (std::vector<bool>{true, false, false, true}));
}

ReportRow row(const std::string& name, double ppl, double ttft_ms, double tpot_ms, double tok_s_n, bool base = false) {
  ReportRow r;
  r.name = name;
  r.baseline = base;
  r.ppl = ppl;
  r.load_1.requests = 4;
  r.load_1.output_tokens = 4 * 11;  // 11 tokens per request: latency = ttft + 10 tpot
  r.load_1.ttft_p50 = ttft_ms / 1e3;
  r.load_1.tpot_p50 = tpot_ms / 1e3;
  r.load_n.concurrency = 8;
  r.load_n.output_tok_s = tok_s_n;
  return r;
}

TEST(Report, RecommendationWithinTheBudget) {
  std::vector<ReportRow> rows = {row("F32", 20.0, 50, 20, 100, true), row("W8A16", 20.1, 30, 10, 150),
                                 row("W8A8", 20.15, 20, 12, 300), row("W4A16", 22.0, 10, 5, 400)};
  // Latencies: F32 250 ms, W8A16 130 ms, W8A8 140 ms, W4A16 60 ms (over budget).
  EXPECT_DOUBLE_EQ(rows[1].request_latency_s(), 0.130);
  Recommendation r = recommend(rows, 1.0);
  EXPECT_NEAR(r.ppl_limit, 20.2, 1e-12);
  EXPECT_EQ(r.within_budget, (std::vector<int>{0, 1, 2}));
  EXPECT_TRUE(r.compressed_within_budget);
  EXPECT_EQ(r.online.row, 1);
  EXPECT_EQ(r.offline.row, 2);
  EXPECT_NE(r.online.rationale.find("130 ms"), std::string::npos) << r.online.rationale;
  EXPECT_NE(r.offline.rationale.find("300.0 output tok/s at concurrency 8"), std::string::npos);
  EXPECT_NE(r.offline.rationale.find("20.200"), std::string::npos);
  // A budget of 20 % lets W4A16 in: it wins both.
  r = recommend(rows, 20.0);
  EXPECT_EQ(r.online.row, 3);
  EXPECT_EQ(r.offline.row, 3);
  // A budget of 0.1 %: no compressed scheme; the baseline, with a note saying so.
  r = recommend(rows, 0.1);
  EXPECT_FALSE(r.compressed_within_budget);
  EXPECT_EQ(r.online.row, 0);
  EXPECT_EQ(r.offline.row, 0);
  EXPECT_NE(r.note.find("no compressed scheme is within the budget"), std::string::npos);
  rows.erase(rows.begin());
  EXPECT_NE(error_of([&] { recommend(rows, 1.0); }).find("no baseline"), std::string::npos);
}

Report sample_report() {
  Report rep;
  rep.settings.model = "models/m";
  rep.settings.concurrency = 8;
  rep.rows = {row("F32", 20.0, 50, 20, 100, true), row("W4A16:g64", 20.123456, 30, 10, 150)};
  rep.rows[1].size_mib = 98.765;
  rep.rows[1].acc_norm = 0.4321;
  rep.rows[1].kl_mean = 0.0123;
  rep.rows[1].decode_tok_s = 77.7;
  rep.rows[0].size_mib = 513.0;
  rep.rows[0].acc_norm = 0.45;
  rep.rows[0].decode_tok_s = 40;
  rep.rec = recommend(rep.rows, 1.0);
  return rep;
}

TEST(Report, JsonHoldsEveryNumber) {
  const Report rep = sample_report();
  const nlohmann::json j = nlohmann::json::parse(report_json(rep));
  ASSERT_EQ(j["rows"].size(), 2u);
  EXPECT_EQ(j["rows"][1]["name"], "W4A16:g64");
  EXPECT_DOUBLE_EQ(j["rows"][1]["ppl"].get<double>(), 20.123456);
  EXPECT_DOUBLE_EQ(j["rows"][1]["size_mib"].get<double>(), 98.765);
  EXPECT_DOUBLE_EQ(j["rows"][1]["kl_mean"].get<double>(), 0.0123);
  EXPECT_DOUBLE_EQ(j["rows"][1]["load_n"]["output_tok_s"].get<double>(), 150);
  EXPECT_EQ(j["recommendation"]["online"]["scheme"], "W4A16:g64");
  EXPECT_DOUBLE_EQ(j["recommendation"]["ppl_limit"].get<double>(), 20.2);
}

TEST(Report, MarkdownAndHtmlHoldTheTableAndPlots) {
  const Report rep = sample_report();
  const std::string md = report_markdown(rep);
  EXPECT_NE(md.find("| W4A16:g64 | 98.8 |"), std::string::npos) << md;
  EXPECT_NE(md.find("20.123"), std::string::npos);
  EXPECT_NE(md.find("**Online (latency-bound): W4A16:g64**"), std::string::npos);
  const std::string html = report_html(rep);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("</html>"), std::string::npos);
  size_t svgs = 0;
  for (size_t p = html.find("<svg"); p != std::string::npos; p = html.find("<svg", p + 1)) ++svgs;
  EXPECT_EQ(svgs, 2u);
  EXPECT_NE(html.find("<td>W4A16:g64</td>"), std::string::npos);
  EXPECT_NE(html.find("class=\"pareto\""), std::string::npos);  // both rows are on the size/ppl front
  EXPECT_NE(html.find("43.2"), std::string::npos);             // acc_norm % in the table
  EXPECT_EQ(html.find("<script"), std::string::npos);          // self-contained, no scripts
}

TEST(Report, SchemeEntries) {
  auto e = parse_scheme_entries({"W8A16", "F32", "W4A16:g64"}, {});
  ASSERT_EQ(e.size(), 3u);
  EXPECT_TRUE(e[0].baseline);
  EXPECT_EQ(e[0].name, "F32");
  EXPECT_EQ(e[1].scheme, "W8A16");
  EXPECT_EQ(e[2].scheme, "W4A16");
  EXPECT_EQ(e[2].group_size, 64);
  e = parse_scheme_entries({"W8A8"}, {});
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].name, "BASE");
  EXPECT_NE(error_of([] { parse_scheme_entries({"F32", "W5A16"}, {}); }).find("'W5A16'"), std::string::npos);
  EXPECT_NE(error_of([] { parse_scheme_entries({"W4A16:64"}, {}); }).find(":gN"), std::string::npos);
  EXPECT_NE(error_of([] { parse_scheme_entries({"W8A8", "W8A8"}, {}); }).find("listed twice"), std::string::npos);
  EXPECT_NE(error_of([] { parse_scheme_entries({"F32"}, {}); }).find("at least one scheme"), std::string::npos);
  EXPECT_NE(error_of([] { parse_scheme_entries({"F32"}, {{"X", "/nonexistent"}}); }).find("no config.json"),
            std::string::npos);
}

TEST(Report, RunsOnTheTinyModelAndRefusesAnExistingOut) {
  const std::string tmp = testing_util::temp_dir();
  const std::string dir = testing_util::write_tiny_llama(tmp + "/m");
  std::string text;
  for (int i = 0; i < 20; ++i) text += "The quick brown fox jumps over the lazy dog. ";
  std::ofstream(tmp + "/wiki.txt") << text;
  std::ofstream(tmp + "/hs.txt") << "A man sits. he\n1\nstands.\nwalks away.\nsits.\nsleeps.\n"
                                    "A dog runs. it\n0\nbarks.\neats.\njumps high.\nsits.\n";
  ReportOptions o;
  o.model_dir = dir;
  o.out_dir = tmp + "/report";
  o.schemes = {"F32", "W8A16"};
  o.text = tmp + "/wiki.txt";
  o.hellaswag = tmp + "/hs.txt";
  o.ctx = 32;
  o.windows = 2;
  o.kl_windows = 2;
  o.concurrency = 2;
  o.load.prompt_len = 8;
  o.load.gen_len = 4;
  o.speed_prompt = 8;
  o.speed_decode = 4;
  const Report r = run_report(o);
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_GT(r.rows[0].ppl, 1.0);
  EXPECT_EQ(r.rows[1].hellaswag_items, 2);
  EXPECT_GT(r.rows[1].kl_mean, 0.0);
  EXPECT_LT(r.rows[1].size_mib, r.rows[0].size_mib);
  EXPECT_EQ(r.rows[1].load_n.output_tokens, r.rows[1].load_n.requests * 4);
  EXPECT_GT(r.rows[1].load_n.output_tok_s, 0.0);
  for (const char* f : {"report.md", "report.json", "report.html", "manifest.json"})
    EXPECT_TRUE(std::filesystem::exists(o.out_dir + "/" + f)) << f;
  EXPECT_FALSE(std::filesystem::exists(o.out_dir + "/models"));
  const nlohmann::json j = nlohmann::json::parse(read_file(o.out_dir + "/report.json"));
  EXPECT_DOUBLE_EQ(j["rows"][1]["ppl"].get<double>(), r.rows[1].ppl);
  EXPECT_NE(error_of([&] { run_report(o); }).find("pass --overwrite"), std::string::npos);
  o.overwrite = true;
  o.schemes = {"F32", "W8A8"};
  run_report(o);
  EXPECT_EQ(nlohmann::json::parse(read_file(o.out_dir + "/report.json"))["rows"][1]["name"], "W8A8");
}

}  // namespace
}  // namespace quanta
