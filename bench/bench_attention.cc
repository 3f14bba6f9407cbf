// kernels::attend_update, single thread, per ISA level and KV dtype: one decode step of one
// SmolLM2-135M KV head (head_dim 64, the GQA group's 3 query heads together) over n cached
// positions, K/V rows one after another as in KvCache (head-major; the L1/L2 hold them: the
// DRAM-bound case is attention_cold). KV_B/s counts the K and V bytes read.
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
#include "bench_util.h"

namespace quanta::kernels {
namespace {

constexpr int64_t kHeadDim = 64, kHeadsKv = 3, kGroup = 3;
constexpr int64_t kPositions[] = {128, 512, 2048};
constexpr DType kKvTypes[] = {DType::kF32, DType::kF16, DType::kBF16, DType::kI8};

using bench::random_floats;

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
  const int64_t stride = kHeadDim;
  std::vector<float> ks, vs;
  const std::vector<uint8_t> k = stored(t, random_floats(n * stride, 1), ks);
  const std::vector<uint8_t> v = stored(t, random_floats(n * stride, 2), vs);
  const KvRows rows{k.data(), v.data(), t, stride, ks.data(), vs.data(), 1};
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

// attention_cold: one decode step's attention over a whole SmolLM2-135M F16 KV cache (30 layers x
// 3 KV heads x n positions, 3 query heads per KV head, one thread), after 128 MB streamed through
// the caches as a step's weights do: K/V from DRAM. Layouts: head_major (KvCache's: each head's
// positions contiguous) and position_major (each position's 3 heads together; a head's rows 384
// bytes apart). rows/s: positions x KV heads per second.
void bm_attention_cold(benchmark::State& state, Isa isa, bool head_major, int64_t n) {
  constexpr int64_t kLayers = 30;
  const int64_t per_layer = kHeadsKv * n * kHeadDim;
  std::vector<float> unused;
  const std::vector<uint8_t> k = stored(DType::kF16, random_floats(kLayers * per_layer, 1), unused);
  const std::vector<uint8_t> v = stored(DType::kF16, random_floats(kLayers * per_layer, 2), unused);
  std::vector<float> flush(size_t(32) << 20, 1.0f);
  const std::vector<float> q = random_floats(kGroup * kHeadDim, 3);
  std::vector<float> m(kGroup), l(kGroup), acc(kGroup * kHeadDim);
  const float scale = 1.0f / std::sqrt(float(kHeadDim));
  float sink = 0;
  for (auto _ : state) {
    state.PauseTiming();
    for (size_t i = 0; i < flush.size(); i += 16) sink += flush[i];
    state.ResumeTiming();
    for (int64_t layer = 0; layer < kLayers; ++layer)
      for (int64_t h = 0; h < kHeadsKv; ++h) {
        const int64_t at = (layer * per_layer + (head_major ? h * n * kHeadDim : h * kHeadDim)) * 2;
        const int64_t stride = head_major ? kHeadDim : kHeadsKv * kHeadDim;
        const KvRows rows{k.data() + at, v.data() + at, DType::kF16, stride, nullptr, nullptr, 0};
        attend_init(kGroup, kHeadDim, m.data(), l.data(), acc.data());
        attend_update(q.data(), kGroup, kHeadDim, scale, rows, n, m.data(), l.data(), acc.data(), isa);
        sink += acc[0];
      }
  }
  benchmark::DoNotOptimize(sink);
  state.counters["rows/s"] = benchmark::Counter(double(kLayers * kHeadsKv * n),
                                                benchmark::Counter::kIsIterationInvariantRate);
}

bool register_all() {
  for (Isa isa : supported_isas())
    for (bool head_major : {true, false})
      for (int64_t n : {int64_t(512), int64_t(2048)}) {
        const std::string name = "attention_cold/" + std::string(isa_name(isa)) + "/F16/" +
                                 (head_major ? "head_major" : "position_major") + "/n=" + std::to_string(n);
        benchmark::RegisterBenchmark(name.c_str(), bm_attention_cold, isa, head_major, n)
            ->Unit(benchmark::kMillisecond);
      }
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
