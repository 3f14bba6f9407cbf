// gptq_quantize and sparsegpt_prune on SmolLM2-135M Linear shapes (W rows x cols = out x in):
// q/o_proj 576 x 576, gate/up_proj 1536 x 576, down_proj 576 x 1536; int4 symmetric, group 64
// (128 does not divide 576), damp 0.01, block 128. The Hessian (from 512 random correlated tokens)
// is built once per shape outside the timing. OpenBLAS threads as it is configured
// (OPENBLAS_NUM_THREADS); the column sweep itself is single-threaded.
// Run: quanta_bench --benchmark_filter=gptq
#include <benchmark/benchmark.h>

#include <cstdint>
#include <map>
#include <random>
#include <utility>
#include <vector>

#include "compress/gptq.h"

namespace quanta {
namespace {

struct Layer {
  std::vector<float> w;
  std::vector<double> h;
};

const Layer& layer(int64_t rows, int64_t cols) {
  static std::map<std::pair<int64_t, int64_t>, Layer> cache;
  auto it = cache.find({rows, cols});
  if (it != cache.end()) return it->second;
  std::mt19937 gen(1);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  Layer l;
  l.w.resize(static_cast<size_t>(rows * cols));
  for (float& v : l.w) v = 0.05f * nd(gen);
  const int64_t n = 512, k = 16;
  std::vector<float> a(static_cast<size_t>(k * cols)), x(static_cast<size_t>(n * cols));
  for (float& v : a) v = nd(gen);
  for (int64_t t = 0; t < n; ++t) {
    float z[k];
    for (float& v : z) v = nd(gen);
    for (int64_t c = 0; c < cols; ++c) {
      float s = 0.3f * nd(gen);
      for (int64_t i = 0; i < k; ++i) s += z[i] * a[static_cast<size_t>(i * cols + c)];
      x[static_cast<size_t>(t * cols + c)] = s;
    }
  }
  HessianAccumulator acc(cols);
  acc.add(x.data(), n);
  l.h = acc.hessian();
  return cache.emplace(std::make_pair(rows, cols), std::move(l)).first->second;
}

void BM_gptq(benchmark::State& state) {
  const int64_t rows = state.range(0), cols = state.range(1);
  const Layer& l = layer(rows, cols);
  QuantArgs args;
  args.num_bits = 4;
  args.group_size = 64;
  GptqOptions opt;
  opt.actorder = state.range(2) != 0 ? ActOrder::kStatic : ActOrder::kNone;
  for (auto _ : state) {
    GptqResult r = gptq_quantize(l.w.data(), rows, cols, l.h, args, opt);
    benchmark::DoNotOptimize(r.loss);
  }
}
BENCHMARK(BM_gptq)
    ->ArgNames({"rows", "cols", "actorder"})
    ->Args({576, 576, 0})
    ->Args({1536, 576, 0})
    ->Args({576, 1536, 0})
    ->Args({576, 1536, 1})
    ->Unit(benchmark::kMillisecond);

void BM_sparsegpt_2_4(benchmark::State& state) {
  const int64_t rows = state.range(0), cols = state.range(1);
  const Layer& l = layer(rows, cols);
  SparsityOptions sp;
  sp.n = 2;
  sp.m = 4;
  std::vector<float> w;
  for (auto _ : state) {
    w = l.w;
    benchmark::DoNotOptimize(sparsegpt_prune(w.data(), rows, cols, l.h, sp, GptqOptions{}));
  }
}
BENCHMARK(BM_sparsegpt_2_4)
    ->ArgNames({"rows", "cols"})
    ->Args({576, 576})
    ->Args({1536, 576})
    ->Args({576, 1536})
    ->Unit(benchmark::kMillisecond);

void BM_hessian_add(benchmark::State& state) {
  const int64_t cols = state.range(0), n = 512;
  std::vector<float> x(static_cast<size_t>(n * cols), 0.5f);
  HessianAccumulator acc(cols);
  for (auto _ : state) acc.add(x.data(), n);
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_hessian_add)->Arg(576)->Arg(1536)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace quanta
