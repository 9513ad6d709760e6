// renameat2(RENAME_EXCHANGE): swaps two directory entries in one step, so `swann build --force`
// replaces an index without a moment where neither the old nor the new one is under its name.
// glibc declares renameat2 only under _GNU_SOURCE, which Swift's Glibc module does not set, and
// Swift cannot call the variadic syscall(2); hence this shim. Elsewhere it reports ENOSYS and
// the caller falls back to two renames.
#ifndef CSWANN_RENAME_EXCHANGE_H
#define CSWANN_RENAME_EXCHANGE_H

#include <errno.h>

#if defined(__linux__)
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

/// Atomically exchanges `from` and `to` (both must exist); 0 or -errno.
static inline int swann_rename_exchange(const char *from, const char *to) {
    return syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, RENAME_EXCHANGE) < 0 ? -errno : 0;
}
#else
static inline int swann_rename_exchange(const char *from, const char *to) {
    (void)from;
    (void)to;
    return -ENOSYS;
}
#endif

#endif
