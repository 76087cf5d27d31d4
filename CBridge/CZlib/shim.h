#ifndef AGORA_CZLIB_SHIM_H
#define AGORA_CZLIB_SHIM_H
// zlib (found through `pkg-config zlib`), for gzip-compressed IDX and CSV data files.
#include <zlib.h>

// inflateInit2 is a function-like macro Swift cannot import. 15 + 32: maximal window, and
// automatic detection of a gzip or zlib header.
static inline int agora_inflate_init_auto(z_streamp stream) {
    return inflateInit2(stream, 15 + 32);
}
#endif
