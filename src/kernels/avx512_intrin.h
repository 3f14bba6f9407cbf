// <immintrin.h> for the AVX-512 translation units (*_avx512.cc, *_avx512vnni.cc). GCC 12's own
// AVX-512 intrinsics trip -Wuninitialized / -Wmaybe-uninitialized (_mm512_undefined_ps; GCC bug
// 105593); the warnings are reported at the intrinsics' lines, so silencing them around this
// include is enough and the kernels keep every other warning.
#pragma once

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
