#include "CSwannKernels.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#include <stdlib.h>

int swann_cpu_avx2_flag = 0;
int swann_cpu_fma_flag = 0;
int swann_cpu_avx512_popcount_flag = 0;

// SWANN_NO_AVX2=1 keeps the baseline Swift kernels (to compare both on one machine).
__attribute__((constructor)) static void swann_detect_cpu(void) {
    __builtin_cpu_init();
    const char *off = getenv("SWANN_NO_AVX2");
    int allowed = !(off && off[0] && off[0] != '0');
    swann_cpu_avx2_flag = allowed && __builtin_cpu_supports("avx2") ? 1 : 0;
    swann_cpu_fma_flag = swann_cpu_avx2_flag && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c") ? 1 : 0;
    swann_cpu_avx512_popcount_flag = allowed && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vpopcntdq") ? 1 : 0;
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

// ---- float kernels: AVX2 + FMA (+ F16C for half floats) ----

#define FMA __attribute__((target("avx2,fma,f16c")))

FMA static inline float swann_float_sum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// Eight components as floats: a plain load, or eight halves converted by vcvtph2ps.
FMA static inline __attribute__((always_inline)) __m256 swann_load8(const char *p, int half) {
    return half ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)) : _mm256_loadu_ps((const float *)p);
}

FMA static inline __attribute__((always_inline)) float swann_load1(const char *p, long i, int half) {
    if (half) {
        unsigned short h;
        __builtin_memcpy(&h, p + 2 * i, 2);
        return _cvtsh_ss(h);
    }
    float f;
    __builtin_memcpy(&f, p + 4 * i, 4);
    return f;
}

// One step of eight components: acc + (p − q)² or acc + p·q, fused.
FMA static inline __attribute__((always_inline)) __m256 swann_float_step(
    __m256 acc, const char *x, const char *y, int half, int squared_difference) {
    __m256 p = swann_load8(x, half), q = swann_load8(y, half);
    if (squared_difference) {
        __m256 d = _mm256_sub_ps(p, q);
        return _mm256_fmadd_ps(d, d, acc);
    }
    return _mm256_fmadd_ps(p, q, acc);
}

