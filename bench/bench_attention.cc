// kernels::attend_update, single thread, per ISA level and KV dtype: one decode step of one
// SmolLM2-135M KV head (head_dim 64, the GQA group's 3 query heads together) over n cached
// positions, K/V rows 3 heads apart as in the cache. KV_B/s counts the K and V bytes read.
// attention_per_position: the previous f32 path for comparison (one kernels::dot and one
// kernels::axpy call per position and query head, exact two-pass softmax, each head reading K/V).
// Run: quanta_bench --benchmark_filter=attention --benchmark_min_time=0.2
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "kernels/attention.h"
#include "kernels/isa.h"
#include "kernels/matmul.h"

namespace quanta::kernels {
namespace {

constexpr int64_t kHeadDim = 64, kHeadsKv = 3, kGroup = 3;
constexpr int64_t kPositions[] = {128, 512, 2048};
constexpr DType kKvTypes[] = {DType::kF32, DType::kF16, DType::kBF16, DType::kI8};

std::vector<float> random_floats(int64_t n, uint64_t seed) {
  std::vector<float> v(static_cast<size_t>(n));
  uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
  for (float& f : v) {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    f = float(s >> 40) * (2.0f / float(1 << 24)) - 1.0f;
  }
  return v;
}

// f stored as t (I8: codes of +-1 values with one scale 1/127 per head row, into scales).
std::vector<uint8_t> stored(DType t, const std::vector<float>& f, std::vector<float>& scales) {
  std::vector<uint8_t> out(f.size() * dtype_size(t));
  if (t == DType::kI8) {
    for (size_t i = 0; i < f.size(); ++i) out[i] = uint8_t(int8_t(std::lround(f[i] * 127.0f)));
    scales.assign(f.size() / kHeadDim, 1.0f / 127.0f);
    return out;
  }
  f32_to_dtype(f.data(), t, out.data(), int64_t(f.size()));
  return out;
}

void bm_attention(benchmark::State& state, Isa isa, DType t, int64_t n) {
  const int64_t stride = kHeadsKv * kHeadDim;
  std::vector<float> ks, vs;
  const std::vector<uint8_t> k = stored(t, random_floats(n * stride, 1), ks);
  const std::vector<uint8_t> v = stored(t, random_floats(n * stride, 2), vs);
  const KvRows rows{k.data(), v.data(), t, stride, ks.data(), vs.data(), kHeadsKv};
  const std::vector<float> q = random_floats(kGroup * kHeadDim, 3);
  std::vector<float> m(kGroup), l(kGroup), acc(kGroup * kHeadDim);
  const float scale = 1.0f / std::sqrt(float(kHeadDim));
  for (auto _ : state) {
    attend_init(kGroup, kHeadDim, m.data(), l.data(), acc.data());
    attend_update(q.data(), kGroup, kHeadDim, scale, rows, n, m.data(), l.data(), acc.data(), isa);
    benchmark::DoNotOptimize(acc.data());
    benchmark::ClobberMemory();
  }
  const double row_bytes =
      double(kHeadDim * int64_t(dtype_size(t))) + (t == DType::kI8 ? 4.0 : 0.0);
  state.counters["KV_B/s"] =
      benchmark::Counter(double(2 * n) * row_bytes, benchmark::Counter::kIsIterationInvariantRate,
                         benchmark::Counter::kIs1000);
}

void bm_attention_per_position(benchmark::State& state, Isa isa, int64_t n) {
  const int64_t stride = kHeadsKv * kHeadDim;
  const std::vector<float> k = random_floats(n * stride, 1), v = random_floats(n * stride, 2);
  const std::vector<float> q = random_floats(kGroup * kHeadDim, 3);
  std::vector<float> scores(static_cast<size_t>(n)), out(kGroup * kHeadDim);
  const float scale = 1.0f / std::sqrt(float(kHeadDim));
  for (auto _ : state) {
    for (int64_t h = 0; h < kGroup; ++h) {
      float mx = -INFINITY, sum = 0.0f;
      for (int64_t j = 0; j < n; ++j) {
        scores[size_t(j)] = dot(q.data() + h * kHeadDim, k.data() + j * stride, kHeadDim, isa) * scale;
        mx = std::max(mx, scores[size_t(j)]);
      }
      for (int64_t j = 0; j < n; ++j) sum += (scores[size_t(j)] = std::exp(scores[size_t(j)] - mx));
      float* o = out.data() + h * kHeadDim;
      std::fill(o, o + kHeadDim, 0.0f);
      for (int64_t j = 0; j < n; ++j) axpy(scores[size_t(j)] / sum, v.data() + j * stride, o, kHeadDim, isa);
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.counters["KV_B/s"] = benchmark::Counter(double(2 * n * kHeadDim) * sizeof(float),
                                                benchmark::Counter::kIsIterationInvariantRate,
                                                benchmark::Counter::kIs1000);
}

bool register_all() {
  for (Isa isa : supported_isas())
    for (int64_t n : kPositions) {
      const std::string name = "attention_per_position/" + std::string(isa_name(isa)) + "/F32/n=" +
                               std::to_string(n);
      benchmark::RegisterBenchmark(name.c_str(), bm_attention_per_position, isa, n)
          ->Unit(benchmark::kMicrosecond);
    }
  for (Isa isa : supported_isas())
    for (DType t : kKvTypes)
      for (int64_t n : kPositions) {
        const std::string name = "attention/" + std::string(isa_name(isa)) + "/" +
                                 std::string(dtype_name(t)) + "/n=" + std::to_string(n);
        benchmark::RegisterBenchmark(name.c_str(), bm_attention, isa, t, n)
            ->Unit(benchmark::kMicrosecond);
      }
  return true;
}
const bool kRegistered = register_all();

}  // namespace
}  // namespace quanta::kernels
