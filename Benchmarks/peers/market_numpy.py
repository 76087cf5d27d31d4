"""Peer for one iPFL market step (distances + graph + payments + prox centres), written with numpy
as a researcher would (vectorised wherever numpy allows), on the inputs AgoraBench writes:
  python3 market_numpy.py DIR CLIENTS PARAMS LAMBDA ETA REPS
DIR: theta.f32 [m, P] uploaded models, origin.f32 [P], econ.f64 [m, 3] rows (N, c, K).
Writes imports.i8 [m, m] (a_ij), net.f64 [m] net payments and centres.f32 [m, P]; prints JSON.

Thresholds use the same exact solve as Agora (Newton on the quartic in delta = sqrt(x) -
sqrt(x - N), from an upper bound), vectorised over all pairs; the reference code's per-pair scipy
fsolve would be far slower and is wrong in about a quarter of cases.
"""
import json
import sys
import time

import numpy as np


def thresholds(k, n, w):
    """x > N with sqrt(K/(x-N)) - sqrt(K/x) = w, elementwise; +inf where w <= 0."""
    s = np.sqrt(k)
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = np.minimum(np.sqrt(n), np.cbrt(w * n * n / (4 * s)))
        for _ in range(100):
            d2 = delta * delta
            h = w * d2 * d2 + 4 * s * d2 * delta - w * n * n
            dh = 4 * w * d2 * delta + 12 * s * d2
            nxt = delta - h / dh
            done = ~(nxt < delta) | (nxt <= 0)
            delta = np.where(done, delta, nxt)
            if done.all():
                break
        d2 = delta * delta
        a = 2 * s * d2 / (w * (n + d2))
        x = a * a + n
    return np.where(w > 0, x, np.inf)


def marginal(k, before, added):
    sb, sa = np.sqrt(before), np.sqrt(before + added)
    return np.sqrt(k) * added / (sb * sa * (sb + sa))


def step(theta, origin, N, c, K, lam, eta):
    m = theta.shape[0]
    U = theta - origin
    G = U @ U.T
    nrm = np.sqrt(np.maximum(np.diag(G), 0))
    with np.errstate(divide="ignore", invalid="ignore"):
        cos = G / np.outer(nrm, nrm)
    cos = np.clip(np.nan_to_num(cos), -1, 1)
    np.fill_diagonal(cos, 1)
    D = 1 - cos.astype(np.float64)
    np.fill_diagonal(D, 0)
    # Prices and thresholds for every pair (importer i = row, exporter j = column).
    W = c[None, :] + lam * (N[None, :] / N[:, None]) * D
    TH = thresholds(K[:, None], N[None, :], W)
    A = np.zeros((m, m), dtype=np.int8)
    net = np.zeros(m)
    idx = np.arange(m)
    for i in range(m):
        if K[i] <= 0:
            continue
        th = TH[i].copy()
        th[i] = -np.inf
        order = np.lexsort((idx, -th))          # descending threshold, ties by index
        n = N[i]
        bought = []
        for j in order:
            if j == i or not (n + N[j] < th[j]):
                break
            bought.append(j)
            n += N[j]
        if bought:
            b = np.array(bought)
            A[i, b] = 1
            r = marginal(K[i], n - N[b], N[b]) - lam * (N[b] / N[i]) * D[i, b]
            net[i] += r.sum()
            np.subtract.at(net, b, r)
    # Prox centres: theta_i + (eta/|u_i|) sum_j w_ij (uhat_j - cos_ij uhat_i), w_ij = a_ij N_j/N_i.
    Wt = A * (N[None, :] / N[:, None])
    with np.errstate(divide="ignore", invalid="ignore"):
        Uhat = U / nrm[:, None]
        Uhat = np.nan_to_num(Uhat)
        mix = Wt.astype(np.float32) @ Uhat - (Wt * cos).sum(1).astype(np.float32)[:, None] * Uhat
        scale = np.where(nrm > 0, eta / nrm, 0).astype(np.float32)
    centres = theta + scale[:, None] * mix
    return A, net, centres


def main():
    d_ = sys.argv[1]
    m, p = int(sys.argv[2]), int(sys.argv[3])
    lam, eta, reps = float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
    theta = np.fromfile(f"{d_}/theta.f32", dtype=np.float32).reshape(m, p)
    origin = np.fromfile(f"{d_}/origin.f32", dtype=np.float32)
    econ = np.fromfile(f"{d_}/econ.f64", dtype=np.float64).reshape(m, 3)
    N, c, K = econ[:, 0].copy(), econ[:, 1].copy(), econ[:, 2].copy()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        A, net, centres = step(theta, origin, N, c, K, lam, eta)
        times.append(time.perf_counter() - t0)
    A.tofile(f"{d_}/imports.i8")
    net.tofile(f"{d_}/net.f64")
    np.asarray(centres, dtype=np.float32).tofile(f"{d_}/centres.f32")
    times.sort()
    print(json.dumps({"seconds": times[len(times) // 2], "edges": int(A.sum())}))


if __name__ == "__main__":
    main()
