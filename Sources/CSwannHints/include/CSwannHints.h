// Cache hints that Swift has no spelling for. Header-only: the static inline functions are
// compiled into the calling Swift module and inline like Swift code.
#ifndef CSWANN_HINTS_H
#define CSWANN_HINTS_H

/// Asks the CPU to start loading the cache line at `address` for a read soon
/// (hnswlib's `_mm_prefetch(…, _MM_HINT_T0)`). A no-op where the compiler has no prefetch.
static inline __attribute__((always_inline)) void swann_prefetch(const void *address) {
#if defined(__GNUC__) || defined(__clang__)
    __builtin_prefetch(address, 0, 3);
#else
    (void)address;
#endif
}

#endif
