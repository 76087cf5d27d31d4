"""JAX (jit) peers for AgoraBench, on the same input folders as the numpy/scipy peers:
  python3 jax_peers.py glm    DIR AGENTS BATCH FEATURES L2 REPS
  python3 jax_peers.py dsgd   DIR AGENTS ROWS_PER_AGENT BATCH FEATURES LR C L2 REPS
  python3 jax_peers.py mix    DIR AGENTS DIM REPS
  python3 jax_peers.py market DIR CLIENTS PARAMS LAMBDA ETA REPS
  python3 jax_peers.py cnn    DIR CLIENTS BATCH CHANNELS SIZE CLASSES LR MOMENTUM WD REPS
Inputs are described in glm_numpy.py, dsgd_numpy.py, mix_scipy.py and market_numpy.py. Each kernel
is written as a researcher who picks JAX for speed would write it: one jax.jit function, vmap or
einsum for the batched algebra, everything on device arrays, timed after compilation with
block_until_ready (median of REPS). Outputs carry the suffix _jax (grad_jax.f32, next_jax.f32 and
pay_jax.f64, y_jax.f32, imports_jax.i8 / net_jax.f64 / centres_jax.f32). Prints one JSON line;
{"skipped": reason} when jax is not importable (the benchmark then reports the peer as skipped).

Float64 is enabled only for the quantities Agora computes in double precision (payments, the
market's distances, thresholds and prices); parameters, features and gradients stay float32.
"""
import json
import sys
import time

import numpy as np
from peer_common import ell_from_csr

try:
    import jax
    import jax.numpy as jnp
    from jax.experimental import sparse as jsparse

    jax.config.update("jax_enable_x64", True)
except Exception as e:  # noqa: BLE001 - any import failure means "no JAX here"
    print(json.dumps({"skipped": f"jax not importable: {e}"}))
    sys.exit(0)


