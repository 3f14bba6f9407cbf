// What the micro-benchmarks (bench/*.cc) share.
#pragma once

#include <cstdint>
#include <vector>

namespace quanta::bench {

// n floats in [lo, hi) from a xorshift64 stream started from seed: the same inputs on every run
// and machine.
inline std::vector<float> random_floats(int64_t n, uint64_t seed, float lo = -1.0f,
                                        float hi = 1.0f) {
  std::vector<float> v(static_cast<size_t>(n));
  uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
  for (float& f : v) {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    f = float(s >> 40) * ((hi - lo) / float(1 << 24)) + lo;
  }
  return v;
}

}  // namespace quanta::bench