// Squared distance or dot product, 32 components per step in four accumulators (an FMA has a
// latency of four cycles and two issue per cycle: fewer accumulators leave the units idle),
// then up to three steps of eight and a scalar tail. The constant flags fold away in each caller.
FMA static inline __attribute__((always_inline)) float swann_float_kernel(
    const void *a, const void *b, long dimension, int half, int squared_difference) {
    const char *x = (const char *)a, *y = (const char *)b;
    const long width = half ? 2 : 4;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps(), acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
    long i = 0;
    for (; i + 32 <= dimension; i += 32) {
        acc0 = swann_float_step(acc0, x + i * width, y + i * width, half, squared_difference);
        acc1 = swann_float_step(acc1, x + (i + 8) * width, y + (i + 8) * width, half, squared_difference);
        acc2 = swann_float_step(acc2, x + (i + 16) * width, y + (i + 16) * width, half, squared_difference);
        acc3 = swann_float_step(acc3, x + (i + 24) * width, y + (i + 24) * width, half, squared_difference);
    }
    if (i + 8 <= dimension) { acc0 = swann_float_step(acc0, x + i * width, y + i * width, half, squared_difference); i += 8; }
    if (i + 8 <= dimension) { acc1 = swann_float_step(acc1, x + i * width, y + i * width, half, squared_difference); i += 8; }
    if (i + 8 <= dimension) { acc2 = swann_float_step(acc2, x + i * width, y + i * width, half, squared_difference); i += 8; }
    float total = swann_float_sum(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
    for (; i < dimension; i++) {
        float p = swann_load1(x, i, half), q = swann_load1(y, i, half);
        total += squared_difference ? (p - q) * (p - q) : p * q;
    }
    return total;
}

FMA static inline __attribute__((always_inline)) swann_dot_and_norms swann_float_dot_and_norms(
    const void *a, const void *b, long dimension, int half) {
    const char *x = (const char *)a, *y = (const char *)b;
    const long width = half ? 2 : 4;
    __m256 d0 = _mm256_setzero_ps(), d1 = _mm256_setzero_ps();
    __m256 na0 = _mm256_setzero_ps(), na1 = _mm256_setzero_ps(), nb0 = _mm256_setzero_ps(), nb1 = _mm256_setzero_ps();
    long i = 0;
    for (; i + 16 <= dimension; i += 16) {
        __m256 p0 = swann_load8(x + i * width, half), q0 = swann_load8(y + i * width, half);
        __m256 p1 = swann_load8(x + (i + 8) * width, half), q1 = swann_load8(y + (i + 8) * width, half);
        d0 = _mm256_fmadd_ps(p0, q0, d0); d1 = _mm256_fmadd_ps(p1, q1, d1);
        na0 = _mm256_fmadd_ps(p0, p0, na0); na1 = _mm256_fmadd_ps(p1, p1, na1);
        nb0 = _mm256_fmadd_ps(q0, q0, nb0); nb1 = _mm256_fmadd_ps(q1, q1, nb1);
    }
    if (i + 8 <= dimension) {
        __m256 p0 = swann_load8(x + i * width, half), q0 = swann_load8(y + i * width, half);
        d0 = _mm256_fmadd_ps(p0, q0, d0);
        na0 = _mm256_fmadd_ps(p0, p0, na0);
        nb0 = _mm256_fmadd_ps(q0, q0, nb0);
        i += 8;
    }
    swann_dot_and_norms r = {swann_float_sum(_mm256_add_ps(d0, d1)), swann_float_sum(_mm256_add_ps(na0, na1)),
                             swann_float_sum(_mm256_add_ps(nb0, nb1))};
    for (; i < dimension; i++) {
        float p = swann_load1(x, i, half), q = swann_load1(y, i, half);
        r.dot += p * q;
        r.norm_a += p * p;
        r.norm_b += q * q;
    }
    return r;
}

FMA float swann_l2_f32_fma(const void *a, const void *b, long dimension) { return swann_float_kernel(a, b, dimension, 0, 1); }
FMA float swann_dot_f32_fma(const void *a, const void *b, long dimension) { return swann_float_kernel(a, b, dimension, 0, 0); }
FMA float swann_l2_f16_fma(const void *a, const void *b, long dimension) { return swann_float_kernel(a, b, dimension, 1, 1); }
FMA float swann_dot_f16_fma(const void *a, const void *b, long dimension) { return swann_float_kernel(a, b, dimension, 1, 0); }
FMA swann_dot_and_norms swann_dot_and_norms_f32_fma(const void *a, const void *b, long dimension) {
    return swann_float_dot_and_norms(a, b, dimension, 0);
}
FMA swann_dot_and_norms swann_dot_and_norms_f16_fma(const void *a, const void *b, long dimension) {
    return swann_float_dot_and_norms(a, b, dimension, 1);
}

#else
// Not x86-64: the Swift kernels run everywhere.
int swann_cpu_avx2_flag = 0;
uint32_t swann_l2_int8_avx2(const void *a, const void *b, long dimension) { (void)a; (void)b; (void)dimension; return 0; }
uint32_t swann_l2_uint8_avx2(const void *a, const void *b, long dimension) { (void)a; (void)b; (void)dimension; return 0; }
int32_t swann_dot_int8_avx2(const void *a, const void *b, long dimension) { (void)a; (void)b; (void)dimension; return 0; }
int swann_cpu_fma_flag = 0;
int swann_cpu_avx512_popcount_flag = 0;
float swann_l2_f32_fma(const void *a, const void *b, long dimension) { (void)a; (void)b; (void)dimension; return 0; }
float swann_dot_f32_fma(const void *a, const void *b, long dimension) { (void)a; (void)b; (void)dimension; return 0; }
float swann_l2_f16_fma(const void *a, const void *b, long dimension) { (void)a; (void)b; (void)dimension; return 0; }
float swann_dot_f16_fma(const void *a, const void *b, long dimension) { (void)a; (void)b; (void)dimension; return 0; }
swann_dot_and_norms swann_dot_and_norms_f32_fma(const void *a, const void *b, long dimension) {
    (void)a; (void)b; (void)dimension; swann_dot_and_norms r = {0, 0, 0}; return r;
}
swann_dot_and_norms swann_dot_and_norms_f16_fma(const void *a, const void *b, long dimension) {
    (void)a; (void)b; (void)dimension; swann_dot_and_norms r = {0, 0, 0}; return r;
}
#endif

// ---- CRC-32C -------------------------------------------------------------------------------
// No package of the Swift server world computes CRC-32C (swift-nio has none; swift-crypto only
// hashes), and the write-ahead log checks every record with it: the instruction makes that
// ~20 GB/s, far below an fsync's cost.

static uint32_t swann_crc32c_table[256];

__attribute__((constructor)) static void swann_crc32c_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        swann_crc32c_table[i] = c;
    }
}

