#ifndef CSWANN_ALLOCATION_COUNTER_H
#define CSWANN_ALLOCATION_COUNTER_H

/// Heap allocations (malloc, calloc, realloc, aligned allocations) made by the calling thread
/// since it started. Counted by this target's definitions of the allocation functions, which
/// take precedence over the C library's in the test executable and forward to glibc.
unsigned long long swann_thread_allocations(void);

/// 1 where allocations are counted (Linux with glibc, no sanitizer: a sanitizer brings its own
/// allocator, which these definitions must not replace), else 0.
int swann_allocation_counting_available(void);

#endif
