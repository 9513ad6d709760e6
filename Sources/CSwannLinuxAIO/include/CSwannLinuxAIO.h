// Linux kernel AIO (io_setup/io_submit/io_getevents) for O_DIRECT reads: several posting lists
// in flight from one thread without helper threads. glibc has no wrappers for these system
// calls and Swift cannot call the variadic syscall(2), hence these few lines of C. Header-only:
// the functions compile into the calling Swift module. Elsewhere every call reports ENOSYS and
// callers read one request at a time.
#ifndef CSWANN_LINUX_AIO_H
#define CSWANN_LINUX_AIO_H

#include <errno.h>
#include <stdint.h>
#include <string.h>

#if defined(__linux__)
#include <fcntl.h>
/// O_DIRECT from the C library's own headers: its value differs between architectures, and
/// glibc defines the public name only under _GNU_SOURCE (which Swift's Glibc module does not
/// set), but always defines `__O_DIRECT`.
static inline int swann_o_direct(void) {
#if defined(O_DIRECT)
    return O_DIRECT;
#else
    return __O_DIRECT;
#endif
}
#else
static inline int swann_o_direct(void) { return 0; }
#endif

#if defined(__linux__)
#include <linux/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
/// The alignment O_DIRECT needs on `descriptor` (the larger of the file-offset and the
/// memory-buffer alignment: most devices take 512-byte sectors, so a 1,536-byte row is read as
/// 1,536 bytes rather than a 4 KiB page), from statx's STATX_DIOALIGN (Linux 6.1); 0 where the
/// kernel or the file system does not say. Through syscall(2) because glibc's statx wrapper and
/// its struct predate the field in older C libraries.
static inline long swann_direct_io_alignment(int descriptor) {
#if defined(SYS_statx) && defined(STATX_DIOALIGN)
    struct statx info;
    memset(&info, 0, sizeof info);
    if (syscall(SYS_statx, descriptor, "", 0x1000 /* AT_EMPTY_PATH */, STATX_DIOALIGN, &info) != 0) return 0;
    if (!(info.stx_mask & STATX_DIOALIGN) || info.stx_dio_offset_align == 0) return 0;
    return info.stx_dio_offset_align > info.stx_dio_mem_align ? info.stx_dio_offset_align : info.stx_dio_mem_align;
#else
    (void)descriptor;
    return 0;
#endif
}
#else
static inline long swann_direct_io_alignment(int descriptor) { (void)descriptor; return 0; }
#endif

#include "CSwannRenameExchange.h"

#if defined(__linux__)
#include <linux/aio_abi.h>
#include <sys/syscall.h>
#include <unistd.h>

typedef aio_context_t swann_aio_context;
typedef struct iocb swann_aio_request;
typedef struct io_event swann_aio_event;

/// Creates a context for up to `depth` reads in flight; 0 or -errno.
static inline long swann_aio_setup(unsigned depth, swann_aio_context *context) {
    *context = 0;
    return syscall(SYS_io_setup, depth, context) < 0 ? -errno : 0;
}

static inline void swann_aio_destroy(swann_aio_context context) { syscall(SYS_io_destroy, context); }

/// Fills `request` for a read of `bytes` at `offset` of `descriptor` into `buffer`; `tag` comes
/// back in the completion event.
static inline void swann_aio_prepare_read(
    swann_aio_request *request, int descriptor, void *buffer, uint64_t bytes, int64_t offset, uint64_t tag) {
    memset(request, 0, sizeof *request);
    request->aio_fildes = (uint32_t)descriptor;
    request->aio_lio_opcode = IOCB_CMD_PREAD;
    request->aio_buf = (uint64_t)(uintptr_t)buffer;
    request->aio_nbytes = bytes;
    request->aio_offset = offset;
    request->aio_data = tag;
}

/// Submits `count` requests; returns how many were accepted, or -errno.
static inline long swann_aio_submit(swann_aio_context context, long count, swann_aio_request **requests) {
    long accepted = syscall(SYS_io_submit, context, count, requests);
    return accepted < 0 ? -errno : accepted;
}

/// Waits for at least `minimum` completions (up to `maximum`); returns how many, or -errno.
static inline long swann_aio_wait(swann_aio_context context, long minimum, long maximum, swann_aio_event *events) {
    long got;
    do { got = syscall(SYS_io_getevents, context, minimum, maximum, events, NULL); } while (got < 0 && errno == EINTR);
    return got < 0 ? -errno : got;
}

static inline uint64_t swann_aio_request_tag(const swann_aio_request *request) { return request->aio_data; }
static inline uint64_t swann_aio_event_tag(const swann_aio_event *event) { return event->data; }
static inline int64_t swann_aio_event_result(const swann_aio_event *event) { return event->res; }

#else
typedef unsigned long swann_aio_context;
typedef struct { int unused; } swann_aio_request;
typedef struct { int unused; } swann_aio_event;

static inline long swann_aio_setup(unsigned depth, swann_aio_context *context) { (void)depth; *context = 0; return -ENOSYS; }
static inline void swann_aio_destroy(swann_aio_context context) { (void)context; }
static inline void swann_aio_prepare_read(
    swann_aio_request *request, int descriptor, void *buffer, uint64_t bytes, int64_t offset, uint64_t tag) {
    (void)request; (void)descriptor; (void)buffer; (void)bytes; (void)offset; (void)tag;
}
static inline long swann_aio_submit(swann_aio_context context, long count, swann_aio_request **requests) {
    (void)context; (void)count; (void)requests; return -ENOSYS;
}
static inline long swann_aio_wait(swann_aio_context context, long minimum, long maximum, swann_aio_event *events) {
    (void)context; (void)minimum; (void)maximum; (void)events; return -ENOSYS;
}
static inline uint64_t swann_aio_request_tag(const swann_aio_request *request) { (void)request; return 0; }
static inline uint64_t swann_aio_event_tag(const swann_aio_event *event) { (void)event; return 0; }
static inline int64_t swann_aio_event_result(const swann_aio_event *event) { (void)event; return -ENOSYS; }
#endif

#endif