def median_time(f, reps):
    """Median wall time of f() after one warm-up call (which compiles)."""
    jax.block_until_ready(f())
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        jax.block_until_ready(f())
        ts.append(time.perf_counter() - t0)
    ts.sort()
    return ts[len(ts) // 2]


def load(d_, name, dtype, shape=None):
    a = np.fromfile(f"{d_}/{name}", dtype=dtype)
    return a.reshape(shape) if shape is not None else a


def logistic_grad(xb, yb, th, l2):
    """Mean logistic-loss gradient of one agent's batch plus l2 * theta (float32 throughout)."""
    z = xb @ th
    s = -yb * jax.nn.sigmoid(-yb * z)
    return s @ xb / xb.shape[0] + l2 * th


def glm(d_, a, b, d, l2, reps):
    x = jnp.asarray(load(d_, "x.f32", np.float32, (a, b, d)))
    y = jnp.asarray(load(d_, "y.f32", np.float32, (a, b)))
    th = jnp.asarray(load(d_, "theta.f32", np.float32, (a, d)))
    f = jax.jit(jax.vmap(logistic_grad, in_axes=(0, 0, 0, None)))
    g = f(x, y, th, jnp.float32(l2))
    secs = median_time(lambda: f(x, y, th, jnp.float32(l2)), reps)
    np.asarray(g, dtype=np.float32).tofile(f"{d_}/grad_jax.f32")
    return {"seconds": secs}


def dsgd(d_, a, r, b, d, lr, c, l2, reps):
    x = jnp.asarray(load(d_, "x.f32", np.float32, (a * r, d)))
    y = jnp.asarray(load(d_, "y.f32", np.float32))
    th = jnp.asarray(load(d_, "theta.f32", np.float32, (a, d)))
    idx = jnp.asarray(load(d_, "batch.i32", np.int32, (a, b)))
    wd = load(d_, "w.f64", np.float64, (a, a))
    # Dense W in float32 (256 x 256: a small GEMM beats a sparse product at this size under jit).
    w = jnp.asarray(wd.astype(np.float32))
    adj = jnp.asarray(((wd > 0) & ~np.eye(a, dtype=bool)).astype(np.float64))
    deg = adj.sum(1)

    @jax.jit
    def iteration(th):
        g = jax.vmap(logistic_grad, in_axes=(0, 0, 0, None))(x[idx], y[idx], th, jnp.float32(l2))
        nxt = w @ th - jnp.float32(lr) * g
        norms = jnp.sum(g.astype(jnp.float64) ** 2, axis=1)
        return nxt, c * (deg * norms - adj @ norms)

    nxt, pay = iteration(th)
    secs = median_time(lambda: iteration(th), reps)
    np.asarray(nxt, dtype=np.float32).tofile(f"{d_}/next_jax.f32")
    np.asarray(pay, dtype=np.float64).tofile(f"{d_}/pay_jax.f64")
    return {"seconds": secs}


def mix(d_, n, d, reps):
    """Y = W X with W sparse: the faster of a BCOO product and a padded-neighbour gather (ELL)."""
    x = jnp.asarray(load(d_, "x.f32", np.float32, (n, d)))
    rs = load(d_, "rowstart.i64", np.int64)
    cols = load(d_, "cols.i32", np.int32)
    vals = load(d_, "vals.f32", np.float32)
    idx, wpad = ell_from_csr(rs, cols, vals, n)
    idx, wpad = jnp.asarray(idx.astype(np.int32)), jnp.asarray(wpad)
    rows = np.repeat(np.arange(n, dtype=np.int32), np.diff(rs))
    bcoo = jsparse.BCOO((jnp.asarray(vals), jnp.asarray(np.stack([rows, cols], 1))), shape=(n, n))
    ell = jax.jit(lambda x: jnp.einsum("nk,nkd->nd", wpad, x[idx]))
    sparse = jax.jit(lambda x: bcoo @ x)
    t_ell, t_bcoo = median_time(lambda: ell(x), reps), median_time(lambda: sparse(x), reps)
    best = ell if t_ell <= t_bcoo else sparse
    np.asarray(best(x), dtype=np.float32).tofile(f"{d_}/y_jax.f32")
    return {"seconds": min(t_ell, t_bcoo), "ell_seconds": t_ell, "bcoo_seconds": t_bcoo,
            "variant": "ell gather" if t_ell <= t_bcoo else "BCOO"}


def thresholds(k, n, w):
    """x > N with sqrt(K/(x-N)) - sqrt(K/x) = w (Newton on delta = sqrt(x) - sqrt(x - N), from an
    upper bound, 100 steps at most), +inf where w <= 0: the same solve as market_numpy.py."""
    s = jnp.sqrt(k)
    wp = jnp.where(w > 0, w, 1.0)
    delta0 = jnp.minimum(jnp.sqrt(n), jnp.cbrt(wp * n * n / (4 * s)))

    def body(state):
        i, delta, _ = state
        d2 = delta * delta
        h = wp * d2 * d2 + 4 * s * d2 * delta - wp * n * n
        dh = 4 * wp * d2 * delta + 12 * s * d2
        nxt = delta - h / dh
        done = ~(nxt < delta) | (nxt <= 0)
        return i + 1, jnp.where(done, delta, nxt), jnp.all(done)

    _, delta, _ = jax.lax.while_loop(lambda st: (st[0] < 100) & ~st[2], body, (0, delta0, False))
    d2 = delta * delta
    a = 2 * s * d2 / (wp * (n + d2))
    return jnp.where(w > 0, a * a + n, jnp.inf)


def market(d_, m, p, lam, eta, reps):
    theta = jnp.asarray(load(d_, "theta.f32", np.float32, (m, p)))
    origin = jnp.asarray(load(d_, "origin.f32", np.float32))
    econ = load(d_, "econ.f64", np.float64, (m, 3))
    N, c, K = (jnp.asarray(econ[:, k].copy()) for k in range(3))

    @jax.jit
    def step(theta):
        U = theta - origin
        G = U @ U.T
        nrm = jnp.sqrt(jnp.maximum(jnp.diag(G), 0))
        cos = jnp.clip(jnp.nan_to_num(G / jnp.outer(nrm, nrm)), -1, 1)
        eye = jnp.eye(m, dtype=bool)
        cos = jnp.where(eye, 1.0, cos)
        D = jnp.where(eye, 0.0, 1 - cos.astype(jnp.float64))
        ratio = N[None, :] / N[:, None]
        W = c[None, :] + lam * ratio * D
        TH = jnp.where(eye, -jnp.inf, thresholds(K[:, None], N[None, :], W))
        # Descending walk, vectorised: in threshold order (ties by index), exporter j is bought
        # while N_i + (sizes bought so far) + N_j < th_j, i.e. the prefix where that holds.
        order = jnp.argsort(-TH, axis=1, stable=True)
        th_sorted = jnp.take_along_axis(TH, order, 1)
        n_sorted = N[order]
        after = N[:, None] + jnp.cumsum(n_sorted, axis=1)
        bought_sorted = jnp.cumprod((after < th_sorted) & (K[:, None] > 0), axis=1).astype(bool)
        rows = jnp.arange(m)[:, None]
        A = jnp.zeros((m, m), dtype=bool).at[rows, order].set(bought_sorted)
        # r_ij prices exporter j as the last one bought: sizes N_i + (all bought) - N_j -> + N_j.
        total = N[:, None] + jnp.sum(jnp.where(bought_sorted, n_sorted, 0.0), axis=1, keepdims=True)
        sk = jnp.sqrt(K)[:, None]
        sb, sa = jnp.sqrt(total - n_sorted), jnp.sqrt(total)
        marg = sk * n_sorted / (sb * sa * (sb + sa))
        r_sorted = jnp.where(bought_sorted, marg - lam * (n_sorted / N[:, None]) * jnp.take_along_axis(D, order, 1), 0.0)
        R = jnp.zeros((m, m)).at[rows, order].set(r_sorted)
        net = R.sum(1) - R.sum(0)
        # Prox centres: theta_i + (eta/|u_i|) sum_j w_ij (uhat_j - cos_ij uhat_i), w_ij = a_ij N_j/N_i.
        Wt = jnp.where(A, ratio, 0.0)
        Uhat = jnp.nan_to_num(U / nrm[:, None])
        mixed = Wt.astype(jnp.float32) @ Uhat - (Wt * cos).sum(1).astype(jnp.float32)[:, None] * Uhat
        scale = jnp.where(nrm > 0, eta / nrm, 0).astype(jnp.float32)
        return A, net, theta + scale[:, None] * mixed

    A, net, centres = step(theta)
    secs = median_time(lambda: step(theta), reps)
    np.asarray(A, dtype=np.int8).tofile(f"{d_}/imports_jax.i8")
    np.asarray(net, dtype=np.float64).tofile(f"{d_}/net_jax.f64")
    np.asarray(centres, dtype=np.float32).tofile(f"{d_}/centres_jax.f32")
    return {"seconds": secs, "edges": int(np.asarray(A).sum())}


def simplecnn_apply(flat, x, c, size, classes):
    """SimpleCNN (conv5-6, pool, conv5-16, pool, 120, 84, classes) from Agora's flat parameter row
    (PyTorch state_dict order) on NCHW images x: the class scores."""
    q = 0

    def take(*shape):
        nonlocal q
        n = int(np.prod(shape))
        out = flat[q:q + n].reshape(shape)
        q += n
        return out

    w1, b1 = take(6, c, 5, 5), take(6)
    w2, b2 = take(16, 6, 5, 5), take(16)
    s2 = ((size - 4) // 2 - 4) // 2
    f1w, f1b = take(120, 16 * s2 * s2), take(120)
    f2w, f2b = take(84, 120), take(84)
    f3w, f3b = take(classes, 84), take(classes)
    dn = ("NCHW", "OIHW", "NCHW")

    def block(h, w, b):
        h = jax.lax.conv_general_dilated(h, w, (1, 1), "VALID", dimension_numbers=dn) + b[None, :, None, None]
        h = jax.nn.relu(h)
        return jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")

    h = block(block(x, w1, b1), w2, b2).reshape(x.shape[0], -1)
    h = jax.nn.relu(h @ f1w.T + f1b)
    h = jax.nn.relu(h @ f2w.T + f2b)
    return h @ f3w.T + f3b


def cnn(d_, m, b, c, size, classes, lr, mom, wd, reps):
    """One local training step of every client: SimpleCNN gradients of each client's mini-batch
    (vmap over clients), then PyTorch-style momentum SGD with weight decay on every parameter."""
    theta = jnp.asarray(load(d_, "theta.f32", np.float32, (m, -1)))
    x = jnp.asarray(load(d_, "x.f32", np.float32, (m, b, c, size, size)))
    y = jnp.asarray(load(d_, "labels.i32", np.int32, (m, b)))

    def loss(flat, xb, yb):
        z = simplecnn_apply(flat, xb, c, size, classes)
        return jnp.mean(jax.nn.logsumexp(z, axis=1) - jnp.take_along_axis(z, yb[:, None], 1)[:, 0])

    grads = jax.jit(jax.vmap(jax.value_and_grad(loss)))

    @jax.jit
    def step(th, v, xb, yb):
        _, g = jax.vmap(jax.value_and_grad(loss))(th, xb, yb)
        v = mom * v + g + wd * th
        return th - lr * v, v

    l, g = grads(theta, x, y)
    v = jnp.zeros_like(theta)
    secs = median_time(lambda: step(theta, v, x, y), reps)
    np.asarray(g, dtype=np.float32).tofile(f"{d_}/grad_jax.f32")
    np.asarray(l, dtype=np.float32).tofile(f"{d_}/loss_jax.f32")
    return {"seconds": secs}


def main():
    kind, a = sys.argv[1], sys.argv[2:]
    if kind == "glm":
        out = glm(a[0], int(a[1]), int(a[2]), int(a[3]), float(a[4]), int(a[5]))
    elif kind == "dsgd":
        out = dsgd(a[0], *(int(v) for v in a[1:5]), float(a[5]), float(a[6]), float(a[7]), int(a[8]))
    elif kind == "mix":
        out = mix(a[0], int(a[1]), int(a[2]), int(a[3]))
    elif kind == "market":
        out = market(a[0], int(a[1]), int(a[2]), float(a[3]), float(a[4]), int(a[5]))
    elif kind == "cnn":
        out = cnn(a[0], *(int(v) for v in a[1:6]), float(a[6]), float(a[7]), float(a[8]), int(a[9]))
    else:
        raise SystemExit(f"jax_peers.py: unknown kernel {kind!r} (expected glm, dsgd, mix, market or cnn)")
    out["jax"] = jax.__version__
    print(json.dumps(out))


if __name__ == "__main__":
    main()
