// quanta report: compress with several schemes, measure accuracy, size, memory and speed of each,
// write report.md / report.json / report.html and print the table and the recommendation.
#include <cstdio>
#include <sstream>

#include "commands.h"
#include "eval/report_run.h"
#include "eval/report_writers.h"

namespace quanta::cli {
namespace {

struct ReportArgs {
  ReportOptions o;
  std::string schemes, folders;
};

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) out.push_back(item);
  if (!s.empty() && s.back() == ',') out.push_back("");
  return out;
}

void run_report_cmd(ReportArgs a) {
  a.o.schemes = split_commas(a.schemes);
  for (const std::string& f : split_commas(a.folders)) {
    const size_t eq = f.find('=');
    if (eq == std::string::npos) fail("--folders: '{}' is not NAME=DIR", f);
    a.o.folders.emplace_back(f.substr(0, eq), f.substr(eq + 1));
  }
  const Report r = run_report(a.o, [](const std::string& line) {
    std::fprintf(stderr, "%s\n", line.c_str());
    std::fflush(stderr);
  });
  std::printf("%s\n", report_table_markdown(r).c_str());
  const Recommendation& rec = r.rec;
  if (!rec.note.empty()) std::printf("%s\n", rec.note.c_str());
  std::printf("online (latency-bound):     %s: %s\n", r.rows[size_t(rec.online.row)].name.c_str(),
              rec.online.rationale.c_str());
  std::printf("offline (throughput-bound): %s: %s\n", r.rows[size_t(rec.offline.row)].name.c_str(),
              rec.offline.rationale.c_str());
  std::printf("wrote %s/report.md, report.json, report.html\n", a.o.out_dir.c_str());
}

}  // namespace

void add_report(CLI::App& app) {
  auto a = std::make_shared<ReportArgs>();
  ReportOptions& o = a->o;
  auto* cmd = app.add_subcommand(
      "report",
      "Compare compression schemes on one model: compresses with each scheme (or reuses --folders), then\n"
      "measures size on disk, weights + KV memory, WikiText-2 perplexity, HellaSwag acc/acc_norm, KL\n"
      "divergence to the original, prefill/decode tok/s, and TTFT and throughput under load (the\n"
      "continuous-batching engine in process). Writes OUT/report.{md,json,html} (HTML: SVG plots with the\n"
      "Pareto front) and recommends a scheme for online (latency-bound) and offline (throughput-bound)\n"
      "serving among those within --max-ppl-increase of the baseline.");
  cmd->add_option("--model", o.model_dir, "Hugging Face model folder (the baseline)")->required();
  cmd->add_option("--schemes", a->schemes,
                  "comma-separated: F32/BF16/F16/BASE (the model as stored) and schemes as compress --scheme "
                  "takes them, with an optional group size: W8A16,W8A8,FP8_DYNAMIC,W4A16:g64")
      ->required();
  cmd->add_option("--folders", a->folders, "NAME=DIR,...: measure existing compressed folders as rows NAME");
  cmd->add_option("--text", o.text, "perplexity / KL text, e.g. ../shared/data/wikitext-2-raw/wiki.test.raw")
      ->required()->check(CLI::ExistingFile);
  cmd->add_option("--hellaswag", o.hellaswag, "HellaSwag 6-line file, e.g. ../shared/data/hellaswag/hellaswag_val_full.txt")
      ->required()->check(CLI::ExistingFile);
  cmd->add_option("--out", o.out_dir, "output folder (must not exist or be empty, unless --overwrite)")->required();
  cmd->add_flag("--overwrite", o.overwrite, "replace a non-empty --out once the new report is complete");
  cmd->add_flag("--keep-models", o.keep_models, "keep the compressed folders in OUT/models/");
  cmd->add_option("--method", o.method, "compression method: rtn | gptq")->capture_default_str()
      ->check(CLI::IsMember({"rtn", "gptq"}));
  cmd->add_option("--calib", o.calib_file, "calibration text (gptq)")->check(CLI::ExistingFile);
  cmd->add_option("--samples", o.samples, "calibration samples (gptq)")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--ctx", o.ctx, "perplexity / KL window in tokens")->capture_default_str()->check(CLI::Range(2, 1 << 20));
  cmd->add_option("--windows", o.windows, "perplexity windows (0: all)")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--kl-windows", o.kl_windows, "KL-divergence windows (0: all)")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--hellaswag-items", o.hellaswag_items, "first N HellaSwag items (0: all 10042)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--max-ppl-increase", o.max_ppl_increase_pct, "perplexity budget in percent over the baseline")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--concurrency", o.concurrency, "concurrent requests for the throughput measurement")
      ->capture_default_str()->check(CLI::Range(1, 1024));
  cmd->add_option("--load-requests", o.load.requests, "requests per load level (0: 2 x concurrency, at least 4)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--prompt-len", o.load.prompt_len, "load test prompt tokens")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--gen-len", o.load.gen_len, "load test generated tokens")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->callback([a] { run_report_cmd(*a); });
}

}  // namespace quanta::cli
