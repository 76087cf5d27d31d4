#ifndef AGORA_OMP_SHIM_H
#define AGORA_OMP_SHIM_H
#include <stddef.h>

/// y_i = (x_{i-1} + x_i + x_{i+1}) / 3 over rows [lo, hi) of an n x d matrix (ring neighbours):
/// the work both runtimes run.
void shim_ring_rows(const float *x, float *y, long n, long d, long lo, long hi);
/// The same over all rows in one `#pragma omp parallel for schedule(static)` region.
void shim_omp_ring(const float *x, float *y, long n, long d, int threads);
/// An empty `#pragma omp parallel` region (fork/join cost).
void shim_omp_empty(int threads);
/// The OpenMP runtime's name and version for the report.
const char *shim_omp_version(void);
#endif
