#include "server/loadtest.h"

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "core/error.h"

namespace quanta::server {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

double since(Clock::time_point t0, Clock::time_point t) {
  return std::chrono::duration<double>(t - t0).count();
}

httplib::Headers auth(const std::string& key) {
  if (key.empty()) return {};
  return {{"Authorization", "Bearer " + key}};
}

struct Sample {
  bool ok = false, aborted = false;
  double ttft = 0;
  std::vector<double> gaps;
  int64_t tokens = 0;
  std::string error;
};

// One streaming request; abort_after > 0 hangs up after that many chunks.
Sample stream_one(httplib::Client& cli, const LoadtestOptions& o, const std::vector<int32_t>& prompt,
                  int abort_after) {
  json body = {{"prompt", prompt},    {"max_tokens", o.gen_len},
               {"temperature", 0.0},  {"stream", true},
               {"ignore_eos", true},  {"stream_options", {{"include_usage", true}}}};
  if (!o.model.empty()) body["model"] = o.model;
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/completions";
  req.headers = auth(o.api_key);
  req.set_header("Content-Type", "application/json");
  req.body = body.dump();
  Sample s;
  std::string buf, head;  // head: the first bytes, for error messages
  int chunks = 0;
  bool done = false;
  const auto t0 = Clock::now();
  auto last = t0;
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    buf.append(data, n);
    if (head.size() < 300) head.append(data, std::min(n, 300 - head.size()));
    for (size_t end; (end = buf.find("\n\n")) != std::string::npos;) {
      const std::string ev = buf.substr(0, end);
      buf.erase(0, end + 2);
      if (ev.rfind("data: ", 0) != 0) continue;
      const std::string payload = ev.substr(6);
      if (payload == "[DONE]") {
        done = true;
        continue;
      }
      const json j = json::parse(payload, nullptr, false);
      if (j.is_discarded()) continue;
      if (j.contains("error")) {
        s.error = j["error"].value("message", "error event");
        continue;
      }
      if (j.contains("usage") && j["usage"].is_object())
        s.tokens = j["usage"].value("completion_tokens", int64_t(0));
      if (!j.contains("choices") || j["choices"].empty()) continue;
      const auto now = Clock::now();
      if (chunks == 0)
        s.ttft = since(t0, now);
      else
        s.gaps.push_back(since(last, now));
      last = now;
      ++chunks;
      if (abort_after > 0 && chunks >= abort_after) {
        s.aborted = true;
        return false;
      }
    }
    return true;
  };
  auto res = cli.send(req);
  if (s.aborted) return s;
  if (!res) {
    s.error = "connection: " + httplib::to_string(res.error());
  } else if (res->status != 200) {
    s.error = fmt::format("HTTP {}: {}", res->status, res->body.empty() ? head : res->body);
  } else if (!done) {
    if (s.error.empty()) s.error = "stream ended without [DONE]";
  } else {
    s.ok = s.error.empty();
  }
  return s;
}

// A bad request; true if the server answered it with a 4xx and an OpenAI error object.
bool malformed_one(httplib::Client& cli, const LoadtestOptions& o, int kind) {
  static const char* kBodies[] = {
      "{not json", R"({"prompt": 5})", R"({"prompt": "x", "max_tokens": "ten"})",
      R"({"prompt": "x", "n": 3})", R"({"max_tokens": 4})", R"([1, 2, 3])",
      R"({"prompt": "x", "max_tokens": 100000000})", R"({"prompt": "x", "temperature": -1})"};
  const char* b = kBodies[kind % 8];
  auto res = cli.Post("/v1/completions", auth(o.api_key), b, std::strlen(b), "application/json");
  if (!res || res->status < 400 || res->status >= 500) return false;
  const json j = json::parse(res->body, nullptr, false);
  return !j.is_discarded() && j.contains("error") && j["error"].contains("message");
}

}  // namespace

std::string http_get(const std::string& url, const std::string& path, const std::string& api_key) {
  httplib::Client cli(url);
  auto res = cli.Get(path.c_str(), auth(api_key));
  if (!res) fail("GET {}{}: {}", url, path, httplib::to_string(res.error()));
  if (res->status != 200) fail("GET {}{}: HTTP {}: {}", url, path, res->status, res->body);
  return res->body;
}

LoadtestResult run_loadtest(const LoadtestOptions& o, int64_t concurrency) {
  if (concurrency < 1 || o.requests < 1 || o.prompt_len < 1 || o.gen_len < 1 || o.token_range <= 3)
    fail("loadtest: concurrency, requests, prompt and generation lengths must be positive");
  // Prompts and which requests hang up are fixed up front by the seed.
  std::mt19937_64 rng(o.seed + uint64_t(concurrency));
  std::uniform_int_distribution<int32_t> tok(3, int32_t(o.token_range - 1));
  std::vector<std::vector<int32_t>> prompts(size_t(o.requests));
  std::vector<int> abort_after(size_t(o.requests), 0);
  for (int64_t i = 0; i < o.requests; ++i) {
    for (int64_t t = 0; t < o.prompt_len; ++t) prompts[size_t(i)].push_back(tok(rng));
    // Exactly round(requests * abort_fraction) hang-ups, spread evenly.
    if (std::floor(double(i + 1) * o.abort_fraction + 0.5) > std::floor(double(i) * o.abort_fraction + 0.5))
      abort_after[size_t(i)] = 2 + int(rng() % 3);
  }
  std::vector<Sample> samples(size_t(o.requests));
  std::atomic<int64_t> next{0}, next_bad{0}, bad_ok{0};
  const auto t0 = Clock::now();
  std::vector<std::thread> clients;
  for (int64_t c = 0; c < concurrency; ++c)
    clients.emplace_back([&] {
      httplib::Client cli(o.url);
      cli.set_read_timeout(600, 0);
      for (int64_t i; (i = next++) < o.requests;)
        samples[size_t(i)] = stream_one(cli, o, prompts[size_t(i)], abort_after[size_t(i)]);
      for (int64_t i; (i = next_bad++) < o.malformed;)
        if (malformed_one(cli, o, int(i))) ++bad_ok;
    });
  for (auto& t : clients) t.join();
  LoadtestResult r;
  r.concurrency = concurrency;
  r.seconds = since(t0, Clock::now());
  r.malformed_ok = bad_ok;
  std::vector<double> ttft, itl;
  for (const Sample& s : samples) {
    if (s.aborted) {
      ++r.aborted;
      continue;
    }
    if (!s.ok) {
      ++r.failed;
      if (r.first_error.empty()) r.first_error = s.error;
      continue;
    }
    ++r.ok;
    r.output_tokens += s.tokens;
    ttft.push_back(s.ttft);
    itl.insert(itl.end(), s.gaps.begin(), s.gaps.end());
  }
  r.ttft_p50 = percentile(ttft, 50);
  r.ttft_p99 = percentile(ttft, 99);
  r.itl_p50 = percentile(itl, 50);
  r.itl_p99 = percentile(itl, 99);
  r.output_tok_s = double(r.output_tokens) / r.seconds;
  r.requests_s = double(r.ok) / r.seconds;
  return r;
}

}  // namespace quanta::server
