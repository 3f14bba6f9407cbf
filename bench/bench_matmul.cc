// kernels::matmul, single thread, per ISA level and weight dtype, on SmolLM2-135M layer shapes
// (hidden 576, 9 heads x 64 / 3 kv heads x 64, intermediate 1536, vocab 49152).
//   m = 1: decode (a GEMV, bound by weight bandwidth; the counter W_B/s is weight bytes read per
//          second. Note: all but lm_head fit in L2/L3 here, so this is cache, not DRAM, bandwidth).
//   m = 64, 512: prefill chunks (compute bound; FLOP/s counts 2 m n k per call).
// Run: quanta_bench --benchmark_filter=matmul --benchmark_min_time=0.2
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "kernels/isa.h"
#include "kernels/matmul.h"
#include "bench_util.h"

namespace quanta::kernels {
namespace {

struct Shape {
  const char* name;
  int64_t k, n;  // W (n, k)
};
constexpr Shape kShapes[] = {
    {"q_o_proj", 576, 576},   {"k_v_proj", 576, 192},  {"gate_up_proj", 576, 1536},
    {"down_proj", 1536, 576}, {"lm_head", 576, 49152},
};
constexpr int64_t kTokens[] = {1, 64, 512};
constexpr DType kWeightTypes[] = {DType::kF32, DType::kF16, DType::kBF16};

// Uniform in [-1, 1), cheap enough for lm_head's 28M weights.
using bench::random_floats;

std::vector<uint8_t> random_weights(DType t, int64_t n) {
  const std::vector<float> f = random_floats(n, 1);
  std::vector<uint8_t> out(static_cast<size_t>(n) * dtype_size(t));
  for (int64_t i = 0; i < n; ++i) {
    if (t == DType::kF32) {
      std::memcpy(&out[size_t(i) * 4], &f[size_t(i)], 4);
    } else {
      const uint16_t h = t == DType::kF16 ? f32_to_f16(f[size_t(i)]) : f32_to_bf16(f[size_t(i)]);
      std::memcpy(&out[size_t(i) * 2], &h, 2);
    }
  }
  return out;
}

void bm_matmul(benchmark::State& state, Isa isa, DType t, int64_t m, Shape s) {
  const std::vector<uint8_t> w = random_weights(t, s.n * s.k);
  const std::vector<float> x = random_floats(m * s.k, 2);
  std::vector<float> y(static_cast<size_t>(m * s.n));
  for (auto _ : state) {
    matmul(x.data(), m, s.k, w.data(), t, 0, s.n, y.data(), s.n, isa);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  using benchmark::Counter;
  state.counters["FLOP/s"] =
      Counter(2.0 * double(m * s.n * s.k), Counter::kIsIterationInvariantRate, Counter::kIs1000);
  if (m == 1)
    state.counters["W_B/s"] =
        Counter(double(w.size()), Counter::kIsIterationInvariantRate, Counter::kIs1000);
}

// Prefill attention's two products for one head and a block of 64 query rows over 512 keys
// (head_dim 64): S = Q K^T by matmul (K as the weight rows), and O = S V by matmul_nn (V as cached,
// row-major (keys, head_dim)). Equal FLOPs.
void bm_attention_qk(benchmark::State& state, Isa isa) {
  constexpr int64_t kRows = 64, kKeys = 512, kHd = 64;
  const std::vector<float> q = random_floats(kRows * kHd, 3), k = random_floats(kKeys * kHd, 4);
  std::vector<float> s(static_cast<size_t>(kRows * kKeys));
  for (auto _ : state) {
    matmul(q.data(), kRows, kHd, k.data(), DType::kF32, 0, kKeys, s.data(), kKeys, isa);
    benchmark::DoNotOptimize(s.data());
    benchmark::ClobberMemory();
  }
  state.counters["FLOP/s"] =
      benchmark::Counter(2.0 * kRows * kKeys * kHd, benchmark::Counter::kIsIterationInvariantRate,
                         benchmark::Counter::kIs1000);
}
void bm_attention_sv(benchmark::State& state, Isa isa) {
  constexpr int64_t kRows = 64, kKeys = 512, kHd = 64;
  const std::vector<float> s = random_floats(kRows * kKeys, 5), v = random_floats(kKeys * kHd, 6);
  std::vector<float> o(static_cast<size_t>(kRows * kHd));
  for (auto _ : state) {
    matmul_nn(s.data(), kRows, kKeys, kKeys, v.data(), kHd, kHd, o.data(), kHd, isa);
    benchmark::DoNotOptimize(o.data());
    benchmark::ClobberMemory();
  }
  state.counters["FLOP/s"] =
      benchmark::Counter(2.0 * kRows * kKeys * kHd, benchmark::Counter::kIsIterationInvariantRate,
                         benchmark::Counter::kIs1000);
}

bool register_all() {
  for (Isa isa : supported_isas()) {
    if (isa == Isa::kScalar) continue;
    const std::string level(isa_name(isa));
    benchmark::RegisterBenchmark(("prefill_attention/" + level + "/qk").c_str(), bm_attention_qk,
                                 isa)
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("prefill_attention/" + level + "/sv").c_str(), bm_attention_sv,
                                 isa)
        ->Unit(benchmark::kMicrosecond);
  }
  for (Isa isa : supported_isas()) {
    for (DType t : kWeightTypes) {
      for (int64_t m : kTokens) {
        for (const Shape& s : kShapes) {
          // The scalar reference takes seconds per call on big shapes; lm_head runs on the last
          // token only, so m = 512 is not a real case for it.
          const bool is_lm_head = s.n > 10000;
          if (isa == Isa::kScalar && (m > 64 || (m > 1 && is_lm_head))) continue;
          if (is_lm_head && m > 64) continue;
          const std::string name = "matmul/" + std::string(isa_name(isa)) + "/" +
                                   std::string(dtype_name(t)) + "/m=" + std::to_string(m) + "/" +
                                   s.name + "/k=" + std::to_string(s.k) +
                                   ",n=" + std::to_string(s.n);
          benchmark::RegisterBenchmark(name.c_str(), bm_matmul, isa, t, m, s)
              ->Unit(benchmark::kMicrosecond);
        }
      }
    }
  }
  return true;
}
const bool kRegistered = register_all();

}  // namespace
}  // namespace quanta::kernels
