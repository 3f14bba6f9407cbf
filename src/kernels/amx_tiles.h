// Tile configuration shared by the AMX translation units (*_amx.cc, built with -mamx-*): every
// kernel uses 8 tiles of 16 rows x 64 bytes (int8: 16 x 64 codes; bf16: 16 x 32 values; int32 /
// f32 accumulators: 16 x 16). Include only from *_amx.cc: the inline function below is compiled
// with AMX enabled, and a copy of it in another translation unit could be the one the linker keeps.
#pragma once

#include <cstdint>

#include "kernels/avx512_intrin.h"

namespace quanta::kernels::amx {

// Palette 1, tiles 0-7 all 16 rows of 64 bytes. The configuration is per thread: load it at the
// start of each call and release the tiles (_tile_release) at its end.
struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

inline void configure_tiles() {
  TileConfig c;
  for (int t = 0; t < 8; ++t) {
    c.colsb[t] = 64;
    c.rows[t] = 16;
  }
  _tile_loadconfig(&c);
}

// Lanes r of a 16-lane vector with lo <= r < hi (the rows of a tile inside [n0, n1)).
inline __mmask16 lanes_between(int64_t lo, int64_t hi) {
  lo = lo < 0 ? 0 : lo;
  hi = hi > 16 ? 16 : hi;
  if (hi <= lo) return _cvtu32_mask16(0);
  return _cvtu32_mask16(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}

}  // namespace quanta::kernels::amx
