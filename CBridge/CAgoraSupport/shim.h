#ifndef AGORA_SUPPORT_SHIM_H
#define AGORA_SUPPORT_SHIM_H
// Small compiler intrinsics Swift cannot spell, as static inline functions (inlined into the
// Swift callers in optimised builds). No library is linked.

// Hint that the cache line holding p will be read soon (kept in all cache levels).
static inline void agora_prefetch_read(const void *p) {
    __builtin_prefetch(p, 0, 3);
}

// Non-temporal (streaming) stores of 16 elements read from src (any alignment) to dst, which must
// be 16-byte aligned: the line goes to memory without first being read for ownership, so a
// kernel that writes an output far larger than the caches moves 2 streams instead of 3.
static inline void agora_stream_f32x16(float *dst, const float *src) {
    typedef float v4 __attribute__((vector_size(16)));
    for (int k = 0; k < 4; k++) {
        v4 v;
        __builtin_memcpy(&v, src + 4 * k, sizeof v);
        __builtin_nontemporal_store(v, (v4 *)(dst + 4 * k));
    }
}

static inline void agora_stream_f64x16(double *dst, const double *src) {
    typedef double v2 __attribute__((vector_size(16)));
    for (int k = 0; k < 8; k++) {
        v2 v;
        __builtin_memcpy(&v, src + 2 * k, sizeof v);
        __builtin_nontemporal_store(v, (v2 *)(dst + 2 * k));
    }
}

// Orders streaming stores before what follows (they are weakly ordered on x86): called by each
// thread before it reports its part of a parallel region done.
static inline void agora_store_fence(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_sfence();
#else
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}
// Two Linux (GNU) services that Swift's Glibc module does not expose (it is built without
// _GNU_SOURCE), declared here with their ABI types so that no system header is needed.
#if defined(__linux__)
#include <stddef.h>
extern int sched_getaffinity(int pid, size_t cpusetsize, void *mask);
extern int prctl(int option, ...);

// Processors in this process's CPU affinity mask (0 when it cannot be read).
static inline int agora_affinity_cpu_count(void) {
    unsigned long mask[64];  // 4096 CPUs
    if (sched_getaffinity(0, sizeof mask, mask) != 0) return 0;
    int n = 0;
    for (int k = 0; k < 64; k++) n += __builtin_popcountl(mask[k]);
    return n;
}

// Names the calling thread (at most 15 characters are kept), as shown by top and debuggers.
static inline void agora_name_this_thread(const char *name) {
    prctl(15 /* PR_SET_NAME */, name, 0, 0, 0);
}
#else
static inline int agora_affinity_cpu_count(void) { return 0; }
static inline void agora_name_this_thread(const char *name) { (void)name; }
#endif
/* Flushes standard output; 0 when everything written so far arrived, else -1. A program calls it
 * before exiting so that a full disk or /dev/full behind its output is an error, not exit 0 with
 * the output lost (Swift 6 cannot name the C `stdout` variable itself). */
#include <stdio.h>
static inline int agora_flush_stdout(void) {
    return (fflush(stdout) != 0 || ferror(stdout) != 0) ? -1 : 0;
}

#endif

