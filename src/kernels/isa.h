// Runtime CPU dispatch: the instruction-set levels quanta has kernels for, detection, and the
// QUANTA_ISA environment override (scalar | avx2 | avx512 | amx) to force a lower level.
// amx is AVX-512 plus Intel AMX tiles with int8 and bf16 (Sapphire Rapids and later, Linux
// granting the tile state): the W8A8, FP8_DYNAMIC and int16-activation (W4A16 / W8A16) GEMMs run
// on the tiles there from a few tokens on, every other kernel as at avx512.
#pragma once

#include <string_view>
#include <vector>

namespace quanta::kernels {

enum class Isa { kScalar = 0, kAvx2 = 1, kAvx512 = 2, kAmx = 3 };

std::string_view isa_name(Isa isa);
// Highest level this CPU supports (AVX2 needs AVX2+FMA+F16C; AVX512 needs F/BW/VL/DQ; AMX needs
// AVX512 with VNNI, VBMI and BF16, AMX-TILE, AMX-INT8 and AMX-BF16, and the kernel's permission for the
// tile data, asked for here, once per process).
Isa detected_isa();
// The level kernels use: detected_isa(), lowered by QUANTA_ISA if set (read once). Throws
// quanta::Error if QUANTA_ISA names an unknown level or one above what the CPU supports.
Isa active_isa();
// Every level this CPU can run, lowest first (for tests).
std::vector<Isa> supported_isas();

// Parses a QUANTA_ISA value ("scalar", "avx2", "avx512", "amx"); throws quanta::Error naming the value
// and the accepted names otherwise.
Isa parse_isa(std::string_view name);
// The level to use given a QUANTA_ISA value (null or empty: none set) and the detected level:
// the parsed value, which must not exceed `detected` (throws quanta::Error if it does).
Isa resolve_isa(const char* override_value, Isa detected);

}  // namespace quanta::kernels
