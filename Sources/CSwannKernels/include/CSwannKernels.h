// Distance kernels in AVX2, chosen at run time. Swift compiles for baseline x86-64 (SSE2:
// 16 bytes per `pmaddwd`, 4 floats per `mulps`, no FMA, half floats converted in software), and
// a package cannot raise its target without unsafeFlags; clang's target attribute compiles
// these few functions for AVX2 (+ FMA and F16C for the float kernels), and SwannCore calls them
// only where `swann_cpu_has_avx2()` / `swann_cpu_has_fma()` say the CPU runs them.
// The 8-bit kernels are exact like the Swift ones (IntegerKernels.swift): Int32 lanes, at most
// 65,536 components. The float kernels accumulate in float32 like the Swift ones
// (FloatKernels.swift), in another order and with fused multiply-adds: equal within rounding.
#ifndef CSWANN_KERNELS_H
#define CSWANN_KERNELS_H

#include <stdint.h>

/// 1 where the CPU and OS run AVX2, else 0; set before main by a constructor.
extern int swann_cpu_avx2_flag;

/// 1 where the CPU and OS run AVX2, FMA and F16C (x86-64-v3), else 0; set before main.
extern int swann_cpu_fma_flag;

/// 1 where the CPU and OS run AVX-512F with VPOPCNTDQ (the RaBitQ scan's widest build); set
/// before main. SWANN_NO_AVX2=1 clears it too.
extern int swann_cpu_avx512_popcount_flag;

/// Whether the AVX2 8-bit kernels may run. Inline: one load where Swift calls it (a function,
/// because Swift 6 refuses to read a mutable C global from concurrent code; it never changes
/// after main).
static inline int swann_cpu_has_avx2(void) { return swann_cpu_avx2_flag; }
/// Whether the AVX2 + FMA + F16C float kernels may run.
static inline int swann_cpu_has_fma(void) { return swann_cpu_fma_flag; }

/// Σ (aᵢ − bᵢ)² over int8 rows (as an unsigned 32-bit sum: exact, see above). AVX2 only.
uint32_t swann_l2_int8_avx2(const void *a, const void *b, long dimension);
/// Σ (aᵢ − bᵢ)² over uint8 rows. AVX2 only.
uint32_t swann_l2_uint8_avx2(const void *a, const void *b, long dimension);
/// Σ aᵢbᵢ over int8 rows. AVX2 only.
int32_t swann_dot_int8_avx2(const void *a, const void *b, long dimension);


/// Σ (aᵢ − bᵢ)² over float32 rows. AVX2 + FMA only.
float swann_l2_f32_fma(const void *a, const void *b, long dimension);
/// Σ aᵢbᵢ over float32 rows. AVX2 + FMA only.
float swann_dot_f32_fma(const void *a, const void *b, long dimension);
/// Σ (aᵢ − bᵢ)² over float16 rows, in float32. AVX2 + FMA + F16C only.
float swann_l2_f16_fma(const void *a, const void *b, long dimension);
/// Σ aᵢbᵢ over float16 rows, in float32. AVX2 + FMA + F16C only.
float swann_dot_f16_fma(const void *a, const void *b, long dimension);

/// (Σ aᵢbᵢ, Σ aᵢ², Σ bᵢ²) in one pass (cosine).
typedef struct { float dot, norm_a, norm_b; } swann_dot_and_norms;
/// Dot product and both squared norms over float32 rows. AVX2 + FMA only.
swann_dot_and_norms swann_dot_and_norms_f32_fma(const void *a, const void *b, long dimension);
/// Dot product and both squared norms over float16 rows, in float32. AVX2 + FMA + F16C only.
swann_dot_and_norms swann_dot_and_norms_f16_fma(const void *a, const void *b, long dimension);

/// CRC-32C (Castagnoli, the iSCSI/ext4 polynomial) of `count` bytes, continuing from `crc`
/// (0 to start). SSE4.2's crc32 instruction where the CPU has it, a table otherwise; both give
/// the same value. Used for the write-ahead log's records.
uint32_t swann_crc32c(uint32_t crc, const void *bytes, long count);

/// Returns freed heap memory to the system where the allocator keeps it (glibc's malloc_trim);
/// nothing elsewhere. Swift's Glibc module does not export malloc.h.
void swann_release_free_memory(void);

/// What a RaBitQ scan needs of the query besides its bit planes: the quantiser's step `delta`
/// and `low` (component ≈ low + delta × code), the sum of the dequantised components, and
/// 1/√(padded dimension).
typedef struct { float delta, low, sum, scale; } swann_rabitq_query;

/// RaBitQ distance bounds for `count` posting entries of `row_bytes` each (`words` u64 code
/// words, then float32 A, B, E): estimate = base + A + B × ⟨code, query⟩ (the code read as ±1/√D),
/// and lower/upper = estimate ∓ margin × E. `planes` holds `bits` × `words` words, plane j
/// first. Uses AVX-512 VPOPCNTDQ, else the popcnt instruction, where the CPU has them.
void swann_rabitq_bounds(const void *rows, long row_bytes, long count, const uint64_t *planes, long words, long bits,
                         swann_rabitq_query query, float base, float margin, float *lower, float *upper);

#endif
