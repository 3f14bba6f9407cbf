// 2:4 semi-structured sparsity for decode on the CPU (issue 4): does a values + metadata layout
// beat the dense BF16 weights it replaces? An experiment, not an engine kernel: AVX2 GEMV (one
// token, one thread) over BF16 weights in which every group of 4 columns holds 2 zeros, stored
//   dense:    (n, k) BF16, the zeros included;
//   sparse24: (n, k/2) BF16 kept values + per 8 columns one metadata byte (the two kept columns of
//             each group of 4 as 2-bit indices), 0.5625x the dense bytes.
// The sparse kernel gathers x to the kept columns: per 16 columns, a 256-entry table turns the
// two metadata bytes into lane indices, two vpermps + a blend select 8 of the 16 x values, one
// FMA with the 8 widened values. Dense: two widenings and two FMAs per 16 columns.
// "hot": one matrix, in cache (the compute cost); "stream": 30 distinct matrices in turn (a
// SmolLM2-135M layer stack's worth of one projection, 53 MB for gate: they stream from DRAM), on
// one thread and on two at once (each its own stack, sharing the memory bandwidth).
// Every run first checks the sparse result against the dense one (SkipWithError if not equal).
// Run: quanta_bench --benchmark_filter=sparse24 --benchmark_min_time=0.5
#include <benchmark/benchmark.h>
#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "kernels/isa.h"

namespace quanta {
namespace {

struct Sparse24 {
  int64_t n = 0, k = 0;
  std::vector<uint16_t> dense;   // (n, k) bf16, 2 zeros per group of 4
  std::vector<uint16_t> values;  // (n, k/2) bf16
  std::vector<uint8_t> meta;     // (n, k/8)
};

Sparse24 make_matrix(int64_t n, int64_t k, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 0.05f);
  Sparse24 s;
  s.n = n;
  s.k = k;
  s.dense.assign(size_t(n * k), 0);
  s.values.resize(size_t(n * k / 2));
  s.meta.assign(size_t(n * k / 8), 0);
  static const int kPairs[6][2] = {{0, 1}, {0, 2}, {0, 3}, {1, 2}, {1, 3}, {2, 3}};
  for (int64_t r = 0; r < n; ++r)
    for (int64_t g = 0; g < k / 4; ++g) {
      const int* p = kPairs[rng() % 6];
      uint8_t& m = s.meta[size_t(r * (k / 8) + g / 2)];
      for (int i = 0; i < 2; ++i) {
        const uint16_t v = f32_to_bf16(dist(rng));
        s.dense[size_t(r * k + g * 4 + p[i])] = v;
        s.values[size_t(r * (k / 2) + g * 2 + i)] = v;
        m = uint8_t(m | (p[i] << ((g % 2) * 4 + i * 2)));
      }
    }
  return s;
}

// Lane indices into 8 x values for a metadata byte: group 0's two columns, then group 1's (+4).
struct Lut {
  alignas(16) int32_t idx[256][4];
  Lut() {
    for (int b = 0; b < 256; ++b)
      for (int i = 0; i < 4; ++i) idx[b][i] = ((b >> (2 * i)) & 3) + (i >= 2 ? 4 : 0);
  }
};
const Lut kLut;

__attribute__((target("avx2,fma"))) inline __m256 widen_bf16(const uint16_t* p) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(
      _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))), 16));
}

__attribute__((target("avx2,fma"))) inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// y (n,) = W x, W dense bf16 (n, k), k a multiple of 16.
__attribute__((target("avx2,fma"))) void gemv_dense(const Sparse24& w, const float* x, float* y) {
  for (int64_t r = 0; r < w.n; ++r) {
    const uint16_t* row = w.dense.data() + r * w.k;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    for (int64_t c = 0; c < w.k; c += 16) {
      a0 = _mm256_fmadd_ps(widen_bf16(row + c), _mm256_loadu_ps(x + c), a0);
      a1 = _mm256_fmadd_ps(widen_bf16(row + c + 8), _mm256_loadu_ps(x + c + 8), a1);
    }
    y[r] = hsum(_mm256_add_ps(a0, a1));
  }
}

