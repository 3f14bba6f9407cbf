// `quanta report`: compresses the model with each scheme (or reuses given folders), measures
// every row of the report (eval/report.h) and writes report.md, report.json and report.html into
// a new folder (written under a temporary name, renamed when complete).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "eval/report.h"
#include "eval/serving_load.h"

namespace quanta {

struct ReportOptions {
  std::string model_dir, out_dir;
  // Entries: "F32" / "BF16" / "F16" / "BASE" (the model as stored: the baseline), or a scheme name
  // as `quanta compress --scheme` takes it with an optional ":gN" group size ("W4A16:g64").
  std::vector<std::string> schemes;
  std::vector<std::pair<std::string, std::string>> folders;  // NAME=DIR: measure DIR as row NAME
  std::string method = "rtn", calib_file;  // gptq needs calib_file
  int64_t samples = 64, seq_len = 512;
  std::string text, hellaswag;  // WikiText-2 raw text; HellaSwag 6-line file
  int64_t ctx = 512, windows = 16, kl_windows = 4, hellaswag_items = 200;
  double max_ppl_increase_pct = 1.0;
  int64_t concurrency = 8;
  ServingLoadOptions load;
  int64_t speed_prompt = 128, speed_decode = 64;
  bool overwrite = false, keep_models = false;
};

// One row to measure, from the --schemes / --folders entries.
struct SchemeEntry {
  std::string name, scheme;
  int64_t group_size = -1;
  bool baseline = false;
  std::string folder;  // reuse (empty: compress)
};
// The baseline comes first (added if absent); then --schemes in order; then --folders names not in
// --schemes. Throws quanta::Error naming a bad entry (unknown scheme, bad ":gN", duplicate).
std::vector<SchemeEntry> parse_scheme_entries(const std::vector<std::string>& schemes,
                                              const std::vector<std::pair<std::string, std::string>>& folders);

// log(line): progress lines. Returns the report as written to out_dir.
Report run_report(const ReportOptions& opt, const std::function<void(const std::string&)>& log = {});

}  // namespace quanta
