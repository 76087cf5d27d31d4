"""Peer for the batched logistic-regression gradient: the same computation as Agora's
Kernels.glmGradients on identical inputs, written with numpy as a researcher would (einsum over an
[agents, batch, features] view). Usage:
  python3 glm_numpy.py DIR AGENTS BATCH FEATURES L2 REPS
DIR holds x.f32 [agents*batch, features], y.f32 [agents*batch] (+-1), theta.f32 [agents, features].
Writes DIR/grad_numpy.f32 and prints {"seconds": median, ...} as JSON.
"""
import json
import sys
import time

import numpy as np


def main():
    d_, a, b, d, l2, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
    x = np.fromfile(f"{d_}/x.f32", dtype=np.float32).reshape(a, b, d)
    y = np.fromfile(f"{d_}/y.f32", dtype=np.float32).reshape(a, b)
    th = np.fromfile(f"{d_}/theta.f32", dtype=np.float32).reshape(a, d)

    def step():
        z = np.einsum("abd,ad->ab", x, th)
        s = -y / (1.0 + np.exp(y * z))          # l'(z) = -y sigma(-y z)
        return np.einsum("ab,abd->ad", s, x) / b + l2 * th

    g = step()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        g = step()
        times.append(time.perf_counter() - t0)
    g.astype(np.float32).tofile(f"{d_}/grad_numpy.f32")
    times.sort()
    print(json.dumps({"seconds": times[len(times) // 2], "numpy": np.__version__}))


if __name__ == "__main__":
    main()
