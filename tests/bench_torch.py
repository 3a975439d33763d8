#!/usr/bin/env python3
"""bench_torch.py — PyTorch beside moesim on `make bench`'s std and text std (issue 26), and issue
26's table. Run by `make bench` after tests/bench; not part of the project (which uses libc and
libm only).

  python3 tests/bench_torch.py [--csv results/bench/bench.csv] [--steps 30] [--threads 2]

What PyTorch runs: tests/torch_moe.py's model (checked against moesim's loss and every gradient by
tests/check_torch.sh), float32, trained with torch.optim.AdamW (lr 3e-3, betas 0.9/0.95, eps 1e-8,
no weight decay: moesim's defaults; foreach=True) and clip_grad_norm_(1.0), on a fixed random batch
of the same shape, torch.set_num_threads(--threads):
  std       V=256 D=128 L=4 H=4 T=64 E=16 K=2 F=256, batch 32; switch balancing alpha 0.01 global
  text std  V=256 D=256 L=6 H=8 T=256 E=32 K=4 F=256, batch 16; the same balancing
3 warm-up steps and --steps timed ones (text std: 2 and at most 10, as tests/bench.c); tokens/s
is the median with the spread from the step-time quartiles. Each configuration runs in its own
process (peak RSS its own); its matrix FLOPs per step are counted once by PyTorch's profiler
(aten::mm/bmm/addmm) and compared with tests/bench.c's formula (the `... step` rows).
The children's environment, unless set already: PyTorch allocates its tensors at every operation,
and glibc would hand the large ones back to the kernel at each free and fault them in again at the
next allocation (a page fault is costly on this kind of VM), so MALLOC_MMAP_THRESHOLD_ and
MALLOC_TRIM_THRESHOLD_ are raised: freed memory is reused, as it would be with jemalloc or tcmalloc
(PyTorch's CPU tuning guides' advice; moesim allocates nothing in a step). And
OMP_WAIT_POLICY=passive, as moesim sets for itself (sim/cli/wait_policy.c): on a shared machine a
spinning OpenMP thread starves the other, and PyTorch enters a parallel region for nearly every
operation (std at 2 threads, load 4: 0.6-0.8 s a step passive, ~3 s with the default). Debian's
python3-torch multiplies its matrices with the system's libblas.so.3: netlib's reference BLAS
(~3 GFLOP/s) unless OpenBLAS is installed (apt-get install libopenblas0-openmp); the child prints
the library it loaded.

The rows (columns as bench.csv: name, threads, metric, value, unit, spread_lo, spread_hi, target,
status) are appended to --csv, replacing this script's rows of an earlier run ("pytorch ..." and
"... ours/pytorch"); without torch they are written with status "SKIP: <why>". Then issue 26's
table is printed from the CSV: each target with ours and PyTorch beside it.
"""
import argparse
import csv
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

NOT_INSTALLED = "not installed (apt-get install python3-torch)"
CONFIGS = {
    # name: (V, D, L, H, T, E, K, F, batch)
    "std": (256, 128, 4, 4, 64, 16, 2, 256, 32),
    "text std": (256, 256, 6, 8, 256, 32, 4, 256, 16),
}
# The children's environment unless it says otherwise (see the docstring).
CHILD_ENV = {"MALLOC_MMAP_THRESHOLD_": str(1 << 32), "MALLOC_TRIM_THRESHOLD_": str(1 << 36),
             "OMP_WAIT_POLICY": "passive"}


def quantile(v, q):
    v = sorted(v)
    pos = q * (len(v) - 1)
    i = int(pos)
    return v[-1] if i >= len(v) - 1 else v[i] + (pos - i) * (v[i + 1] - v[i])


# ---- the child: one configuration -----------------------------------------------------------------

def child(cfg, steps, threads):
    import torch
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import torch_moe as tm
    torch.set_num_threads(threads)
    V, D, L, H, T, E, K, F, B = CONFIGS[cfg]
    sp = tm.Spec(V, D, L, H, T, E, K, F, scope="global", alpha=0.01)
    model = tm.MoeDecoder(sp, seed=1)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.0,
                            foreach=True)
    tokens = torch.randint(0, V, (B, T + 1), generator=torch.Generator().manual_seed(2))

    def step():
        opt.zero_grad(set_to_none=True)
        loss, _, _ = model(tokens)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()

    text = cfg != "std"
    warmup, timed = (2, min(steps, 10)) if text else (3, steps)
    for _ in range(warmup):
        step()
    times, loss = [], float("nan")
    for _ in range(timed):
        t0 = time.perf_counter()
        loss = step()
        times.append(time.perf_counter() - t0)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before the profiler's own memory
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU], with_flops=True) as prof:
        step()
    flops = sum(e.flops for e in prof.events() if e.flops and e.name in ("aten::mm", "aten::bmm", "aten::addmm"))
    print(json.dumps({"times": times, "loss": loss, "flops": flops, "tokens": B * T, "rss": rss,
                      "threads": torch.get_num_threads(), "blas": loaded_blas()}))
    return 0


