#include "omp_shim.h"
#include <omp.h>
#include <stdio.h>

void shim_ring_rows(const float *x, float *y, long n, long d, long lo, long hi) {
    for (long i = lo; i < hi; i++) {
        const float *a = x + ((i + n - 1) % n) * d, *b = x + i * d, *c = x + ((i + 1) % n) * d;
        float *o = y + i * d;
        for (long k = 0; k < d; k++) o[k] = (a[k] + b[k] + c[k]) * (1.0f / 3.0f);
    }
}

void shim_omp_ring(const float *x, float *y, long n, long d, int threads) {
    #pragma omp parallel num_threads(threads)
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        long lo = n * t / nt, hi = n * (t + 1) / nt;
        shim_ring_rows(x, y, n, d, lo, hi);
    }
}

void shim_omp_empty(int threads) {
    #pragma omp parallel num_threads(threads)
    { __asm__ volatile("" ::: "memory"); }
}

const char *shim_omp_version(void) {
    static char buf[64];
    snprintf(buf, sizeof buf, "OpenMP %d (libomp)", _OPENMP);
    return buf;
}