// The same from the 2:4 layout.
__attribute__((target("avx2,fma"))) void gemv_sparse24(const Sparse24& w, const float* x,
                                                       float* y) {
  for (int64_t r = 0; r < w.n; ++r) {
    const uint16_t* val = w.values.data() + r * (w.k / 2);
    const uint8_t* meta = w.meta.data() + r * (w.k / 8);
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int64_t c = 0;
    for (; c + 32 <= w.k; c += 32) {  // two 16-column steps, two accumulators
      for (int h = 0; h < 2; ++h) {
        const int64_t cc = c + 16 * h;
        const uint8_t* m = meta + cc / 8;
        const __m256i idx = _mm256_loadu2_m128i(reinterpret_cast<const __m128i*>(kLut.idx[m[1]]),
                                                reinterpret_cast<const __m128i*>(kLut.idx[m[0]]));
        const __m256 xa = _mm256_permutevar8x32_ps(_mm256_loadu_ps(x + cc), idx);
        const __m256 xb = _mm256_permutevar8x32_ps(_mm256_loadu_ps(x + cc + 8), idx);
        const __m256 xs = _mm256_blend_ps(xa, xb, 0xF0);
        if (h == 0)
          a0 = _mm256_fmadd_ps(widen_bf16(val + cc / 2), xs, a0);
        else
          a1 = _mm256_fmadd_ps(widen_bf16(val + cc / 2), xs, a1);
      }
    }
    for (; c < w.k; c += 16) {
      const uint8_t* m = meta + c / 8;
      const __m256i idx = _mm256_loadu2_m128i(reinterpret_cast<const __m128i*>(kLut.idx[m[1]]),
                                              reinterpret_cast<const __m128i*>(kLut.idx[m[0]]));
      const __m256 xs =
          _mm256_blend_ps(_mm256_permutevar8x32_ps(_mm256_loadu_ps(x + c), idx),
                          _mm256_permutevar8x32_ps(_mm256_loadu_ps(x + c + 8), idx), 0xF0);
      a0 = _mm256_fmadd_ps(widen_bf16(val + c / 2), xs, a0);
    }
    y[r] = hsum(_mm256_add_ps(a0, a1));
  }
}

void bm_sparse24(benchmark::State& state, bool sparse, int64_t n, int64_t k, int layers) {
  if (int(kernels::detected_isa()) < int(kernels::Isa::kAvx2)) {
    state.SkipWithError("needs AVX2");
    return;
  }
  std::vector<Sparse24> w;
  for (int l = 0; l < layers; ++l) w.push_back(make_matrix(n, k, uint32_t(l + 1)));
  std::vector<float> x(static_cast<size_t>(k)), y(static_cast<size_t>(n)), y_ref(y.size());
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (float& f : x) f = dist(rng);
  // Check: the sparse product equals the dense one (same products; the sums differ only in order).
  gemv_dense(w[0], x.data(), y_ref.data());
  gemv_sparse24(w[0], x.data(), y.data());
  for (int64_t r = 0; r < n; ++r)
    if (std::fabs(y[size_t(r)] - y_ref[size_t(r)]) > 1e-4f * (1.0f + std::fabs(y_ref[size_t(r)]))) {
      state.SkipWithError("sparse24 result differs from dense");
      return;
    }
  int l = 0;
  for (auto _ : state) {
    if (sparse)
      gemv_sparse24(w[size_t(l)], x.data(), y.data());
    else
      gemv_dense(w[size_t(l)], x.data(), y.data());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
    l = (l + 1) % layers;
  }
  const double bytes = sparse ? double(n * k / 2) * 2.0 + double(n * k / 8) : double(n * k) * 2.0;
  state.counters["W_B/s"] = benchmark::Counter(bytes, benchmark::Counter::kIsIterationInvariantRate,
                                               benchmark::Counter::kIs1000);
  state.counters["cols/s"] = benchmark::Counter(
      double(n * k), benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}

void register_all() {
  struct Shape {
    const char* name;
    int64_t n, k;
  };
  const Shape shapes[] = {{"gate", 1536, 576}, {"down", 576, 1536}};
  for (const Shape& s : shapes)
    for (int layers : {1, 30})
      for (bool sparse : {false, true}) {
        const std::string name = std::string("sparse24/") + (sparse ? "sparse24" : "dense") + "/" +
                                 s.name + "/" + (layers == 1 ? "hot" : "stream");
        auto* b = benchmark::RegisterBenchmark(
            name.c_str(), [=](benchmark::State& st) { bm_sparse24(st, sparse, s.n, s.k, layers); });
        // Streaming on every core at once, each thread its own stack: the bandwidth is shared.
        if (layers > 1) b->Threads(1)->Threads(2);
      }
}

const int kRegistered = (register_all(), 0);

}  // namespace
}  // namespace quanta
