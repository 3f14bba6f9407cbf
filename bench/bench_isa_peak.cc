// What one core can multiply-accumulate per second, by instruction mix: the ceiling a prefill
// GEMM kernel works under, and so what bounds "W8A8 prefill >= 3x the BF16 prefill" (issue 4).
// Each loop is register-only (inline asm, 8 independent accumulators, no loads), so it measures
// the vector units, not memory:
//   f32_fma     vfmadd231ps ymm                      8 MAC per instruction (the BF16/F16/F32 GEMMs)
//   i16_madd    vpmaddwd + vpaddd ymm               16 MAC per pair (the AVX2 W8A8 and int16-
//                                                    activation kernels, exact)
//   u8s8_maddubs vpmaddubsw + vpmaddwd(1) + vpaddd  32 MAC per triple (llama.cpp's Q8_0 AVX2 dot;
//                                                    exact only for |products pair| < 2^15, so not
//                                                    for codes of -128 or unsigned ones above 127)
//   f32_fma512  vfmadd231ps zmm                     16 MAC per instruction (AVX-512 only)
//   vnni_dpbusd vpdpbusd zmm                        64 MAC per instruction (AVX-512 VNNI only)
// isa_peak reports each as GMAC/s and the int8 mixes as ratios to f32_fma, all in one run.
// Run: quanta_bench --benchmark_filter=isa_peak
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "kernels/isa.h"

