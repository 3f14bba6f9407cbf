#include "kernels/isa.h"

#include <cpuid.h>

#include <cstdlib>

#include "core/error.h"

namespace quanta::kernels {
namespace {

constexpr Isa kAllIsas[] = {Isa::kScalar, Isa::kAvx2, Isa::kAvx512};

// CPUID.1:ECX.F16C (clang's __builtin_cpu_supports has no "f16c").
bool has_f16c() {
  unsigned eax, ebx, ecx, edx;
  return __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_F16C) != 0;
}

Isa detect() {
  __builtin_cpu_init();
  // These checks include OS support for the wider registers (XCR0), not only CPUID bits.
  const bool avx2 =
      __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && has_f16c();
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") &&
                      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
                      __builtin_cpu_supports("avx512dq");
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
  fail("QUANTA_ISA: unknown instruction set '{}' (expected scalar, avx2 or avx512)", name);
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
