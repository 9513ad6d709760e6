#include "CSwannKernels.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#include <stdlib.h>

int swann_cpu_avx2_flag = 0;

// SWANN_NO_AVX2=1 keeps the baseline Swift kernels (to compare both on one machine).
__attribute__((constructor)) static void swann_detect_cpu(void) {
    __builtin_cpu_init();
    const char *off = getenv("SWANN_NO_AVX2");
    swann_cpu_avx2_flag = __builtin_cpu_supports("avx2") && !(off && off[0] && off[0] != '0') ? 1 : 0;
}

#define AVX2 __attribute__((target("avx2")))

AVX2 static inline uint32_t swann_lane_sum(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return (uint32_t)_mm_cvtsi128_si32(s);
}

AVX2 static inline __attribute__((always_inline)) __m256i swann_widen(const uint8_t *p, int is_signed) {
    __m128i v = _mm_loadu_si128((const __m128i *)p);
    return is_signed ? _mm256_cvtepi8_epi16(v) : _mm256_cvtepu8_epi16(v);
}

AVX2 static inline __attribute__((always_inline)) __m256i swann_term(__m256i x, __m256i y, int squared_difference) {
    if (squared_difference) {
        __m256i d = _mm256_sub_epi16(x, y);  // within ±255: exact in 16 bits
        return _mm256_madd_epi16(d, d);
    }
    return _mm256_madd_epi16(x, y);
}

// Sixteen bytes are widened to 16-bit lanes and multiplied in pairs into 32-bit lanes by
// vpmaddwd; two accumulators per 32 bytes keep two multiplies in flight. The constant flags
// fold away in each caller.
AVX2 static inline __attribute__((always_inline)) uint32_t swann_byte_kernel(
    const void *a, const void *b, long dimension, int is_signed, int squared_difference) {
    const uint8_t *x = (const uint8_t *)a, *y = (const uint8_t *)b;
    __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
    long i = 0;
    for (; i + 32 <= dimension; i += 32) {
        acc0 = _mm256_add_epi32(acc0, swann_term(swann_widen(x + i, is_signed), swann_widen(y + i, is_signed), squared_difference));
        acc1 = _mm256_add_epi32(acc1, swann_term(swann_widen(x + i + 16, is_signed), swann_widen(y + i + 16, is_signed), squared_difference));
    }
    if (i + 16 <= dimension) {
        acc0 = _mm256_add_epi32(acc0, swann_term(swann_widen(x + i, is_signed), swann_widen(y + i, is_signed), squared_difference));
        i += 16;
    }
    uint32_t total = swann_lane_sum(_mm256_add_epi32(acc0, acc1));
    for (; i < dimension; i++) {
        int32_t p = is_signed ? (int32_t)(int8_t)x[i] : (int32_t)x[i];
        int32_t q = is_signed ? (int32_t)(int8_t)y[i] : (int32_t)y[i];
        total += squared_difference ? (uint32_t)((p - q) * (p - q)) : (uint32_t)(p * q);
    }
    return total;
}

AVX2 uint32_t swann_l2_int8_avx2(const void *a, const void *b, long dimension) { return swann_byte_kernel(a, b, dimension, 1, 1); }
AVX2 uint32_t swann_l2_uint8_avx2(const void *a, const void *b, long dimension) { return swann_byte_kernel(a, b, dimension, 0, 1); }
AVX2 int32_t swann_dot_int8_avx2(const void *a, const void *b, long dimension) {
    return (int32_t)swann_byte_kernel(a, b, dimension, 1, 0);  // wrapping sum read back as signed: exact
}

#else
// Not x86-64: the Swift kernels run everywhere.
int swann_cpu_avx2_flag = 0;
uint32_t swann_l2_int8_avx2(const void *a, const void *b, long dimension) { (void)a; (void)b; (void)dimension; return 0; }
uint32_t swann_l2_uint8_avx2(const void *a, const void *b, long dimension) { (void)a; (void)b; (void)dimension; return 0; }
int32_t swann_dot_int8_avx2(const void *a, const void *b, long dimension) { (void)a; (void)b; (void)dimension; return 0; }
#endif
