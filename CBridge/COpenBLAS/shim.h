#ifndef AGORA_COPENBLAS_SHIM_H
#define AGORA_COPENBLAS_SHIM_H
// OpenBLAS's CBLAS interface (found through `pkg-config openblas`; Debian ships no cblas.pc).
#include <cblas.h>
#include <stddef.h>

// Debian's OpenBLAS exports LAPACK's Fortran symbols but ships no LAPACKE header, so the one
// LAPACK routine Agora needs is declared here. gfortran passes the length of each CHARACTER
// argument as a hidden trailing size_t; they are declared explicitly so the call is ABI-correct.
void ssyev_(const char *jobz, const char *uplo, const int *n, float *a, const int *lda, float *w,
            float *work, const int *lwork, int *info, size_t jobz_len, size_t uplo_len);
void dsyev_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
            double *work, const int *lwork, int *info, size_t jobz_len, size_t uplo_len);

#endif