def loaded_blas():
    """The BLAS library this process loaded (Debian's python3-torch calls the system's libblas.so.3:
    netlib's reference BLAS unless OpenBLAS is installed)."""
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "blas" in line and "/" in line}
        return ", ".join(sorted(os.path.realpath(l) for l in libs)) or "none"
    except OSError:
        return "unknown"


def run_child(cfg, steps, threads):
    """Runs one configuration in a child; returns (result dict or None, peak RSS MiB, error)."""
    env = dict(os.environ)
    for k, v in CHILD_ENV.items():
        env.setdefault(k, v)
    with tempfile.TemporaryFile() as errf:
        p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--child", cfg, "--steps", str(steps),
                              "--threads", str(threads)], stdout=subprocess.PIPE, stderr=errf, env=env)
        out = p.stdout.read()
        p.stdout.close()
        _, status, ru = os.wait4(p.pid, 0)   # reaped here, for the child's own peak RSS
        p.returncode = os.waitstatus_to_exitcode(status)
        errf.seek(0)
        err = errf.read().decode(errors="replace").strip().splitlines()
    rss = ru.ru_maxrss / 1024  # the child's whole peak, the profiled step included (the result has the one before)
    if p.returncode != 0:
        return None, rss, (err or [f"exit {p.returncode}"])[-1]
    try:
        return json.loads(out.decode().strip().splitlines()[-1]), rss, ""
    except (ValueError, IndexError):
        return None, rss, "no result from the child"


# ---- rows -----------------------------------------------------------------------------------------

def read_rows(path):
    try:
        with open(path, newline="") as f:
            return list(csv.DictReader(f))
    except OSError:
        return None


FIELDS = ["name", "threads", "metric", "value", "unit", "spread_lo", "spread_hi", "target", "status"]


def row(name, threads, metric, value, unit, lo="", hi="", target="", status="-"):
    fmt = lambda x: "" if x == "" or x is None else f"{x:.6g}"
    return {"name": name, "threads": str(threads), "metric": metric, "value": fmt(value), "unit": unit,
            "spread_lo": fmt(lo), "spread_hi": fmt(hi), "target": target, "status": status}


def ours_row(rows, name, metric, threads=None):
    for r in rows:
        if r["name"] == name and r["metric"] == metric and (threads is None or r["threads"] == str(threads)):
            return r
    return None


def num(r):
    try:
        return float(r["value"]) if r and r["value"] not in ("", "nan", "-nan") else None
    except ValueError:
        return None


def write_rows(path, rows):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, path)


def mine(r):
    return r["name"].startswith("pytorch ") or r["name"].endswith(" ours/pytorch")


# ---- the table ------------------------------------------------------------------------------------

def fmt_tps(x):
    return f"{x:,.0f} tok/s"


