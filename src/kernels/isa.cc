#include "kernels/isa.h"

#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>

#include "core/error.h"

namespace quanta::kernels {
namespace {

constexpr Isa kAllIsas[] = {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kAmx};

// CPUID.1:ECX.F16C (clang's __builtin_cpu_supports has no "f16c").
bool has_f16c() {
  unsigned eax, ebx, ecx, edx;
  return __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_F16C) != 0;
}

// AMX-TILE, AMX-INT8 and AMX-BF16 (and AVX512-BF16, for the conversions beside them) in CPUID,
// the tile state enabled in XCR0 (XTILECFG, XTILEDATA: bits 17, 18), and Linux's permission for
// this process to use the tile data (arch_prctl ARCH_REQ_XCOMP_PERM; without it the first tile
// instruction kills the process with SIGILL).
bool has_amx() {
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
  constexpr unsigned kAmxBf16 = 1u << 22, kAmxTile = 1u << 24, kAmxInt8 = 1u << 25;
  if ((edx & kAmxTile) == 0 || (edx & kAmxInt8) == 0 || (edx & kAmxBf16) == 0) return false;
  constexpr unsigned kAvx512Bf16 = 1u << 5;  // CPUID.(7, 1):EAX
  if (!__get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx) || (eax & kAvx512Bf16) == 0) return false;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || (ecx & bit_OSXSAVE) == 0) return false;
  uint32_t xcr0_lo, xcr0_hi;
  asm volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  constexpr uint32_t kTileState = (1u << 17) | (1u << 18);
  if ((xcr0_lo & kTileState) != kTileState) return false;
#if defined(__linux__) && defined(SYS_arch_prctl)
  constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
  return false;
#endif
}

Isa detect() {
  __builtin_cpu_init();
  // These checks include OS support for the wider registers (XCR0), not only CPUID bits.
  const bool avx2 =
      __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && has_f16c();
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") &&
                      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
                      __builtin_cpu_supports("avx512dq");
  if (avx512 && __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vbmi") &&
      has_amx())
    return Isa::kAmx;
  if (avx512) return Isa::kAvx512;
  if (avx2) return Isa::kAvx2;
  return Isa::kScalar;
}

}  // namespace

std::string_view isa_name(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return "scalar";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512";
    case Isa::kAmx: return "amx";
  }
  return "unknown";
}

Isa detected_isa() {
  static const Isa isa = detect();
  return isa;
}

Isa parse_isa(std::string_view name) {
  for (Isa isa : kAllIsas)
    if (isa_name(isa) == name) return isa;
  fail("QUANTA_ISA: unknown instruction set '{}' (expected scalar, avx2, avx512 or amx)", name);
}

Isa resolve_isa(const char* override_value, Isa detected) {
  if (override_value == nullptr || *override_value == '\0') return detected;
  const Isa isa = parse_isa(override_value);
  if (static_cast<int>(isa) > static_cast<int>(detected))
    fail("QUANTA_ISA: '{}' is not supported by this CPU (highest supported: {})", override_value,
         isa_name(detected));
  return isa;
}

Isa active_isa() {
  // Read once; if the value is bad, every call throws the same error.
  static const Isa isa = resolve_isa(std::getenv("QUANTA_ISA"), detected_isa());
  return isa;
}

std::vector<Isa> supported_isas() {
  std::vector<Isa> out;
  for (Isa isa : kAllIsas)
    if (static_cast<int>(isa) <= static_cast<int>(detected_isa())) out.push_back(isa);
  return out;
}

}  // namespace quanta::kernels
