"""Peer for the contract benchmark: the first-moment program solved with scipy's trust-constr,
as a researcher would write it (variables m and t, the binding IR/IC as equalities, the budget
and remaining IR as inequalities, exact enumeration of Multinomial outcomes with numpy).

Usage: python3 contract_scipy.py s1|s2|s3|large
Prints one JSON object: scenario, seconds, objective E[v(a)], m, t, iterations.
"""
import json
import sys
import time
from itertools import combinations_with_replacement

import numpy as np
from scipy.optimize import minimize, NonlinearConstraint, LinearConstraint, brentq
from scipy.special import gammaln

SCENARIOS = {
    "s1": (10, [0.2] * 5, [0.2, 0.16, 0.12, 0.08, 0.04]),
    "s2": (10, [0.2] * 5, [1, 0.85, 0.7, 0.55, 0.4]),
    "s3": (10, [0.2] * 5, [0.5, 0.4, 0.03, 0.02, 0.001]),
    "large": (20, [0.125] * 8, [0.8, 0.6, 0.4, 0.2, 0.1, 0.05, 0.02, 0.01]),
}


def acc(x, k=1.0):
    x = np.asarray(x, dtype=float)
    out = np.zeros_like(x)
    ok = x > k * np.exp(-2)
    s = np.sqrt(2 * k * (2 + np.log(x[ok] / k)))
    out[ok] = np.maximum(0.0, 1 - (s + 4) / np.sqrt(x[ok]))
    return out


def dacc(x, k=1.0):
    x = np.asarray(x, dtype=float)
    out = np.zeros_like(x)
    a = acc(x, k)
    ok = a > 0
    s = np.sqrt(2 * k * (2 + np.log(x[ok] / k)))
    out[ok] = ((s + 4) / 2 - k / s) * x[ok] ** -1.5
    return out


def reservation(c):
    # Stand-alone optimum by the first-order condition on the concave branch.
    v = lambda m: 100 * acc(m)[()]
    g = lambda m: 100 * dacc(m)[()] - c
    grid = np.exp(np.linspace(np.log(60), np.log(1e9), 2000))
    vals = 100 * dacc(grid) - c
    idx = np.where((vals[:-1] > 0) & (vals[1:] <= 0))[0]
    if len(idx) == 0:
        return 0.0
    m = brentq(g, grid[idx[0]], grid[idx[0] + 1], xtol=1e-12)
    return max(0.0, v(m) - c * m)


def main():
    name = sys.argv[1] if len(sys.argv) > 1 else "s3"
    N, p, c = SCENARIOS[name]
    p = np.array(p)
    c = np.array(c)
    I = len(c)
    t0 = time.perf_counter()
    f = np.array([reservation(ci) for ci in c])
    outs = []
    for comb in combinations_with_replacement(range(I), N):
        outs.append(np.bincount(comb, minlength=I))
    n = np.array(outs, dtype=float)
    logp = gammaln(N + 1) - gammaln(n + 1).sum(1) + (n * np.log(p)).sum(1)
    P = np.exp(logp)
    Q = np.where(n >= 1, P[:, None], 0.0) / (1 - (1 - p) ** N)

    def obj(z):
        return -P @ (100 * acc(n @ z[:I]))

    def obj_grad(z):
        g = np.zeros(2 * I)
        g[:I] = -(P * 100 * dacc(n @ z[:I])) @ n
        return g

    def budget(z):
        va = 100 * acc(n @ z[:I])
        return z[I:] - Q.T @ va

    def budget_jac(z):
        d = 100 * dacc(n @ z[:I])
        J = np.zeros((I, 2 * I))
        J[:, :I] = -(Q * d[:, None]).T @ n
        J[:, I:] = np.eye(I)
        return J

    # Equalities: t1 - c1 m1 = f1; t_{i+1} - c_{i+1} m_{i+1} - t_i + c_{i+1} m_i = 0.
    A = np.zeros((I, 2 * I)); lb = np.zeros(I); ub = np.zeros(I)
    A[0, 0] = -c[0]; A[0, I] = 1; lb[0] = ub[0] = f[0]
    for i in range(I - 1):
        A[i + 1, I + i + 1] = 1; A[i + 1, i + 1] = -c[i + 1]; A[i + 1, I + i] = -1; A[i + 1, i] = c[i + 1]
    # IR for i >= 2 and monotone m.
    B = np.zeros((2 * (I - 1), 2 * I)); blb = np.zeros(2 * (I - 1)); bub = np.full(2 * (I - 1), np.inf)
    for i in range(1, I):
        B[i - 1, I + i] = 1; B[i - 1, i] = -c[i]; blb[i - 1] = f[i]
    for i in range(I - 1):
        B[I - 1 + i, i + 1] = 1; B[I - 1 + i, i] = -1
    cons = [LinearConstraint(A, lb, ub), LinearConstraint(B, blb, bub),
            NonlinearConstraint(budget, -np.inf, 0.0, jac=budget_jac)]
    m0 = np.full(I, 300.0) * (1 + 0.01 * np.arange(I))
    z0 = np.concatenate([m0, f + c * m0])
    bounds = [(0, None)] * (2 * I)
    res = minimize(obj, z0, jac=obj_grad, method="trust-constr", constraints=cons, bounds=bounds,
                   options={"maxiter": 5000, "gtol": 1e-10, "xtol": 1e-12})
    secs = time.perf_counter() - t0
    print(json.dumps({"scenario": name, "seconds": secs, "objective": float(-res.fun),
                      "m": res.x[:I].tolist(), "t": res.x[I:].tolist(), "iterations": int(res.nit),
                      "constraint_violation": float(res.constr_violation)}))


if __name__ == "__main__":
    main()
