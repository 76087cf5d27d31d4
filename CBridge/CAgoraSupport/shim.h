#ifndef AGORA_SUPPORT_SHIM_H
#define AGORA_SUPPORT_SHIM_H
// Small compiler intrinsics Swift cannot spell, as static inline functions (inlined into the
// Swift callers in optimised builds). No library is linked.

// Hint that the cache line holding p will be read soon (kept in all cache levels).
static inline void agora_prefetch_read(const void *p) {
    __builtin_prefetch(p, 0, 3);
}
#endif