def table(rows, torch_note, threads):
    """Issue 26's targets, ours and PyTorch beside them (from the CSV's rows)."""
    th = str(threads)
    g = lambda name, metric, t=th: num(ours_row(rows, name, metric, t))
    out = []

    def status(v, goal, ge):
        if v is None:
            return "-"
        return "PASS" if (v >= goal if ge else v <= goal) else "MISS"

    def theirs(text):
        return text if torch_note is None else torch_note

    missing = "not measured (bench --only without {})"
    # std: share of our gemm peak
    s, tps = g("std adamw gemm share", "gemm_share"), g("std adamw", "tokens_per_s")
    ps, ptps = g("pytorch std adamw gemm share", "gemm_share"), g("pytorch std adamw", "tokens_per_s")
    out.append(("std", "share of our own gemm peak over the whole step", "≥ 65 %",
                f"{s:.0f} % ({fmt_tps(tps)})" if s is not None else missing.format("std or shapes"),
                theirs(f"{ps:.0f} % ({fmt_tps(ptps)})" if ps is not None else "-"), status(s, 65, True)))
    # text std: tokens/s against PyTorch
    t, pt = g("text std adamw", "tokens_per_s"), g("pytorch text std adamw", "tokens_per_s")
    ratio = t / pt if t and pt else None
    out.append(("text std", "tokens/s against PyTorch", "≥ 5×",
                (f"{fmt_tps(t)} = ×{ratio:.2f}" if ratio else fmt_tps(t)) if t is not None else missing.format("shapes"),
                theirs(fmt_tps(pt) if pt is not None else "-"), status(ratio, 5, True)))
    s, ps = g("text std adamw gemm share", "gemm_share"), g("pytorch text std adamw gemm share", "gemm_share")
    out.append(("text std", "share of our own gemm peak over the whole step", "≥ 60 %",
                f"{s:.0f} %" if s is not None else missing.format("shapes"),
                theirs(f"{ps:.0f} %" if ps is not None else "-"), status(s, 60, True)))
    r = g("experts E=64/E=8", "tps_ratio")
    out.append(("std, E = 64 / E = 8", "tokens/s ratio", "≥ 0.85",
                f"{r:.2f}" if r is not None else missing.format("experts"), "-", status(r, 0.85, True)))
    m = g("std adamw recompute", "peak_rss")
    out.append(("std with train.recompute", "peak memory", "≤ 100 MiB",
                f"{m:.1f} MiB" if m is not None else missing.format("shapes"), "-", status(m, 100, False)))
    x, fl = g("text std recompute/floor", "mem_ratio"), g("text std adamw floor", "fp32_adamw_floor")
    out.append(("text std with train.recompute", "peak memory", "within 1.5× of its fp32 AdamW floor",
                f"{x:.2f}× of {fl:.1f} MiB" if x is not None and fl is not None else missing.format("shapes"), "-",
                status(x, 1.5, False)))
    r = g("text std T=1024/T=256", "tps_ratio")
    out.append(("T = 1024, same width", "tokens/s against T = 256", "≥ 0.6",
                f"{r:.2f}" if r is not None else missing.format("shapes"), "-", status(r, 0.6, True)))
    head = ("configuration", "measure", "target", "ours", "PyTorch", "status")
    w = [max(len(str(x[i])) for x in out + [head]) for i in range(6)]
    line = lambda x: "| " + " | ".join(str(x[i]).ljust(w[i]) for i in range(6)) + " |"
    print(line(head))
    print("|" + "|".join("-" * (w[i] + 2) for i in range(6)) + "|")
    for x in out:
        print(line(x))
    missed = {x[0] + ", " + x[1] for x in out if x[5] == "MISS"}
    if missed:
        print("\nWhat bounds each MISS, from this run's rows (the profiles behind them: docs/PERFORMANCE.md, "
              "\"Issue 26's targets\"):")
        for line in bounds(rows, th, missed):
            print(textwrap.fill(line, 100, initial_indent="- ", subsequent_indent="  "))


