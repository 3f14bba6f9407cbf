#include "eval/report_run.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>

#include "compress/pipeline.h"
#include "core/error.h"
#include "eval/hellaswag.h"
#include "eval/kl_divergence.h"
#include "eval/perplexity.h"
#include "eval/report_writers.h"
#include "eval/speed.h"
#include "io/hf_config.h"
#include "io/staging_dir.h"
#include "io/tokenizer.h"
#include "kernels/isa.h"
#include "quant/quant_args.h"

namespace quanta {
namespace {

namespace fs = std::filesystem;

bool is_baseline_name(const std::string& s) { return s == "F32" || s == "BF16" || s == "F16" || s == "BASE"; }

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void write_text(const fs::path& p, const std::string& s) {
  std::ofstream f(p, std::ios::binary);
  f << s;
  f.close();
  if (!f) fail("{}: cannot write", p.string());
}

// Weights in memory as the engine holds them: every Linear and norm, the embedding table, and the
// output matrix unless it is the (tied) embedding table.
double weights_in_memory_bytes(const LlamaModel& m) {
  const WeightBytes b = weight_bytes_read(m);
  const bool tied = m.lm_head().data == m.embedding().data;
  return b.layers + double(m.embedding().nbytes()) + (tied ? 0.0 : b.lm_head);
}

}  // namespace

std::vector<SchemeEntry> parse_scheme_entries(const std::vector<std::string>& schemes,
                                              const std::vector<std::pair<std::string, std::string>>& folders) {
  std::vector<SchemeEntry> out;
  std::set<std::string> seen;
  bool have_base = false;
  for (const std::string& raw : schemes) {
    if (raw.empty()) fail("--schemes: empty entry (expected a list such as F32,W8A16,W4A16:g64)");
    SchemeEntry e;
    e.name = raw;
    const size_t colon = raw.find(':');
    e.scheme = raw.substr(0, colon);
    if (colon != std::string::npos) {
      const std::string g = raw.substr(colon + 1);
      try {
        if (g.size() < 2 || g[0] != 'g') throw std::invalid_argument(g);
        size_t used = 0;
        e.group_size = std::stoll(g.substr(1), &used);
        if (used != g.size() - 1 || e.group_size < 0) throw std::invalid_argument(g);
      } catch (const std::exception&) {
        fail("--schemes: '{}': the group size must be written ':gN' with N >= 0 (e.g. W4A16:g64)", raw);
      }
    }
    if (is_baseline_name(e.scheme)) {
      if (colon != std::string::npos) fail("--schemes: '{}': the baseline takes no group size", raw);
      if (have_base) fail("--schemes: '{}': the baseline is listed twice", raw);
      have_base = true;
      e.baseline = true;
      e.scheme.clear();
    } else {
      try {
        scheme_by_name(e.scheme, e.group_size);
      } catch (const Error& err) {
        fail("--schemes: '{}': {} (the baseline is F32, BF16, F16 or BASE)", raw, err.what());
      }
    }
    if (!seen.insert(e.name).second) fail("--schemes: '{}' is listed twice", raw);
    out.push_back(e);
  }
  for (const auto& [name, dir] : folders) {
    if (name.empty() || dir.empty()) fail("--folders: expected NAME=DIR entries (got '{}={}')", name, dir);
    auto it = std::find_if(out.begin(), out.end(), [&](const SchemeEntry& e) { return e.name == name; });
    if (it == out.end()) {
      SchemeEntry e;
      e.name = name;
      out.push_back(e);
      it = out.end() - 1;
    }
    if (it->baseline) fail("--folders: '{}' names the baseline, which is always --model", name);
    if (!fs::is_regular_file(fs::path(dir) / "config.json"))
      fail("--folders: {}: {} has no config.json", name, dir);
    it->folder = dir;
  }
  if (!have_base) {
    SchemeEntry b;
    b.name = "BASE";
    b.baseline = true;
    out.insert(out.begin(), b);
  } else {
    std::stable_partition(out.begin(), out.end(), [](const SchemeEntry& e) { return e.baseline; });
  }
  if (out.size() < 2) fail("--schemes: list at least one scheme to compare with the baseline");
  return out;
}

Report run_report(const ReportOptions& opt, const std::function<void(const std::string&)>& log_fn) {
  const auto log = [&](const std::string& s) {
    if (log_fn) log_fn(s);
  };
  if (opt.max_ppl_increase_pct < 0) fail("--max-ppl-increase must not be negative");
  if (opt.concurrency < 1) fail("--concurrency must be at least 1");
  std::vector<SchemeEntry> entries = parse_scheme_entries(opt.schemes, opt.folders);
  for (const auto& e : entries)
    if (!e.baseline && e.folder.empty() && opt.method == "gptq" && opt.calib_file.empty())
      fail("--method gptq needs --calib (a calibration text)");
  // Output folder first: a bad --out fails before any work.
  const fs::path out = fs::path(opt.out_dir).lexically_normal();
  std::error_code ec;
  const bool replace = fs::exists(out, ec) && !(fs::is_directory(out, ec) && fs::is_empty(out, ec));
  if (replace && !opt.overwrite)
    fail("{}: exists and is not empty; choose another --out or pass --overwrite", out.string());
  if (replace && !fs::is_directory(out, ec)) fail("{}: exists and is not a folder", out.string());
  const std::string target = replace ? out.string() + ".new-" + std::to_string(::getpid()) : out.string();
  StagingDir staging(target);

  // Inputs, read once with the baseline's tokenizer (compressed folders carry the same one).
  const Tokenizer tok = Tokenizer::load(opt.model_dir);
  const std::vector<int32_t> text_ids = tok.encode(read_file(opt.text), false);
  const std::vector<HellaswagItem> items = load_hellaswag(opt.hellaswag, opt.hellaswag_items);

  Report rep;
  ReportSettings& st = rep.settings;
  st.model = opt.model_dir;
  st.text = opt.text;
  st.hellaswag = opt.hellaswag;
  st.ctx = opt.ctx;
  st.windows = std::min<int64_t>(opt.windows > 0 ? opt.windows : INT64_MAX, int64_t(text_ids.size()) / opt.ctx);
  st.kl_windows = std::min<int64_t>(opt.kl_windows > 0 ? opt.kl_windows : INT64_MAX, int64_t(text_ids.size()) / opt.ctx);
  st.hellaswag_items = int64_t(items.size());
  st.max_ppl_increase_pct = opt.max_ppl_increase_pct;
  st.concurrency = opt.concurrency;
  st.load = opt.load;
  st.speed_prompt = opt.speed_prompt;
  st.speed_decode = opt.speed_decode;
  st.method = opt.method;
  st.threads = ThreadPool::global().size();
  st.isa = std::string(kernels::isa_name(kernels::active_isa()));
  st.date = utc_now();

  std::unique_ptr<LlamaModel> base;
  const size_t n = entries.size();
  for (size_t i = 0; i < n; ++i) {
    const SchemeEntry& e = entries[i];
    const std::string tag = fmt::format("[{}/{}] {}", i + 1, n, e.name);
    ReportRow row;
    row.name = e.name;
    row.scheme = e.scheme;
    row.group_size = e.group_size;
    row.baseline = e.baseline;
    row.method = e.baseline ? "" : !e.folder.empty() ? "reused" : opt.method;
    row.folder = e.baseline ? opt.model_dir : e.folder;
    try {
      if (!e.baseline && e.folder.empty()) {
        log(fmt::format("{}: compressing ({})", tag, opt.method));
        std::string dir_name = e.name;
        std::replace(dir_name.begin(), dir_name.end(), ':', '_');
        CompressOptions co;
        co.model_dir = opt.model_dir;
        co.out_dir = (staging.path() / "models" / dir_name).string();
        co.scheme = e.scheme;
        co.method = opt.method;
        co.group_size = e.group_size;
        co.calib_file = opt.calib_file;
        co.samples = opt.samples;
        co.seq_len = opt.seq_len;
        const CompressReport cr = compress_model(co);
        row.compress_seconds = cr.seconds;
        row.folder = co.out_dir;
      }
      std::unique_ptr<LlamaModel> owned = std::make_unique<LlamaModel>(LlamaModel::load(row.folder));
      LlamaModel& m = *owned;
      m.place_weights_on_huge_pages();
      if (e.baseline) {
        const TensorInfo& emb = m.store().get("model.embed_tokens.weight");
        if (e.name != "BASE" && e.name != std::string(dtype_name(emb.dtype)))
          log(fmt::format("{}: note: the model is stored as {}; the baseline row measures it as stored", tag,
                          dtype_name(emb.dtype)));
      }
      row.size_mib = double(dir_bytes(row.folder)) / 1048576.0;
      row.weights_mib = weights_in_memory_bytes(m) / 1048576.0;
      row.kv_mib = double(opt.concurrency * (opt.load.prompt_len + opt.load.gen_len)) * m.kv_bytes_per_token() / 1048576.0;
      log(fmt::format("{}: perplexity ({} windows of {})", tag, st.windows, opt.ctx));
      PplOptions po;
      po.ctx = opt.ctx;
      po.max_windows = st.windows;
      row.ppl = perplexity(m, text_ids, po).ppl;
      log(fmt::format("{}: ppl {:.3f}; HellaSwag ({} items)", tag, row.ppl, items.size()));
      const HellaswagResult hs = hellaswag_eval(m, tok, items);
      row.hellaswag_items = hs.n_items;
      row.acc = hs.acc;
      row.acc_norm = hs.acc_norm;
      if (!e.baseline) {
        log(fmt::format("{}: acc_norm {:.1f} %; KL divergence to the baseline ({} windows)", tag,
                        hs.acc_norm * 100, st.kl_windows));
        KlOptions ko;
        ko.ctx = opt.ctx;
        ko.max_windows = st.kl_windows;
        const KlResult kl = kl_divergence(*base, m, text_ids, ko);
        row.kl_mean = kl.mean_kl;
        row.kl_max = kl.max_kl;
        row.top1_agree = kl.top1_agree;
        row.ppl_increase_pct = (row.ppl / rep.rows.front().ppl - 1.0) * 100.0;
      }
      log(fmt::format("{}: speed, load at concurrency 1 and {}", tag, opt.concurrency));
      const TokensPerSecond tps = measure_prefill_decode(m, opt.speed_prompt, opt.speed_decode);
      row.prefill_tok_s = tps.prefill;
      row.decode_tok_s = tps.decode;
      row.load_1 = measure_serving_load(m, tok, opt.load, 1);
      row.load_n = measure_serving_load(m, tok, opt.load, opt.concurrency);
      log(fmt::format("{}: decode {:.1f} tok/s; {:.1f} out tok/s at concurrency {}", tag, row.decode_tok_s,
                      row.load_n.output_tok_s, opt.concurrency));
      if (e.baseline) base = std::move(owned);
    } catch (const Error& err) {
      fail("report: {}: {}", e.name, err.what());
    }
    rep.rows.push_back(std::move(row));
    if (!opt.keep_models && !e.baseline && e.folder.empty())
      fs::remove_all(staging.path() / "models" / fs::path(rep.rows.back().folder).filename(), ec);
  }
  rep.rec = recommend(rep.rows, opt.max_ppl_increase_pct);
  if (!opt.keep_models) {
    fs::remove_all(staging.path() / "models", ec);
    for (ReportRow& r : rep.rows)
      if (!r.baseline && r.method != "reused") r.folder = "(removed; --keep-models keeps it)";
  } else {
    for (ReportRow& r : rep.rows)
      if (!r.baseline && r.method != "reused")
        r.folder = (out / "models" / fs::path(r.folder).filename()).string();
  }
  write_text(staging.path() / "report.md", report_markdown(rep));
  write_text(staging.path() / "report.json", report_json(rep));
  write_text(staging.path() / "report.html", report_html(rep));
  staging.commit();
  if (replace) {
    const std::string old = out.string() + ".old-" + std::to_string(::getpid());
    fs::rename(out, old);
    fs::rename(target, out);
    fs::remove_all(old);
  }
  return rep;
}

}  // namespace quanta