namespace quanta {
namespace {

constexpr int64_t kIters = 20'000'000;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

#define QUANTA_CLOBBER8 "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7"
// Eight independent `op r14, r15, rN` (N = 0..7) for register kind r ("ymm" or "zmm").
#define QUANTA_OP(op, r, n) op " %%" r "14, %%" r "15, %%" r #n "\n"
#define QUANTA_X8(op, r)                                                                  \
  QUANTA_OP(op, r, 0) QUANTA_OP(op, r, 1) QUANTA_OP(op, r, 2) QUANTA_OP(op, r, 3)         \
  QUANTA_OP(op, r, 4) QUANTA_OP(op, r, 5) QUANTA_OP(op, r, 6) QUANTA_OP(op, r, 7)

// MAC per second of kIters runs of loop_body, which does mac_per_iter multiply-accumulates.
template <typename Body>
double rate(double mac_per_iter, Body loop_body) {
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < kIters; ++i) loop_body();
  return mac_per_iter * double(kIters) / seconds_since(t0);
}

double fma_rate() {
  return rate(8 * 8, [] { asm volatile(QUANTA_X8("vfmadd231ps", "ymm") ::: QUANTA_CLOBBER8); });
}

double fma512_rate() {
  return rate(8 * 16, [] { asm volatile(QUANTA_X8("vfmadd231ps", "zmm") ::: QUANTA_CLOBBER8); });
}

double vnni_rate() {
  return rate(8 * 64, [] { asm volatile(QUANTA_X8("vpdpbusd", "zmm") ::: QUANTA_CLOBBER8); });
}

double madd_rate() {
  return rate(8 * 16, [] {
    asm volatile(
        "vpmaddwd %%ymm14, %%ymm15, %%ymm0\n vpaddd %%ymm0, %%ymm8, %%ymm8\n"
        "vpmaddwd %%ymm14, %%ymm15, %%ymm1\n vpaddd %%ymm1, %%ymm9, %%ymm9\n"
        "vpmaddwd %%ymm14, %%ymm15, %%ymm2\n vpaddd %%ymm2, %%ymm10, %%ymm10\n"
        "vpmaddwd %%ymm14, %%ymm15, %%ymm3\n vpaddd %%ymm3, %%ymm11, %%ymm11\n"
        "vpmaddwd %%ymm14, %%ymm15, %%ymm4\n vpaddd %%ymm4, %%ymm8, %%ymm8\n"
        "vpmaddwd %%ymm14, %%ymm15, %%ymm5\n vpaddd %%ymm5, %%ymm9, %%ymm9\n"
        "vpmaddwd %%ymm14, %%ymm15, %%ymm6\n vpaddd %%ymm6, %%ymm10, %%ymm10\n"
        "vpmaddwd %%ymm14, %%ymm15, %%ymm7\n vpaddd %%ymm7, %%ymm11, %%ymm11\n" ::
            : QUANTA_CLOBBER8, "xmm8", "xmm9", "xmm10", "xmm11");
  });
}

double maddubs_rate() {
  return rate(8 * 32, [] {
    asm volatile(
        "vpmaddubsw %%ymm14, %%ymm15, %%ymm0\n vpmaddwd %%ymm0, %%ymm13, %%ymm0\n"
        "vpaddd %%ymm0, %%ymm8, %%ymm8\n"
        "vpmaddubsw %%ymm14, %%ymm15, %%ymm1\n vpmaddwd %%ymm1, %%ymm13, %%ymm1\n"
        "vpaddd %%ymm1, %%ymm9, %%ymm9\n"
        "vpmaddubsw %%ymm14, %%ymm15, %%ymm2\n vpmaddwd %%ymm2, %%ymm13, %%ymm2\n"
        "vpaddd %%ymm2, %%ymm10, %%ymm10\n"
        "vpmaddubsw %%ymm14, %%ymm15, %%ymm3\n vpmaddwd %%ymm3, %%ymm13, %%ymm3\n"
        "vpaddd %%ymm3, %%ymm11, %%ymm11\n"
        "vpmaddubsw %%ymm14, %%ymm15, %%ymm4\n vpmaddwd %%ymm4, %%ymm13, %%ymm4\n"
        "vpaddd %%ymm4, %%ymm8, %%ymm8\n"
        "vpmaddubsw %%ymm14, %%ymm15, %%ymm5\n vpmaddwd %%ymm5, %%ymm13, %%ymm5\n"
        "vpaddd %%ymm5, %%ymm9, %%ymm9\n"
        "vpmaddubsw %%ymm14, %%ymm15, %%ymm6\n vpmaddwd %%ymm6, %%ymm13, %%ymm6\n"
        "vpaddd %%ymm6, %%ymm10, %%ymm10\n"
        "vpmaddubsw %%ymm14, %%ymm15, %%ymm7\n vpmaddwd %%ymm7, %%ymm13, %%ymm7\n"
        "vpaddd %%ymm7, %%ymm11, %%ymm11\n" ::
            : QUANTA_CLOBBER8, "xmm8", "xmm9", "xmm10", "xmm11");
  });
}

void bm_isa_peak(benchmark::State& state) {
  if (kernels::detected_isa() < kernels::Isa::kAvx2) {
    state.SkipWithError("needs AVX2");
    return;
  }
  const bool avx512 = kernels::detected_isa() >= kernels::Isa::kAvx512;
  const bool vnni = avx512 && __builtin_cpu_supports("avx512vnni");
  double fma = 0, madd = 0, maddubs = 0, fma512 = 0, dp = 0;
  for (auto _ : state) {  // the best of the iterations: interference only ever slows a loop
    fma = std::max(fma, fma_rate());
    madd = std::max(madd, madd_rate());
    maddubs = std::max(maddubs, maddubs_rate());
    if (avx512) fma512 = std::max(fma512, fma512_rate());
    if (vnni) dp = std::max(dp, vnni_rate());
  }
  state.counters["f32_fma_GMAC/s"] = fma / 1e9;
  state.counters["i16_madd_GMAC/s"] = madd / 1e9;
  state.counters["u8s8_maddubs_GMAC/s"] = maddubs / 1e9;
  state.counters["i16_madd_vs_fma"] = madd / fma;
  state.counters["u8s8_maddubs_vs_fma"] = maddubs / fma;
  if (avx512) state.counters["f32_fma512_GMAC/s"] = fma512 / 1e9;
  if (vnni) {
    state.counters["vnni_dpbusd_GMAC/s"] = dp / 1e9;
    state.counters["vnni_vs_fma512"] = dp / fma512;  // the AVX-512 W8A8 kernel vs BF16's
  }
}
BENCHMARK(bm_isa_peak)->Name("isa_peak")->Iterations(5)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace quanta
