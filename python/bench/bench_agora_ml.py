"""The Python-visible speed of agora_ml against numpy/scipy and JAX (jit) on identical arrays.

Measures, for each size: W @ x (agora_ml.mix vs scipy.sparse CSR @ x vs jax.jit of a BCOO/dense
product), one truthful-DSGD step (agora_ml.TruthfulDSGD.step: mix, update and payments, vs the same
arithmetic in numpy/scipy and in jax.jit), and the per-call overhead of agora_ml (a 4 x 4 mix). Every
peer's answer is checked against agora_ml's before it is timed. Writes JSON (one record per case:
median and min seconds over repetitions, the ratio peer / agora_ml) to --out and prints a table.

    python python/bench/bench_agora_ml.py [--quick] [--out bench-results/python/python-bench.json]
"""
import argparse
import json
import os
import platform
import time

import numpy as np
import scipy.sparse as sp

import agora_ml

try:
    import jax
    import jax.numpy as jnp
    from jax.experimental import sparse as jsparse
    jax.config.update("jax_enable_x64", False)
except ImportError:  # the JAX peer is optional
    jax = None


def timed(fn, reps, inner):
    fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        times.append((time.perf_counter() - t0) / inner)
    times.sort()
    return times[len(times) // 2], times[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default="bench-results/python/python-bench.json")
    args = ap.parse_args()
    reps = 5 if args.quick else 9
    sizes = [(64, 1000), (256, 10000)] if args.quick else [(64, 1000), (256, 10000), (1024, 10000)]
    records = []

    def record(case, n, d, peer, seconds, agora_seconds, agrees):
        r = {"case": case, "agents": n, "dim": d, "peer": peer, "median_s": seconds[0], "min_s": seconds[1],
             "ratio_peer_over_agora": seconds[0] / agora_seconds[0] if agora_seconds else None, "agrees": agrees}
        records.append(r)
        ratio = f"{r['ratio_peer_over_agora']:.2f}x" if r["ratio_peer_over_agora"] else ""
        print(f"{case:10s} n={n:5d} d={d:6d} {peer:14s} {seconds[0] * 1e6:12.1f} us   {ratio:>8s}   agrees={agrees}")

    for topo in ("ring", "exponential"):
        for n, d in sizes:
            t = agora_ml.topology(topo, n)
            w = t.weight_matrix().astype(np.float32).tocsr()
            rng = np.random.default_rng(1)
            x = rng.standard_normal((n, d)).astype(np.float32)
            y = np.empty_like(x)
            inner = max(1, int(2e7 / (n * d)))
            ours = timed(lambda: agora_ml.mix(x, t, out=y), reps, inner)
            reference = (w.astype(np.float64) @ x.astype(np.float64))
            record(f"mix/{topo}", n, d, "agora_ml", ours, ours, bool(np.allclose(y, reference, atol=1e-4)))
            z = w @ x
            record(f"mix/{topo}", n, d, "scipy.sparse", timed(lambda: w @ x, reps, inner), ours, bool(np.allclose(z, y, atol=1e-4)))
            if jax is not None:
                wj = jsparse.BCOO.from_scipy_sparse(w)
                xj = jnp.asarray(x)
                f = jax.jit(lambda a, b: a @ b)
                zj = np.asarray(f(wj, xj))
                record(f"mix/{topo}", n, d, "jax.jit BCOO", timed(lambda: f(wj, xj).block_until_ready(), reps, inner), ours,
                       bool(np.allclose(zj, y, atol=1e-4)))
                # XLA's dense product (GEMM) is JAX's stronger formulation on CPU for small n.
                wd = jnp.asarray(w.toarray())
                zd = np.asarray(f(wd, xj))
                record(f"mix/{topo}", n, d, "jax.jit dense", timed(lambda: f(wd, xj).block_until_ready(), reps, inner), ours,
                       bool(np.allclose(zd, y, atol=1e-4)))
            # One truthful-DSGD step: W theta - lr * g, payments C * sum_j (|g_i|^2 - |g_j|^2) over neighbours.
            g = rng.standard_normal((n, d)).astype(np.float32)
            mech = agora_ml.TruthfulDSGD(t, step_size=0.5, step_exponent=0.6, coefficient=1e-3, coefficient_exponent=0.1)
            out = np.empty_like(x)
            ours_step = timed(lambda: mech.step(x, g, iteration=0, out=out), reps, inner)
            _, pay = mech.step(x, g, iteration=0, out=out)
            a = (w != 0).astype(np.float32)
            a.setdiag(0)
            a.eliminate_zeros()
            deg = np.asarray(a.sum(axis=1)).ravel()

            def numpy_step():
                s = np.einsum("ij,ij->i", g, g, dtype=np.float64)
                return w @ x - 0.5 * g, 1e-3 * (deg * s - a @ s)
            theta_np, pay_np = numpy_step()
            record(f"dsgd-step/{topo}", n, d, "agora_ml", ours_step, ours_step, True)
            record(f"dsgd-step/{topo}", n, d, "numpy/scipy", timed(numpy_step, reps, inner), ours_step,
                   bool(np.allclose(theta_np, out, atol=1e-4) and np.allclose(pay_np, pay, rtol=1e-4, atol=1e-9)))
            if jax is not None:
                gj, degj = jnp.asarray(g), jnp.asarray(deg)

                @jax.jit
                def jax_step(wm, am, xm, gm, dg):
                    s = jnp.sum(gm * gm, axis=1)
                    return wm @ xm - 0.5 * gm, 1e-3 * (dg * s - am @ s)
                # Both formulations (BCOO sparse and dense GEMM): which is faster depends on the graph.
                for label, wm, am in (("jax.jit BCOO", jsparse.BCOO.from_scipy_sparse(w), jsparse.BCOO.from_scipy_sparse(a)),
                                      ("jax.jit dense", jnp.asarray(w.toarray()), jnp.asarray(a.toarray()))):
                    tj, pj = jax_step(wm, am, xj, gj, degj)
                    # Payments differ by float32 rounding of |g|^2 (JAX sums in float32, Agora in
                    # double): compared against the payments' own scale.
                    scale = np.abs(pay).max()
                    record(f"dsgd-step/{topo}", n, d, label, timed(lambda: jax_step(wm, am, xj, gj, degj)[0].block_until_ready(), reps, inner),
                           ours_step, bool(np.allclose(np.asarray(tj), out, atol=1e-4) and np.allclose(np.asarray(pj), pay, rtol=1e-3, atol=1e-4 * scale)))
    # Per-call overhead: a 4 x 4 mix (all the time is the call).
    t4 = agora_ml.topology("ring", 4)
    x4 = np.ones((4, 4), np.float32)
    y4 = np.empty_like(x4)
    overhead = timed(lambda: agora_ml.mix(x4, t4, out=y4), reps, 20000)
    record("call-overhead", 4, 4, "agora_ml", overhead, overhead, True)
    noop = timed(lambda: agora_ml.abi_version(), reps, 20000)
    record("call-overhead", 0, 0, "ctypes no-op", noop, overhead, True)

    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    context = {"python": platform.python_version(), "numpy": np.__version__, "jax": jax.__version__ if jax else None,
               "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), ""),
               "cpus": os.cpu_count(), "abi_version": agora_ml.abi_version()}
    with open(args.out, "w") as f:
        json.dump({"context": context, "records": records}, f, indent=1)
    print(f"wrote {args.out}")
    bad = [r for r in records if not r["agrees"]]
    if bad:
        raise SystemExit(f"{len(bad)} peer(s) disagree with agora_ml: {[(r['case'], r['peer']) for r in bad]}")


if __name__ == "__main__":
    main()
