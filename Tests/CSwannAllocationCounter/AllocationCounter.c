// Counts heap allocations per thread, for the test that proves a warm query allocates nothing.
//
// glibc removed `__malloc_hook` in 2.34; the supported way to observe allocations is to define
// the allocation functions in the executable (the dynamic linker binds every library's calls to
// them) and forward to glibc's own entry points, `__libc_malloc` and friends. ordo-one/benchmark's
// malloc counter needs jemalloc, which is not in a default install.
#include "CSwannAllocationCounter.h"

#include <errno.h>  // also defines __GLIBC__
#include <stddef.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define SWANN_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SWANN_SANITIZED 1
#endif

#if defined(__linux__) && defined(__GLIBC__) && !defined(SWANN_SANITIZED)

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *pointer, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);

static __thread unsigned long long allocations;

void *malloc(size_t size) {
    allocations++;
    return __libc_malloc(size);
}

void *calloc(size_t count, size_t size) {
    allocations++;
    return __libc_calloc(count, size);
}

void *realloc(void *pointer, size_t size) {
    allocations++;
    return __libc_realloc(pointer, size);
}

void *memalign(size_t alignment, size_t size) {
    allocations++;
    return __libc_memalign(alignment, size);
}

void *aligned_alloc(size_t alignment, size_t size) {
    allocations++;
    return __libc_memalign(alignment, size);
}

int posix_memalign(void **result, size_t alignment, size_t size) {
    if (alignment % sizeof(void *) != 0 || (alignment & (alignment - 1)) != 0) return EINVAL;
    allocations++;
    void *pointer = __libc_memalign(alignment, size);
    if (pointer == NULL) return ENOMEM;
    *result = pointer;
    return 0;
}

unsigned long long swann_thread_allocations(void) { return allocations; }
int swann_allocation_counting_available(void) { return 1; }
#else
unsigned long long swann_thread_allocations(void) { return 0; }
int swann_allocation_counting_available(void) { return 0; }
#endif
