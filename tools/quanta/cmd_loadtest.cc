// quanta loadtest: streaming load against an OpenAI-compatible server at several concurrency
// levels; prints TTFT and inter-token latency percentiles, output tokens/s and requests/s.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "server/loadtest.h"

namespace quanta::cli {
namespace {

struct LoadtestArgs {
  server::LoadtestOptions o;
  std::string concurrency = "1,2,4,8,16";
  std::string json_out;
  bool check_clean = false;
};

// The value of an unlabelled metric in Prometheus text, or -1.
double metric_value(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  return -1;
}

void run_loadtest_cmd(const LoadtestArgs& a) {
  std::vector<int64_t> levels;
  std::stringstream ss(a.concurrency);
  for (std::string item; std::getline(ss, item, ',');) {
    try {
      levels.push_back(std::stoll(item));
    } catch (const std::exception&) {
      fail("--concurrency: '{}' is not a number (expected a list such as 1,2,4,8)", item);
    }
    if (levels.back() < 1) fail("--concurrency: {} is not positive", levels.back());
  }
  std::printf("loadtest %s: %lld requests/level, prompt %lld tokens, %lld generated (ignore_eos)%s\n",
              a.o.url.c_str(), (long long)a.o.requests, (long long)a.o.prompt_len,
              (long long)a.o.gen_len,
              a.o.abort_fraction > 0 ? fmt::format(", {:.0f}% hang up mid-stream", a.o.abort_fraction * 100).c_str() : "");
  std::printf("%5s %6s %6s %7s %10s %10s %10s %10s %10s %8s\n", "conc", "ok", "fail", "abort",
              "ttft_p50", "ttft_p99", "itl_p50", "itl_p99", "out_tok/s", "req/s");
  // Opened before the load so a bad path fails at once, not after minutes of requests.
  std::ofstream json_file;
  if (!a.json_out.empty()) {
    json_file.open(a.json_out);
    if (!json_file) fail("--json: cannot write {}", a.json_out);
  }
  double single = 0;
  bool all_ok = true;
  nlohmann::json levels_json = nlohmann::json::array();
  for (int64_t c : levels) {
    const server::LoadtestResult r = server::run_loadtest(a.o, c);
    // Milliseconds and field names as vLLM's `bench serve --save-result` (median = p50).
    levels_json.push_back({{"max_concurrency", c}, {"completed", r.ok}, {"failed", r.failed},
                           {"total_output_tokens", r.output_tokens}, {"duration", r.seconds},
                           {"median_ttft_ms", r.ttft_p50 * 1e3}, {"p99_ttft_ms", r.ttft_p99 * 1e3},
                           {"median_itl_ms", r.itl_p50 * 1e3}, {"p99_itl_ms", r.itl_p99 * 1e3},
                           {"output_throughput", r.output_tok_s}, {"request_throughput", r.requests_s},
                           {"input_len", a.o.prompt_len}, {"output_len", a.o.gen_len}});
    std::printf("%5lld %6lld %6lld %7lld %8.1fms %8.1fms %8.1fms %8.1fms %10.1f %8.2f\n", (long long)c,
                (long long)r.ok, (long long)r.failed, (long long)r.aborted, r.ttft_p50 * 1e3,
                r.ttft_p99 * 1e3, r.itl_p50 * 1e3, r.itl_p99 * 1e3, r.output_tok_s, r.requests_s);
    std::fflush(stdout);
    if (c == 1) single = r.output_tok_s;
    if (r.failed > 0) {
      all_ok = false;
      std::printf("      first failure: %s\n", r.first_error.c_str());
    }
    if (a.o.malformed > 0) {
      std::printf("      malformed requests answered with a 4xx JSON error: %lld/%lld\n",
                  (long long)r.malformed_ok, (long long)a.o.malformed);
      all_ok = all_ok && r.malformed_ok == a.o.malformed;
    }
    if (c != 1 && single > 0) std::printf("      output tok/s vs 1 stream: %.2fx\n", r.output_tok_s / single);
  }
  if (json_file.is_open() && !(json_file << levels_json.dump(1) << "\n" << std::flush))
    fail("--json: cannot write {}", a.json_out);
  if (a.check_clean) {
    // Hung-up streams are noticed at their next write; give the server a moment.
    double used = -1, running = -1;
    for (int i = 0; i < 50; ++i) {
      const std::string m = server::http_get(a.o.url, "/metrics");
      used = metric_value(m, "quanta_kv_blocks_used");
      running = metric_value(m, "quanta_requests_running");
      if (used == 0 && running == 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    server::http_get(a.o.url, "/health");
    std::printf("after the load: %g KV blocks in use, %g requests running; /health answers\n", used, running);
    all_ok = all_ok && used == 0 && running == 0;
  }
  if (!all_ok) fail("loadtest: some requests failed or the server did not end clean");
}

}  // namespace

void add_loadtest(CLI::App& app) {
  auto a = std::make_shared<LoadtestArgs>();
  auto* cmd = app.add_subcommand("loadtest", "Streaming load test of an OpenAI-compatible server");
  cmd->add_option("--url", a->o.url, "server base URL")->capture_default_str();
  cmd->add_option("--concurrency", a->concurrency, "comma-separated concurrency levels")->capture_default_str();
  cmd->add_option("--requests", a->o.requests, "requests per level")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--prompt-len", a->o.prompt_len, "prompt tokens (random ids)")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--gen-len", a->o.gen_len, "tokens generated per request (ignore_eos)")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--token-range", a->o.token_range, "prompt ids are drawn from [3, N)")->capture_default_str()->check(CLI::Range(4, 1 << 30));
  cmd->add_option("--api-key", a->o.api_key, "API key");
  cmd->add_option("--model", a->o.model, "model name sent in requests");
  cmd->add_option("--abort-fraction", a->o.abort_fraction, "fraction of streams to hang up mid-stream")->capture_default_str()->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--malformed", a->o.malformed, "malformed requests per level (each must get a 4xx JSON error)")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--seed", a->o.seed, "seed for prompts and hang-ups")->capture_default_str();
  cmd->add_option("--json", a->json_out, "also write the results per level to this JSON file");
  cmd->add_flag("--check-clean", a->check_clean, "afterwards require 0 KV blocks in use and a live /health");
  cmd->callback([a] { run_loadtest_cmd(*a); });
}

}  // namespace quanta::cli
