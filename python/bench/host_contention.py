"""Agora's threads inside a Python host whose numpy runs its own BLAS threads.

For Agora pool sizes 1 and 2 (AGORA_NUM_THREADS, one subprocess each, alternated over --rounds: the
pool is sized when the library loads), times agora_ml.mix on a ring at a small size (n = 256, d = 100: serial below the
pool's 256 KiB threshold) and a large one (n = 1024, d = 20000), first with the host idle, then
while a background Python thread keeps numpy's BLAS busy (float64 matmuls of 1500 x 1500, which
release the GIL and use numpy's own OpenBLAS threads). Prints the speed-up of 2 Agora threads over
1 in each condition; the target is that more threads are never slower. Writes JSON to --out.

    python python/bench/host_contention.py [--out bench-results/python/host-contention.json]
"""
import argparse
import json
import os
import subprocess
import sys
import threading
import time

import numpy as np


def child(condition: str) -> dict:
    import agora_ml

    stop = threading.Event()
    busy = None
    if condition == "numpy-busy":
        a = np.random.default_rng(1).standard_normal((1500, 1500))

        def spin():
            while not stop.is_set():
                a @ a

        busy = threading.Thread(target=spin, daemon=True)
        busy.start()
        time.sleep(0.3)
    out = {}
    for label, n, d, inner in (("small", 256, 100, 200), ("large", 1024, 20000, 1)):
        t = agora_ml.topology("ring", n)
        x = np.random.default_rng(2).standard_normal((n, d)).astype(np.float32)
        y = np.empty_like(x)
        agora_ml.mix(x, t, out=y)
        times = []
        for _ in range(9):
            t0 = time.perf_counter()
            for _ in range(inner):
                agora_ml.mix(x, t, out=y)
            times.append((time.perf_counter() - t0) / inner)
        times.sort()
        out[label] = times[len(times) // 2]
    stop.set()
    if busy is not None:
        busy.join()
    return out


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2])))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="bench-results/python/host-contention.json")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    # Separate processes differ by tens of percent on a shared VM, so the two pool sizes alternate
    # (1, 2, 1, 2, ...) over several rounds and each keeps the median of its rounds.
    runs = {}
    for condition in ("idle", "numpy-busy"):
        for _ in range(args.rounds):
            for threads in (1, 2):
                env = dict(os.environ, AGORA_NUM_THREADS=str(threads))
                r = subprocess.run([sys.executable, __file__, "--child", condition], env=env, capture_output=True, text=True, check=True)
                runs.setdefault((condition, threads), []).append(json.loads(r.stdout.strip().splitlines()[-1]))
    results = {key: {size: sorted(r[size] for r in rs)[len(rs) // 2] for size in ("small", "large")} for key, rs in runs.items()}
    rows = []
    print(f"{'host':12s} {'size':6s} {'1 thread':>12s} {'2 threads':>12s} {'speed-up':>9s}")
    for condition in ("idle", "numpy-busy"):
        for size in ("small", "large"):
            one, two = results[(condition, 1)][size], results[(condition, 2)][size]
            rows.append({"host": condition, "size": size, "one_thread_s": one, "two_threads_s": two, "speedup": one / two})
            flag = "  (SLOWER with more threads)" if one / two < 0.95 else ""
            print(f"{condition:12s} {size:6s} {one * 1e6:10.1f}us {two * 1e6:10.1f}us {one / two:8.2f}x{flag}")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"numpy": np.__version__, "cases": rows}, f, indent=2)
    print("(the small case runs serially on both pool sizes, below the 256 KiB threshold: its ratio shows the"
          " spread between processes)")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