def bounds(rows, th, missed):
    """One sentence per missed target of issue 26: the bound this run's own rows put on it."""
    g = lambda name, metric, t=th: num(ours_row(rows, name, metric, t))
    peak = g("kernels gemm peak", "gflops")
    out = []

    def phases(name):
        ph = [g(f"{name} phase", p) for p in ("forward", "backward", "optimizer")]
        return None if None in ph else ph

    def products(cfg, target):
        """The share's ceiling: the step's linear layers' products timed alone at their shapes."""
        mix, step, fl = g(f"kernels gemm {cfg} step mix", "gflops"), g(f"{cfg} adamw", "step_time"), \
            g(f"{cfg} adamw step", "matmul_gflop_run", "0")
        mfl = g(f"kernels gemm {cfg} step mix", "matmul_gflop", "0")
        ph = phases(f"{cfg} adamw")
        if None in (mix, step, fl, mfl, peak) or ph is None:
            return f"{cfg}, share of the peak: not measured in this run (bench --only std,shapes,kernels)"
        pt = mfl / mix * 1e3
        return (f"{cfg}, share of the peak ≥ {target} %: the products of the step's linear layers, timed alone "
                f"at their shapes (\"kernels gemm {cfg} step mix\": {mfl:.2f} of the step's {fl:.2f} GFLOP), run "
                f"at {mix:.0f} GFLOP/s, {100 * mix / peak:.0f} % of the {peak:.0f} GFLOP/s peak: with every other "
                f"pass gone and attention's products (the other {fl - mfl:.2f} GFLOP, with the router's) at that "
                f"rate too, the share would be {100 * mix / peak:.0f} %. At that rate the linear layers take "
                f"{pt:.1f} ms of the {step:.1f} ms step (forward {ph[0]:.1f}, backward {ph[1]:.1f}, optimizer "
                f"{ph[2]:.1f} ms); the other {step - pt:.1f} ms holds attention's products, the element-wise "
                f"passes (GELU, RMSNorm, the softmaxes, attention's transposes), the router, dispatch and "
                f"combine, the optimizer and the threads' joins.")

    if "std, share of our own gemm peak over the whole step" in missed:
        out.append(products("std", 65))
    if "text std, tokens/s against PyTorch" in missed:
        t, step, pt = g("text std adamw", "tokens_per_s"), g("text std adamw", "step_time"), \
            g("pytorch text std adamw", "tokens_per_s")
        fl, mix = g("text std adamw step", "matmul_gflop_run", "0"), g("kernels gemm text std step mix", "gflops")
        if None in (t, step, pt, fl, mix, peak):
            out.append("text std, ×5 PyTorch: not measured in this run")
        else:
            need_ms = step * t / (5 * pt)
            rate = fl / need_ms * 1e3
            out.append(f"text std, ×5 PyTorch: 5 × {pt:,.0f} tok/s is {5 * pt:,.0f} tok/s, a step of {need_ms:.0f} ms "
                       f"(now {step:.0f}): its {fl:.2f} GFLOP of products at {rate:.0f} GFLOP/s, "
                       f"{100 * rate / peak:.0f} % of our peak over the whole step, against the {mix:.0f} GFLOP/s "
                       f"({100 * mix / peak:.0f} %) its products reach timed alone at their shapes "
                       + ("(\"kernels gemm text std step mix\"): more than the products alone reach, so no "
                          "removal of the other passes gets there with this gemm." if rate > mix else
                          "(\"kernels gemm text std step mix\"): every other pass would have to shrink to "
                          f"{need_ms - fl / mix * 1e3:.0f} ms."))
    if "text std, share of our own gemm peak over the whole step" in missed:
        out.append(products("text std", 60))
    if "std, E = 64 / E = 8, tokens/s ratio" in missed:
        t8, t64 = g("experts E=8", "tokens_per_s"), g("experts E=64", "tokens_per_s")
        p8, p64 = phases("experts E=8"), phases("experts E=64")
        m8, m64 = g("experts E=8", "params"), g("experts E=64", "params")
        if None in (t8, t64, p8, p64, m8, m64):
            out.append("std, E = 64 / E = 8: not measured in this run (bench --only experts)")
        else:
            # AdamW reads weights, gradients and both moments and writes three back: 7 floats a parameter
            gb = 7 * m64 * 1048576 / 1e9
            bw = gb / (p64[2] * 1e-3)
            s8 = p8[0] + p8[1] + p8[2]
            allow = s8 / 0.85 - s8 - (p64[2] - p8[2])
            grow = (p64[0] - p8[0]) + (p64[1] - p8[1])
            out.append(f"std, E = 64 / E = 8 ≥ 0.85: per phase E = 8 forward {p8[0]:.1f}, backward {p8[1]:.1f}, "
                       f"optimizer {p8[2]:.1f} ms; E = 64 {p64[0]:.1f}, {p64[1]:.1f}, {p64[2]:.1f} ms. The work "
                       f"is the same (K experts a token); the parameters grow {m8:.0f} → {m64:.0f} MiB. AdamW's "
                       f"pass moves {gb:.2f} GB a step at E = 64 (7 floats a parameter) in {p64[2]:.1f} ms, "
                       f"{bw:.0f} GB/s: the bandwidth bound. 0.85 leaves forward and backward {allow:.1f} ms to "
                       f"grow after the optimizer's {p64[2] - p8[2]:.1f}; they grow {grow:.1f} ms, each expert's "
                       f"weights read from memory by the one thread that multiplies them (the attempts to hide "
                       f"that read, measured: docs/PERFORMANCE.md).")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--csv", default="results/bench/bench.csv")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        return child(a.child, a.steps, a.threads)

    rows = read_rows(a.csv)
    if rows is None:
        print(f"bench_torch: {a.csv} not found: run tests/bench first (make bench)", file=sys.stderr)
        return 1
    rows = [r for r in rows if not mine(r)]
    th = a.threads
    try:  # the model's own imports and one backward (a torch only partly there is not there)
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import torch
        import torch_moe
        note = None if torch_moe.probe() == 0 else NOT_INSTALLED
    except Exception:  # noqa: BLE001  (any failure of a broken install: ImportError, OSError, ...)
        note = NOT_INSTALLED
    new = []
    if note is None:
        print(f"PyTorch {torch.__version__} side by side (issue 26): {sys.executable}, {th} threads, "
              f"{a.steps} timed steps (text std at most 10)", flush=True)
        peak = num(ours_row(rows, "kernels gemm peak", "gflops", th))
        for cfg in CONFIGS:
            name = f"pytorch {cfg} adamw"
            res, rss, err = run_child(cfg, a.steps, th)
            if res is None:
                print(f"bench_torch: {cfg}: {err}", file=sys.stderr)
                new.append(row(name, th, "tokens_per_s", "", "tok/s", status="ERROR"))
                continue
            ts, n = res["times"], res["tokens"]
            med, p25, p75 = statistics.median(ts), quantile(ts, 0.25), quantile(ts, 0.75)
            new.append(row(name, th, "tokens_per_s", n / med, "tok/s", n / p75, n / p25))
            new.append(row(name, th, "step_time", med * 1e3, "ms", p25 * 1e3, p75 * 1e3))
            rss = res["rss"]
            new.append(row(name, th, "peak_rss", rss, "MiB", rss, rss))
            ours_flops = num(ours_row(rows, f"{cfg} adamw step", "matmul_gflop"))
            fl = res["flops"] * 1e-9
            agree = "-" if ours_flops is None else ("PASS" if abs(fl - ours_flops) <= 1e-3 * ours_flops else "MISS")
            new.append(row(f"pytorch {cfg} adamw step", 0, "matmul_gflop", fl, "GFLOP", fl, fl,
                           target="= bench.c's" if ours_flops is not None else "", status=agree))
            if peak:
                share = lambda t: 100 * res["flops"] / t / (peak * 1e9)
                new.append(row(f"{name} gemm share", th, "gemm_share", share(med), "%", share(p75), share(p25)))
            if "openblas" not in res["blas"] and "mkl" not in res["blas"]:
                print(f"  NOTE: PyTorch multiplied with {res['blas']} (netlib's reference BLAS?): not a fair "
                      "comparison; apt-get install libopenblas0-openmp")
            print(f"  {cfg}: {n / med:,.0f} tok/s ({n / p75:,.0f}–{n / p25:,.0f}), {med * 1e3:.1f} ms a step, "
                  f"peak RSS {rss:.0f} MiB, loss {res['loss']:.3f}, {res['threads']} threads, BLAS {res['blas']}; "
                  f"matrix FLOPs {fl:.3f} G by the profiler"
                  + (f" ({agree} against bench.c's {ours_flops:.3f} G)" if ours_flops is not None else ""), flush=True)
        ours_t = num(ours_row(rows, "text std adamw", "tokens_per_s", th))
        ours_s = num(ours_row(rows, "std adamw", "tokens_per_s", th))
        for cfg, ours_v, goal in (("text std", ours_t, 5.0), ("std", ours_s, None)):
            pt = num(next((r for r in new if r["name"] == f"pytorch {cfg} adamw" and r["metric"] == "tokens_per_s"), None))
            if ours_v and pt:
                v = ours_v / pt
                st = "-" if goal is None else ("PASS" if v >= goal else "MISS")
                new.append(row(f"{cfg} ours/pytorch", th, "tps_ratio", v, "x", v, v,
                               target=f">={goal:g}" if goal else "", status=st))
    else:
        print(f"bench_torch: PyTorch side by side skipped: torch is {NOT_INSTALLED} for {sys.executable}")
        for cfg in CONFIGS:
            new.append(row(f"pytorch {cfg} adamw", th, "tokens_per_s", "", "tok/s",
                           status="SKIP: no python3 with torch (apt-get install python3-torch)"))
    rows += new
    try:
        write_rows(a.csv, rows)
        print(f"  added {len(new)} rows to {a.csv}")
    except OSError as ex:
        print(f"bench_torch: cannot write {a.csv}: {ex.strerror}", file=sys.stderr)
        return 1
    print(f"\nissue 26's targets, {th} threads (load average now {os.getloadavg()[0]:.2f}):")
    table(rows, note, th)
    return 0


if __name__ == "__main__":
    sys.exit(main())
