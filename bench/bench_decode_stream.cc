// Decode's weight streaming without the model around it: the Linears of a SmolLM2-135M layer
// stack (30 layers of q/k/v fused, o, gate/up fused, down; random weights, RTN) run for one token
// through ops::linear / linear_fused on a pool of N threads, as a decode step runs them. The
// stack (60-215 MB) is far past the last-level cache, so every weight comes from DRAM, as in
// decode. Counters: W_B/s = weight bytes per second, and the same rate as a share of the read
// bandwidth measured in the same process (eval::measure_read_bandwidth over a 1 GiB buffer,
// bandwidth/threads=N): the roofline share of the Linears alone (the rest of a decode step:
// attention, the lm_head, norms).
// Kernels at the active level (QUANTA_ISA=avx2 forces AVX2 on an AVX-512 machine).
// Run: quanta_bench --benchmark_filter=decode_stream --benchmark_min_time=1
#include <benchmark/benchmark.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "eval/speed.h"
#include "kernels/isa.h"
#include "ops/linear.h"
#include "quant/packed_weight.h"
#include "quant/rtn.h"
#include "bench_util.h"

namespace quanta {
namespace {

constexpr int64_t kLayers = 30, kHidden = 576, kFf = 1536, kKv = 192;

struct Format {
  const char* name;
  QuantType type;
  int bits;  // 0: dense BF16
  int64_t group;
  ActQuant act;
};
constexpr Format kFormats[] = {
    {"W4A16_g32", QuantType::kInt, 4, 32, ActQuant::kNone},
    {"W4A16_g64", QuantType::kInt, 4, 64, ActQuant::kNone},
    {"W8A16", QuantType::kInt, 8, 0, ActQuant::kNone},
    {"W8A8", QuantType::kInt, 8, 0, ActQuant::kInt8PerToken},
    {"FP8_DYNAMIC", QuantType::kFloat, 8, 0, ActQuant::kFp8PerToken},
    {"BF16", QuantType::kInt, 0, 0, ActQuant::kNone},
};

// Weights of a trained layer's scale: random_floats scaled by 0.05.
std::vector<float> random_floats(int64_t n, uint64_t seed) {
  std::vector<float> v = bench::random_floats(n, seed);
  for (float& f : v) f *= 0.05f;
  return v;
}

struct Stack {
  std::vector<std::unique_ptr<PackedWeight>> packed;
  std::vector<std::vector<uint16_t>> dense;
  std::vector<MatrixView> views;  // per layer: q, k, v, o, gate, up, down
  double bytes = 0;
};

Stack make_stack(const Format& f) {
  Stack s;
  const int64_t shapes[7][2] = {{kHidden, kHidden}, {kKv, kHidden}, {kKv, kHidden},
                                {kHidden, kHidden}, {kFf, kHidden}, {kFf, kHidden},
                                {kHidden, kFf}};
  uint64_t seed = 1;
  for (int64_t l = 0; l < kLayers; ++l)
    for (const auto& shape : shapes) {
      const int64_t n = shape[0], k = shape[1];
      const std::vector<float> w = random_floats(n * k, seed++);
      if (f.bits == 0) {
        std::vector<uint16_t> b(w.size());
        for (size_t i = 0; i < w.size(); ++i) b[i] = f32_to_bf16(w[i]);
        s.dense.push_back(std::move(b));
        s.views.push_back(MatrixView{s.dense.back().data(), DType::kBF16, n, k});
      } else {
        QuantArgs a;
        a.type = f.type;
        a.num_bits = f.bits;
        a.symmetric = true;
        a.group_size = f.group;
        s.packed.push_back(
            std::make_unique<PackedWeight>(*pack_weight(quantize_rtn(w.data(), n, k, a), f.act)));
        s.views.push_back(s.packed.back()->view);
      }
      s.bytes += double(s.views.back().nbytes());
    }
  return s;
}

void bm_decode_stream(benchmark::State& state, Format f, int threads) {
  const Stack st = make_stack(f);
  ThreadPool pool(threads);
  const std::vector<float> x = random_floats(kFf, 99);
  std::vector<float> q(kHidden), k(kKv), v(kKv), o(kHidden), gate(kFf), up(kFf), down(kHidden);
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    for (int64_t l = 0; l < kLayers; ++l) {
      const MatrixView* w = &st.views[size_t(l * 7)];
      const ops::LinearPart qkv[] = {
          {&w[0], nullptr, q.data()}, {&w[1], nullptr, k.data()}, {&w[2], nullptr, v.data()}};
      ops::linear_fused(x.data(), 1, qkv, 3, pool);
      ops::linear(x.data(), 1, w[3], nullptr, o.data(), pool);
      const ops::LinearPart gu[] = {{&w[4], nullptr, gate.data()}, {&w[5], nullptr, up.data()}};
      ops::linear_fused(x.data(), 1, gu, 2, pool);
      ops::linear(x.data(), 1, w[6], nullptr, down.data(), pool);
    }
    benchmark::DoNotOptimize(down.data());
    benchmark::ClobberMemory();
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double bw = measure_read_bandwidth(pool);
  state.counters["W_B/s"] = benchmark::Counter(
      st.bytes, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
  state.counters["stack_MB"] = st.bytes / 1e6;
  state.counters["read_GB/s"] = bw / 1e9;
  state.counters["roofline_%"] = 100.0 * st.bytes * double(state.iterations()) / secs / bw;
}

bool register_all() {
  const std::string isa(kernels::isa_name(kernels::active_isa()));
  for (const Format& f : kFormats)
    for (int threads : {1, 2}) {
      const std::string name =
          "decode_stream/" + isa + "/" + f.name + "/threads=" + std::to_string(threads);
      benchmark::RegisterBenchmark(name.c_str(), bm_decode_stream, f, threads)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
  return true;
}
const bool kRegistered = register_all();

}  // namespace
}  // namespace quanta
