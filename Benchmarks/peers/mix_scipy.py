"""Peer for one sparse neighbour mix Y = W X, on the inputs AgoraBench writes:
  python3 mix_scipy.py DIR AGENTS DIM REPS
DIR: x.f32 [n, d], rowstart.i64 [n + 1], cols.i32 [nnz], vals.f32 [nnz] (W in CSR).
Times scipy.sparse (CSR @ dense) and a numpy version as a researcher writes it without scipy
(neighbour lists padded to the largest degree, one gather and a weighted sum). Writes y_scipy.f32
and y_numpy.f32; prints JSON with the median seconds of each.
"""
import json
import sys
import time

import numpy as np
import scipy.sparse as sp
from peer_common import ell_from_csr


def median_time(f, reps):
    f()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t0)
    ts.sort()
    return ts[len(ts) // 2]


def main():
    d_ = sys.argv[1]
    n, d, reps = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    x = np.fromfile(f"{d_}/x.f32", dtype=np.float32).reshape(n, d)
    rs = np.fromfile(f"{d_}/rowstart.i64", dtype=np.int64)
    cols = np.fromfile(f"{d_}/cols.i32", dtype=np.int32)
    vals = np.fromfile(f"{d_}/vals.f32", dtype=np.float32)
    W = sp.csr_matrix((vals, cols, rs), shape=(n, n))
    idx, wpad = ell_from_csr(rs, cols, vals, n)
    out = {}
    ys = W @ x
    yn = np.einsum("nk,nkd->nd", wpad, x[idx])
    out["scipy_seconds"] = median_time(lambda: W @ x, reps)
    out["numpy_seconds"] = median_time(lambda: np.einsum("nk,nkd->nd", wpad, x[idx]), reps)
    np.asarray(ys, dtype=np.float32).tofile(f"{d_}/y_scipy.f32")
    np.asarray(yn, dtype=np.float32).tofile(f"{d_}/y_numpy.f32")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
