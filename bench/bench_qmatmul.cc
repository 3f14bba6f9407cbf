// The compressed-weight kernels (kernels/qmatmul.h), single thread, per ISA level and format, on
// SmolLM2-135M layer shapes. m = 1: decode GEMV; the counter W_B/s is compressed weight bytes
// (codes + scales + zero points) read per second (Note: these matrices fit in L2/L3, so this is
// cache bandwidth, an upper bound for what the kernel can stream). m = 512: prefill (FLOP/s).
// W8A8, FP8_DYNAMIC and the int16-activation formats (W4A16, W8A16 per channel or groups of 32)
// time the kernel alone: activations quantized once, outside (act_quant_*: that part, per level).
// Run: quanta_bench --benchmark_filter=qmatmul --benchmark_min_time=0.2 (act_quant_int8: the
// activation quantization of W8A8, per level).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/act_quant.h"
#include "kernels/isa.h"
#include "kernels/qmatmul.h"
#include "quant/packed_weight.h"
#include "quant/rtn.h"
#include "bench_util.h"

namespace quanta::kernels {
namespace {

struct Shape {
  const char* name;
  int64_t k, n;  // W (n, k)
};
constexpr Shape kShapes[] = {
    {"q_o_proj", 576, 576}, {"gate_up_proj", 576, 1536}, {"down_proj", 1536, 576}};
constexpr int64_t kTokens[] = {1, 8, 64, 512};  // 64: a thread's share of a 512-token prefill (ops::linear splits the tokens)

struct Format {
  const char* name;
  QuantType type;
  int bits;
  bool sym;
  int64_t group;
  ActQuant act;
};
constexpr Format kFormats[] = {
    {"W4A16_g32", QuantType::kInt, 4, true, 32, ActQuant::kNone},
    {"W4A16_g64", QuantType::kInt, 4, true, 64, ActQuant::kNone},
    {"W4A16_ASYM_g64", QuantType::kInt, 4, false, 64, ActQuant::kNone},
    {"W4A16_chan", QuantType::kInt, 4, true, 0, ActQuant::kNone},
    {"W8A16", QuantType::kInt, 8, true, 0, ActQuant::kNone},
    {"W8A16_g32", QuantType::kInt, 8, true, 32, ActQuant::kNone},
    {"W8A16_g16", QuantType::kInt, 8, true, 16, ActQuant::kNone},
    {"FP8", QuantType::kFloat, 8, true, 0, ActQuant::kNone},
    {"W8A8", QuantType::kInt, 8, true, 0, ActQuant::kInt8PerToken},
    {"FP8_DYNAMIC", QuantType::kFloat, 8, true, 0, ActQuant::kFp8PerToken},
};

using bench::random_floats;

void bm_qmatmul(benchmark::State& state, Isa isa, Format f, int64_t m, Shape s) {
  QuantArgs a;
  a.type = f.type;
  a.num_bits = f.bits;
  a.symmetric = f.sym;
  a.group_size = f.group;
  const std::vector<float> wf = random_floats(s.n * s.k, 1);
  const PackedWeight p = *pack_weight(quantize_rtn(wf.data(), s.n, s.k, a), f.act);
  const std::vector<float> x = random_floats(m * s.k, 2);
  std::vector<float> y(static_cast<size_t>(m * s.n));
  const int64_t ldq = a8_row_stride(s.k);
  std::vector<int8_t> xq(static_cast<size_t>(m * ldq));
  std::vector<float> sx(static_cast<size_t>(m));
  quantize_act_int8(x.data(), m, s.k, xq.data(), ldq, sx.data());
  const int64_t kp = i16_row_stride(s.k), nb = kp / kI16Block;
  std::vector<int16_t> xq16(static_cast<size_t>(m * kp));
  std::vector<float> xs16(static_cast<size_t>(m * nb)), xz16(static_cast<size_t>(m * nb));
  quantize_act_i16(x.data(), m, s.k, xq16.data(), kp, xs16.data(), xz16.data());
  const bool i16 = p.view.format == WeightFormat::kInt4x16 || p.view.format == WeightFormat::kInt8x16;
  std::vector<float> xf, sf;  // FP8_DYNAMIC: fake-quantized x and its token scales
  if (f.act == ActQuant::kFp8PerToken) {
    xf.resize(x.size());
    sf.resize(static_cast<size_t>(m));
    fake_quant_act_fp8(x.data(), m, s.k, xf.data(), Isa::kScalar, sf.data());
  }
  for (auto _ : state) {
    if (f.act == ActQuant::kFp8PerToken) {
      qmatmul_fp8_dynamic(xf.data(), sf.data(), m, p.view, 0, s.n, y.data(), s.n, isa);
    } else if (f.act == ActQuant::kInt8PerToken) {
      qmatmul_a8(xq.data(), sx.data(), m, ldq, p.view, 0, s.n, y.data(), s.n, isa);
    } else if (i16) {
      qmatmul_i16(xq16.data(), xs16.data(), xz16.data(), m, p.view, 0, s.n, y.data(), s.n, isa);
    } else {
      qmatmul(x.data(), m, p.view, 0, s.n, y.data(), s.n, isa);
    }
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  using benchmark::Counter;
  state.counters["FLOP/s"] =
      Counter(2.0 * double(m * s.n * s.k), Counter::kIsIterationInvariantRate, Counter::kIs1000);
  if (m == 1)
    state.counters["W_B/s"] =
        Counter(double(p.view.nbytes()), Counter::kIsIterationInvariantRate, Counter::kIs1000);
}

// int16 block quantization of the activations (the part of a W4A16 / W8A16 Linear outside the
// kernel), per level.
void bm_act_quant_i16(benchmark::State& state, Isa isa, int64_t m, int64_t k) {
  const std::vector<float> x = random_floats(m * k, 3);
  const int64_t kp = i16_row_stride(k), nb = kp / kI16Block;
  std::vector<int16_t> q(static_cast<size_t>(m * kp));
  std::vector<float> s(static_cast<size_t>(m * nb)), z(static_cast<size_t>(m * nb));
  for (auto _ : state) {
    quantize_act_i16(x.data(), m, k, q.data(), kp, s.data(), z.data(), isa);
    benchmark::DoNotOptimize(q.data());
    benchmark::ClobberMemory();
  }
  state.counters["x_B/s"] = benchmark::Counter(double(m * k * 4), benchmark::Counter::kIsIterationInvariantRate,
                                               benchmark::Counter::kIs1000);
}

// Per-token int8 quantization of the activations (the part of a W8A8 Linear outside the kernel).
void bm_act_quant(benchmark::State& state, Isa isa, int64_t m, int64_t k) {
  const std::vector<float> x = random_floats(m * k, 3);
  const int64_t ldq = a8_row_stride(k);
  std::vector<int8_t> xq(static_cast<size_t>(m * ldq));
  std::vector<float> sx(static_cast<size_t>(m));
  for (auto _ : state) {
    quantize_act_int8(x.data(), m, k, xq.data(), ldq, sx.data(), isa);
    benchmark::DoNotOptimize(xq.data());
    benchmark::ClobberMemory();
  }
  state.counters["x_B/s"] = benchmark::Counter(double(m * k * 4), benchmark::Counter::kIsIterationInvariantRate,
                                               benchmark::Counter::kIs1000);
}

bool register_all() {
  for (Isa isa : supported_isas())
    for (int64_t m : {int64_t(1), int64_t(512)})
      for (int64_t k : {int64_t(576), int64_t(1536)}) {
        const std::string name = "act_quant_i16/" + std::string(isa_name(isa)) + "/m=" + std::to_string(m) +
                                 "/k=" + std::to_string(k);
        benchmark::RegisterBenchmark(name.c_str(), bm_act_quant_i16, isa, m, k)->Unit(benchmark::kMicrosecond);
      }
  for (Isa isa : supported_isas())
    for (int64_t m : {int64_t(8), int64_t(512)})
      for (int64_t k : {int64_t(576), int64_t(1536)}) {
        const std::string name = "act_quant_int8/" + std::string(isa_name(isa)) + "/m=" + std::to_string(m) +
                                 "/k=" + std::to_string(k);
        benchmark::RegisterBenchmark(name.c_str(), bm_act_quant, isa, m, k)->Unit(benchmark::kMicrosecond);
      }
  for (Isa isa : supported_isas()) {
    for (const Format& f : kFormats) {
      for (int64_t m : kTokens) {
        for (const Shape& s : kShapes) {
          if (isa == Isa::kScalar && m > 1) continue;  // seconds per call
          const std::string name = "qmatmul/" + std::string(isa_name(isa)) + "/" + f.name +
                                   "/m=" + std::to_string(m) + "/" + s.name +
                                   "/k=" + std::to_string(s.k) + ",n=" + std::to_string(s.n);
          benchmark::RegisterBenchmark(name.c_str(), bm_qmatmul, isa, f, m, s)
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
