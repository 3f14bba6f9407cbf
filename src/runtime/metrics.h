// Serving counters and latency histograms (Prometheus-style cumulative buckets), updated by the
// engine thread and read by the server through Engine::metrics().
#pragma once

#include <cstdint>
#include <vector>

namespace quanta {

struct Histogram {
  std::vector<double> bounds;    // upper bounds in seconds, ascending (+Inf implied)
  std::vector<uint64_t> counts;  // per bucket (not cumulative); size bounds.size() + 1
  double sum = 0;
  uint64_t count = 0;

  explicit Histogram(std::vector<double> b = {}) : bounds(std::move(b)), counts(bounds.size() + 1) {}
  void observe(double v) {
    size_t i = 0;
    while (i < bounds.size() && v > bounds[i]) ++i;
    ++counts[i];
    sum += v;
    ++count;
  }
};

struct EngineMetrics {
  uint64_t requests_finished = 0;  // completed with "stop" or "length"
  uint64_t requests_cancelled = 0;
  uint64_t requests_failed = 0;
  uint64_t prompt_tokens = 0;
  uint64_t generation_tokens = 0;
  uint64_t steps = 0;
  int64_t running = 0, waiting = 0;
  int64_t kv_blocks_used = 0, kv_blocks_total = 0;
  Histogram ttft{{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}};
  Histogram itl{{0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 1, 2.5}};
};

}  // namespace quanta
