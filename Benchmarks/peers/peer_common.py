"""Helpers shared by the benchmark peers (imported from the scripts' own folder)."""
import numpy as np


def ell_from_csr(rs, cols, vals, n):
    """CSR (row starts, columns, values) of an n x n matrix as padded neighbour lists (ELL):
    idx [n, k] and weights [n, k] with k the largest degree, padding pointing at row 0 with
    weight 0, as a researcher writes a gather-based mix without a sparse library."""
    deg = np.diff(rs)
    k = int(deg.max())
    idx = np.zeros((n, k), dtype=np.int64)
    wpad = np.zeros((n, k), dtype=np.float32)
    for i in range(n):
        idx[i, : deg[i]] = cols[rs[i]: rs[i + 1]]
        wpad[i, : deg[i]] = vals[rs[i]: rs[i + 1]]
    return idx, wpad
