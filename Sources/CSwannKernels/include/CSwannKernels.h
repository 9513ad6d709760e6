// 8-bit distance kernels in AVX2, chosen at run time. Swift compiles for baseline x86-64
// (SSE2: 16 bytes per `pmaddwd`), and a package cannot raise its target without unsafeFlags;
// clang's target attribute compiles these few functions for AVX2 (32 bytes per `vpmaddwd`),
// and SwannCore calls them only where `swann_cpu_has_avx2()` says the CPU runs them.
// Exact like the Swift kernels (IntegerKernels.swift): Int32 lanes, at most 65,536 components.
#ifndef CSWANN_KERNELS_H
#define CSWANN_KERNELS_H

#include <stdint.h>

/// 1 where the CPU and OS run AVX2, else 0; set before main by a constructor.
extern int swann_cpu_avx2_flag;

/// Whether the AVX2 kernels may run. Inline: one load where Swift calls it (a function, because
/// Swift 6 refuses to read a mutable C global from concurrent code; it never changes after main).
static inline int swann_cpu_has_avx2(void) { return swann_cpu_avx2_flag; }

/// Σ (aᵢ − bᵢ)² over int8 rows (as an unsigned 32-bit sum: exact, see above). AVX2 only.
uint32_t swann_l2_int8_avx2(const void *a, const void *b, long dimension);
/// Σ (aᵢ − bᵢ)² over uint8 rows. AVX2 only.
uint32_t swann_l2_uint8_avx2(const void *a, const void *b, long dimension);
/// Σ aᵢbᵢ over int8 rows. AVX2 only.
int32_t swann_dot_int8_avx2(const void *a, const void *b, long dimension);

#endif
