"""Peer for one truthful-DSGD iteration (batched logistic gradients + neighbour mixing + payments),
written with numpy/scipy as a researcher would, on the inputs AgoraBench writes:
  python3 dsgd_numpy.py DIR AGENTS ROWS_PER_AGENT BATCH FEATURES LR C L2 REPS
DIR: x.f32 [agents*rows, d], y.f32 (+-1), theta.f32 [agents, d], batch.i32 [agents, batch] (row
indices), w.f64 [agents, agents] mixing matrix. Writes next.f32 and pay.f64; prints JSON.
"""
import json
import sys
import time

import numpy as np
import scipy.sparse as sp


def main():
    d_ = sys.argv[1]
    a, r, b, d = (int(v) for v in sys.argv[2:6])
    lr, c, l2, reps = float(sys.argv[6]), float(sys.argv[7]), float(sys.argv[8]), int(sys.argv[9])
    x = np.fromfile(f"{d_}/x.f32", dtype=np.float32).reshape(a * r, d)
    y = np.fromfile(f"{d_}/y.f32", dtype=np.float32)
    th = np.fromfile(f"{d_}/theta.f32", dtype=np.float32).reshape(a, d)
    idx = np.fromfile(f"{d_}/batch.i32", dtype=np.int32).reshape(a, b)
    wd = np.fromfile(f"{d_}/w.f64", dtype=np.float64).reshape(a, a)
    W = sp.csr_matrix(wd.astype(np.float32))
    adj = sp.csr_matrix((wd > 0) & ~np.eye(a, dtype=bool), dtype=np.float64)
    deg = np.asarray(adj.sum(1)).ravel()

    def iteration():
        xb = x[idx]                                   # [a, b, d] gather
        yb = y[idx]
        z = np.einsum("abd,ad->ab", xb, th)
        s = -yb / (1.0 + np.exp(yb * z))
        g = np.einsum("ab,abd->ad", s, xb) / b + l2 * th
        nxt = W @ th - lr * g
        norms = (g.astype(np.float64) ** 2).sum(1)
        pay = c * (deg * norms - adj @ norms)
        return nxt, pay

    nxt, pay = iteration()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        nxt, pay = iteration()
        times.append(time.perf_counter() - t0)
    np.asarray(nxt, dtype=np.float32).tofile(f"{d_}/next.f32")
    pay.tofile(f"{d_}/pay.f64")
    times.sort()
    print(json.dumps({"seconds": times[len(times) // 2]}))


if __name__ == "__main__":
    main()
