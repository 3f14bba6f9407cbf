// The softmax and SwiGLU kernels of kernels/vexp.h, single thread, per ISA level, at SmolLM2-135M's
// sizes: a prefill attention score row (512, 2048 keys), the FFN width (1536, silu_mul) and the
// vocabulary (49152: the perplexity's per-token NLL). values/s counts the elements of one call.
// Run: quanta_bench --benchmark_filter=vexp
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/isa.h"
#include "kernels/vexp.h"
#include "bench_util.h"

namespace quanta::kernels {
namespace {

// Logits / attention scores: [-15, 5).
std::vector<float> scores(int64_t n, uint64_t seed) {
  return bench::random_floats(n, seed, -15.0f, 5.0f);
}

void set_rate(benchmark::State& state, int64_t n) {
  state.counters["values/s"] =
      benchmark::Counter(double(n), benchmark::Counter::kIsIterationInvariantRate);
}

void bm_max_value(benchmark::State& state, Isa isa, int64_t n) {
  const std::vector<float> x = scores(n, 1);
  for (auto _ : state) benchmark::DoNotOptimize(max_value(x.data(), n, isa));
  set_rate(state, n);
}

// exp_shift_sum works in place; the row is not restored between calls (a copy measured more than
// the exps at 2048 values on Zen 3): after the first call the arguments sit in [-5, -4], and the
// kernel's time does not depend on them (no branches on the values).
void bm_exp_shift_sum(benchmark::State& state, Isa isa, int64_t n) {
  std::vector<float> x = scores(n, 2);
  for (auto _ : state) benchmark::DoNotOptimize(exp_shift_sum(x.data(), n, 5.0f, isa));
  set_rate(state, n);
}

void bm_silu_mul(benchmark::State& state, Isa isa, int64_t n) {
  const std::vector<float> g = scores(n, 3), u = scores(n, 4);
  std::vector<float> out(g.size());
  for (auto _ : state) {
    silu_mul(g.data(), u.data(), out.data(), n, isa);
    benchmark::DoNotOptimize(out.data());
  }
  set_rate(state, n);
}

bool register_all() {
  for (Isa isa : supported_isas()) {
    const std::string level(isa_name(isa));
    for (int64_t n : {int64_t(512), int64_t(2048), int64_t(49152)}) {
      const std::string size = "/n=" + std::to_string(n);
      benchmark::RegisterBenchmark(("vexp/max_value/" + level + size).c_str(), bm_max_value, isa, n);
      benchmark::RegisterBenchmark(("vexp/exp_shift_sum/" + level + size).c_str(), bm_exp_shift_sum,
                                   isa, n);
    }
    benchmark::RegisterBenchmark(("vexp/silu_mul/" + level + "/n=1536").c_str(), bm_silu_mul, isa,
                                 int64_t(1536));
  }
  return true;
}
const bool kRegistered = register_all();

}  // namespace
}  // namespace quanta::kernels