static uint32_t swann_crc32c_portable(uint32_t crc, const uint8_t *p, long n) {
    for (long i = 0; i < n; i++) crc = swann_crc32c_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return crc;
}

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <string.h>
__attribute__((target("sse4.2"))) static uint32_t swann_crc32c_sse42(uint32_t crc, const uint8_t *p, long n) {
    uint64_t c = crc;
    while (n >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        c = _mm_crc32_u64(c, word);
        p += 8;
        n -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (n > 0) {
        c32 = _mm_crc32_u8(c32, *p++);
        n--;
    }
    return c32;
}
#endif

uint32_t swann_crc32c(uint32_t crc, const void *bytes, long count) {
    crc = ~crc;
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
    if (__builtin_cpu_supports("sse4.2")) return ~swann_crc32c_sse42(crc, (const uint8_t *)bytes, count);
#endif
    return ~swann_crc32c_portable(crc, (const uint8_t *)bytes, count);
}

#if defined(__GLIBC__)
#include <malloc.h>
void swann_release_free_memory(void) { malloc_trim(0); }
#else
void swann_release_free_memory(void) {}
#endif

// ---- RaBitQ: distance estimates from 1-bit codes (Gao & Long, SIGMOD 2024) ----
//
// One entry is `words` little-endian u64 code words (bit i: the sign of rotated component i),
// then three float32 factors A, B, E. The query is `bits` bit planes of its rotated, unsigned
// scalar-quantised components (plane j holds bit j of every component), so the integer dot
// product of the code and the quantised query is Σⱼ 2ʲ popcount(code & planeⱼ): no multiply
// per component. The body is written once and compiled twice, for the baseline (popcount by
// bit tricks) and for the popcnt instruction (x86-64-v2 and up), picked at run time.

#include <string.h>

static inline __attribute__((always_inline)) void swann_rabitq_body(
    const uint8_t *rows, long row_bytes, long count, const uint64_t *planes, long words, long bits,
    swann_rabitq_query q, float base, float margin, float *lower, float *upper) {
    for (long i = 0; i < count; i++) {
        const uint8_t *row = rows + i * row_bytes;
        uint64_t total = 0, ones = 0;
        for (long w = 0; w < words; w++) {
            uint64_t code;
            memcpy(&code, row + w * 8, 8);
            ones += (uint64_t)__builtin_popcountll(code);
            for (long j = 0; j < bits; j++) total += (uint64_t)__builtin_popcountll(code & planes[j * words + w]) << j;
        }
        float factors[3];
        memcpy(factors, row + words * 8, sizeof factors);
        float dot = (2.0f * (q.delta * (float)total + q.low * (float)ones) - q.sum) * q.scale;
        float estimate = base + factors[0] + factors[1] * dot;
        float width = margin * factors[2];
        lower[i] = estimate - width;
        upper[i] = estimate + width;
    }
}

static void swann_rabitq_portable(const uint8_t *rows, long row_bytes, long count, const uint64_t *planes, long words, long bits,
                                  swann_rabitq_query q, float base, float margin, float *lower, float *upper) {
    swann_rabitq_body(rows, row_bytes, count, planes, words, bits, q, base, margin, lower, upper);
}

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
__attribute__((target("popcnt"))) void swann_rabitq_popcnt(const uint8_t *rows, long row_bytes, long count, const uint64_t *planes,
                                                            long words, long bits, swann_rabitq_query q, float base, float margin,
                                                            float *lower, float *upper) {
    swann_rabitq_body(rows, row_bytes, count, planes, words, bits, q, base, margin, lower, upper);
}
#endif

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
// AVX-512 with VPOPCNTDQ (Ice Lake, Zen 4 and later): eight code words per register, so a
// 512-dimension code is one load, and each query plane one AND and one vpopcntq.
#define AVX512POPCNT __attribute__((target("avx512f,avx512vpopcntdq")))
AVX512POPCNT void swann_rabitq_avx512(const uint8_t *rows, long row_bytes, long count, const uint64_t *planes, long words, long bits,
                                      swann_rabitq_query q, float base, float margin, float *lower, float *upper) {
    for (long i = 0; i < count; i++) {
        const uint8_t *row = rows + i * row_bytes;
        __m512i total = _mm512_setzero_si512(), ones = _mm512_setzero_si512();
        for (long w = 0; w < words; w += 8) {
            __mmask8 lanes = words - w >= 8 ? (__mmask8)0xff : (__mmask8)((1u << (words - w)) - 1);
            __m512i code = _mm512_maskz_loadu_epi64(lanes, row + w * 8);
            ones = _mm512_add_epi64(ones, _mm512_popcnt_epi64(code));
            for (long j = 0; j < bits; j++) {
                __m512i plane = _mm512_maskz_loadu_epi64(lanes, planes + j * words + w);
                __m512i counts = _mm512_popcnt_epi64(_mm512_and_si512(code, plane));
                total = _mm512_add_epi64(total, _mm512_slli_epi64(counts, (unsigned)j));
            }
        }
        float factors[3];
        memcpy(factors, row + words * 8, sizeof factors);
        float dot = (2.0f * (q.delta * (float)_mm512_reduce_add_epi64(total) + q.low * (float)_mm512_reduce_add_epi64(ones)) - q.sum) * q.scale;
        float estimate = base + factors[0] + factors[1] * dot;
        float width = margin * factors[2];
        lower[i] = estimate - width;
        upper[i] = estimate + width;
    }
}
#endif

void swann_rabitq_bounds(const void *rows, long row_bytes, long count, const uint64_t *planes, long words, long bits,
                         swann_rabitq_query query, float base, float margin, float *lower, float *upper) {
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
    if (swann_cpu_avx512_popcount_flag) {
        swann_rabitq_avx512((const uint8_t *)rows, row_bytes, count, planes, words, bits, query, base, margin, lower, upper);
        return;
    }
    if (__builtin_cpu_supports("popcnt")) {
        swann_rabitq_popcnt((const uint8_t *)rows, row_bytes, count, planes, words, bits, query, base, margin, lower, upper);
        return;
    }
#endif
    swann_rabitq_portable((const uint8_t *)rows, row_bytes, count, planes, words, bits, query, base, margin, lower, upper);
}
