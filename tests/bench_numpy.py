#!/usr/bin/env python3
"""bench_numpy.py — numpy (with the machine's BLAS/LAPACK) on the decompositions of `make bench`'s
analyze and spectrum groups, side by side with moesim's rows (issue 16). Run by `make bench`
after tests/bench; not part of the project (the project uses libc and libm only).

  python3 tests/bench_numpy.py [--csv results/bench/numpy.csv] [--moesim results/bench/bench.csv]
                               [--repeats 3] [--skip-7168]

What numpy computes, per case (the same shapes as tests/bench.c, states drawn the same way: a
strong shared direction, a decaying spectrum, noise; numpy's own random numbers):
  analyze D=4096 E=64 16x512 / D=7168 E=256 16x256 — one layer's decompositions as analyze makes
      them: the logits H Pᵀ and their top-K; per sequence, the leading 3 right singular vectors
      through the T x T Gram matrix (eigh), as analyze does when T < D; the whole set's leading
      directions (numpy has no partial eigensolver: H ᵀH and a full eigh); the router's spectral
      norm (norm(P, 2)). moesim's analyze computes more than this (every measurement of the layer).
  spectrum full eig D=2048 / 4096 — eigh of the D x D Gram matrix of 16 x 512 states (the Gram
      matrix itself is timed apart, as in bench.c).
Each figure is the median of --repeats runs (1 at D = 7168). The BLAS library numpy actually
loaded is read from /proc/self/maps and printed; its thread count follows OPENBLAS_NUM_THREADS /
OMP_NUM_THREADS (unset: every core). Writes the rows (columns as bench.csv) atomically.
"""
import argparse
import csv
import os
import statistics
import sys
import time

try:
    import numpy as np
except ImportError:
    print("bench_numpy: skipped: numpy is not installed for", sys.executable)
    sys.exit(0)


def blas_libraries():
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if ("blas" in line or "lapack" in line) and "/" in line}
        return ", ".join(sorted(libs)) or "unknown"
    except OSError:
        return "unknown"


def states(rng, n, d):
    mu = rng.uniform(-1.0, 1.0, d).astype(np.float32)
    noise = (rng.uniform(0.0, 1.0, (n, d)) - 0.5) / np.sqrt(1.0 + np.arange(d) / 8.0)
    return (3.0 * mu + noise).astype(np.float32)


def analyze_layer(H, P, B, T, K):
    t = {}
    t0 = time.perf_counter()
    Z = H.astype(np.float64) @ P.astype(np.float64).T
    np.argpartition(-Z, K - 1, axis=1)[:, :K]
    t["logits_topk"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    for b in range(B):
        Hs = H[b * T:(b + 1) * T].astype(np.float64)
        w, U = np.linalg.eigh(Hs @ Hs.T)                  # ascending
        Hs.T @ U[:, -3:] / np.sqrt(np.maximum(w[-3:], 1e-300))
    t["per_sequence"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    Hd = H.astype(np.float64)
    np.linalg.eigh(Hd.T @ Hd)
    t["whole_set"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    np.linalg.norm(P.astype(np.float64), 2)
    t["spectral_norm"] = time.perf_counter() - t0
    t["wall"] = sum(t.values())
    return t


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--csv", default="results/bench/numpy.csv")
    ap.add_argument("--moesim", default="results/bench/bench.csv")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-7168", action="store_true", help="leave out the D = 7168 case")
    a = ap.parse_args()
    threads = os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS") or f"all ({os.cpu_count()})"
    print(f"numpy {np.__version__} side by side (issue 16); BLAS/LAPACK loaded: {blas_libraries()}; threads: {threads}")
    rng = np.random.default_rng(7)
    rows = []

    def add(name, metric, vals, unit):
        med = statistics.median(vals)
        rows.append([name, 2, metric, f"{med:.6g}", unit, f"{min(vals):.6g}", f"{max(vals):.6g}", "", "-"])
        return med

    cases = [(4096, 64, 8, 16, 512), (7168, 256, 8, 16, 256)]
    for D, E, K, B, T in cases:
        if D == 7168 and a.skip_7168:
            continue
        H, P = states(rng, B * T, D), rng.uniform(-1.0, 1.0, (E, D)).astype(np.float32)
        reps = 1 if D >= 7000 else a.repeats
        runs = [analyze_layer(H, P, B, T, K) for _ in range(reps)]
        name = f"numpy analyze D={D} E={E} {B}x{T}"
        for key in ["wall", "logits_topk", "per_sequence", "whole_set", "spectral_norm"]:
            add(name, "wall_s" if key == "wall" else key + "_s", [r[key] for r in runs], "s")
        print(f"  {name}: {statistics.median(r['wall'] for r in runs):.2f} s "
              f"(whole set {statistics.median(r['whole_set'] for r in runs):.2f} s)", flush=True)
    for D in (2048, 4096):
        Hd = states(rng, 16 * 512, D).astype(np.float64)
        g, e = [], []
        for _ in range(a.repeats if D < 4096 else 1):
            t0 = time.perf_counter()
            G = Hd.T @ Hd
            g.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            np.linalg.eigh(G)
            e.append(time.perf_counter() - t0)
        name = f"numpy full eig D={D}"
        add(name, "wall_s", e, "s")
        add(name, "gram_s", g, "s")
        print(f"  {name}: eigh {statistics.median(e):.2f} s, Gram {statistics.median(g):.2f} s", flush=True)

    os.makedirs(os.path.dirname(a.csv) or ".", exist_ok=True)
    tmp = f"{a.csv}.tmp.{os.getpid()}"
    try:
        with open(tmp, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["name", "threads", "metric", "value", "unit", "spread_lo", "spread_hi", "target", "status"])
            w.writerows(rows)
        os.replace(tmp, a.csv)
    except OSError as ex:
        print(f"bench_numpy: cannot write {a.csv}: {ex.strerror}", file=sys.stderr)
        return 1
    print(f"  wrote {a.csv} ({len(rows)} rows)")

    # side by side with moesim's rows of the same run of `make bench`
    ours = {}
    try:
        with open(a.moesim) as f:
            for r in csv.DictReader(f):
                if r["metric"] == "wall_s" and r["threads"] == "2":
                    ours[r["name"]] = float(r["value"]) if r["value"] not in ("", "nan") else float("nan")
    except OSError:
        print(f"  ({a.moesim} not found: no side-by-side table)")
        return 0
    print(f"\n  {'case':44s} {'moesim':>9s} {'numpy':>9s}")
    pairs = [(f"analyze D={D} E={E} {B}x{T}", f"numpy analyze D={D} E={E} {B}x{T}") for D, E, K, B, T in cases]
    pairs += [(f"spectrum full eig D={D}", f"numpy full eig D={D}") for D in (2048, 4096)]
    theirs = {r[0]: float(r[3]) for r in rows if r[2] == "wall_s"}
    for mine, np_name in pairs:
        if mine in ours and np_name in theirs:
            print(f"  {mine:44s} {ours[mine]:8.2f}s {theirs[np_name]:8.2f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
