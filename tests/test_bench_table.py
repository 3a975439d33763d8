#!/usr/bin/env python3
"""test_bench_table.py — issue 26's table and its bounds (tests/bench_torch.py's table() and
bounds()), on rows made up here and worked out by hand: each target's PASS and MISS on both sides
of its threshold, and each bound's arithmetic (the products' time at the step mix's rate, the step
×5 PyTorch would need, AdamW's bytes and bandwidth at E = 64, what 0.85 leaves the forward and
backward). Needs no torch. Prints "test_bench_table: N passed, M failed, K skipped" last.
"""
# covers: tests/bench_torch.py
import contextlib
import io
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_torch as bt  # noqa: E402

passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"test_bench_table: FAILED: {what}")


def rows_of(values):
    """values: {(name, threads, metric): value} -> the CSV's rows."""
    return [bt.row(n, t, m, v, "") for (n, t, m), v in values.items()]


# A run worked out by hand (2 threads; the peak is 320 GFLOP/s):
BASE = {
    ("kernels gemm peak", 2, "gflops"): 320.0,
    # std: 12 GFLOP of products in an 80 ms step = 150 GFLOP/s = 46.875 % of the peak
    ("std adamw", 2, "tokens_per_s"): 25600.0,
    ("std adamw", 2, "step_time"): 80.0,
    ("std adamw step", 0, "matmul_gflop_run"): 12.0,
    ("std adamw gemm share", 2, "gemm_share"): 46.875,
    ("kernels gemm std step mix", 2, "gflops"): 240.0,  # its 10 GFLOP at 240 = 41.7 ms; the other 38.3
    ("kernels gemm std step mix", 0, "matmul_gflop"): 10.0,
    ("std adamw phase", 2, "forward"): 27.0,
    ("std adamw phase", 2, "backward"): 49.0,
    ("std adamw phase", 2, "optimizer"): 3.5,
    # text std: 4,000 tok/s, a 1,000 ms step (4,000 tokens); PyTorch 1,000 tok/s, so ×4.
    # ×5 is a step of 800 ms: 120 GFLOP in 800 ms = 150 GFLOP/s, under the mix's 200: the other
    # passes may take 800 - 600 = 200 ms.
    ("text std adamw", 2, "tokens_per_s"): 4000.0,
    ("text std adamw", 2, "step_time"): 1000.0,
    ("pytorch text std adamw", 2, "tokens_per_s"): 1000.0,
    ("text std adamw step", 0, "matmul_gflop_run"): 120.0,
    ("text std adamw gemm share", 2, "gemm_share"): 37.5,
    ("kernels gemm text std step mix", 2, "gflops"): 200.0,  # its 100 GFLOP at 200: 500 ms of 1,000
    ("kernels gemm text std step mix", 0, "matmul_gflop"): 100.0,
    ("text std adamw phase", 2, "forward"): 350.0,
    ("text std adamw phase", 2, "backward"): 630.0,
    ("text std adamw phase", 2, "optimizer"): 20.0,
    # E = 8: 30 + 50 + 2 = 82 ms; E = 64: 36 + 58 + 9 = 103 ms; ratio by tokens/s 0.8.
    # 0.85 allows 82/0.85 - 82 = 14.47 ms; the optimizer takes 7 of it: 7.47 ms for forward and
    # backward, which grow 14. AdamW: 7 x 100 MiB = 0.734 GB in 9 ms = 81.6 GB/s.
    ("experts E=8", 2, "tokens_per_s"): 25000.0,
    ("experts E=64", 2, "tokens_per_s"): 20000.0,
    ("experts E=64/E=8", 2, "tps_ratio"): 0.8,
    ("experts E=8 phase", 2, "forward"): 30.0,
    ("experts E=8 phase", 2, "backward"): 50.0,
    ("experts E=8 phase", 2, "optimizer"): 2.0,
    ("experts E=64 phase", 2, "forward"): 36.0,
    ("experts E=64 phase", 2, "backward"): 58.0,
    ("experts E=64 phase", 2, "optimizer"): 9.0,
    ("experts E=8", 2, "params"): 12.0,
    ("experts E=64", 2, "params"): 100.0,
    ("std adamw recompute", 2, "peak_rss"): 99.0,
    ("text std recompute/floor", 2, "mem_ratio"): 1.51,
    ("text std adamw floor", 2, "fp32_adamw_floor"): 400.0,
    ("text std T=1024/T=256", 2, "tps_ratio"): 0.6,
}


def printed(values):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        bt.table(rows_of(values), None, 2)
    return buf.getvalue()


def status_of(text, measure_start):
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 6 and (cells[0] + ", " + cells[1]).startswith(measure_start):
            return cells[5]
    return None


def main():
    out = printed(BASE)
    # statuses on the side each value lies, against the thresholds
    check(status_of(out, "std, share") == "MISS", "std share 46.9 % < 65 % is a MISS")
    check(status_of(out, "text std, tokens/s") == "MISS", "text std ×4 < ×5 is a MISS")
    check("×4.00" in out, "text std's ratio printed as ×4.00")
    check(status_of(out, "text std, share") == "MISS", "text share 37.5 % < 60 % is a MISS")
    check(status_of(out, "std, E = 64") == "MISS", "0.80 < 0.85 is a MISS")
    check(status_of(out, "std with train.recompute") == "PASS", "99 MiB ≤ 100 is a PASS")
    check(status_of(out, "text std with train.recompute") == "MISS", "1.51× > 1.5× is a MISS")
    check(status_of(out, "T = 1024") == "PASS", "0.60 ≥ 0.6 is a PASS (the bound is inclusive)")
    other = dict(BASE)
    other[("std adamw gemm share", 2, "gemm_share")] = 65.0
    other[("pytorch text std adamw", 2, "tokens_per_s")] = 799.0  # ×5.006
    other[("text std adamw gemm share", 2, "gemm_share")] = 60.0
    other[("experts E=64/E=8", 2, "tps_ratio")] = 0.85
    other[("std adamw recompute", 2, "peak_rss")] = 100.1
    other[("text std recompute/floor", 2, "mem_ratio")] = 1.5
    other[("text std T=1024/T=256", 2, "tps_ratio")] = 0.599
    out2 = printed(other)
    for m, st in (("std, share", "PASS"), ("text std, tokens/s", "PASS"), ("text std, share", "PASS"),
                  ("std, E = 64", "PASS"), ("std with train.recompute", "MISS"),
                  ("text std with train.recompute", "PASS"), ("T = 1024", "MISS")):
        check(status_of(out2, m) == st, f"{m}: {st} on the other side of its threshold")
    check("What bounds each MISS" not in printed({k: v for k, v in other.items()
                                                  if k[0] not in ("std adamw recompute", "text std T=1024/T=256")}),
          "no bounds section when nothing is missed")

    # the bounds, by hand (see BASE's comments)
    b = " ".join(bt.bounds(rows_of(BASE), 2, {
        "std, share of our own gemm peak over the whole step", "text std, tokens/s against PyTorch",
        "text std, share of our own gemm peak over the whole step", "std, E = 64 / E = 8, tokens/s ratio"}))
    b = " ".join(b.split())
    check("run at 240 GFLOP/s, 75 % of the 320 GFLOP/s peak" in b, "std: the mix's share of the peak (240/320)")
    check("10.00 of the step's 12.00 GFLOP" in b, "std: what the mix covers")
    check("the other 2.00 GFLOP" in b, "std: what it does not, 12 - 10")
    check("the linear layers take 41.7 ms of the 80.0 ms step" in b, "std: the mix's time 10/240 s")
    check("the other 38.3 ms" in b, "std: the rest of the step, 80 - 41.7")
    check("forward 27.0, backward 49.0, optimizer 3.5 ms" in b, "std: the phases")
    check("5 × 1,000 tok/s is 5,000 tok/s, a step of 800 ms (now 1000)" in b, "text: the step ×5 needs")
    check("at 150 GFLOP/s, 47 % of our peak" in b, "text: 120 GFLOP in 0.8 s")
    check("shrink to 200 ms" in b, "text: 800 - 120/200 s (the whole step's products at the mix's rate)")
    check("run at 200 GFLOP/s, 62 % of the 320 GFLOP/s peak" in b, "text share: the text mix (200/320 = 62.5)")
    check("the linear layers take 500.0 ms of the 1000.0 ms step" in b, "text share: the mix's time 100/200 s")
    check("parameters grow 12 → 100 MiB" in b, "E=64: parameters")
    check("moves 0.73 GB a step at E = 64" in b, "E=64: 7 × 100 MiB = 0.734 GB")
    check("in 9.0 ms, 82 GB/s" in b, "E=64: 0.734 GB / 9 ms = 81.6 GB/s")
    check("leaves forward and backward 7.5 ms to grow after the optimizer's 7.0" in b,
          "E=64: 82/0.85 - 82 - 7 = 7.47 ms")
    check("they grow 14.0 ms" in b, "E=64: (36 - 30) + (58 - 50)")
    # the text bound's other branch: ×5 beyond what the products reach alone
    fast = dict(BASE)
    fast[("pytorch text std adamw", 2, "tokens_per_s")] = 2000.0  # ×5 = 10,000 tok/s: 400 ms, 300 GFLOP/s
    b2 = " ".join(" ".join(bt.bounds(rows_of(fast), 2, {"text std, tokens/s against PyTorch"})).split())
    check("at 300 GFLOP/s" in b2 and "more than the products alone reach" in b2,
          "text: 300 GFLOP/s needed > the mix's 200: out of reach for this gemm")
    # a row missing: the bound says it was not measured instead of guessing
    part = {k: v for k, v in BASE.items() if k[0] != "experts E=64 phase"}
    b3 = " ".join(bt.bounds(rows_of(part), 2, {"std, E = 64 / E = 8, tokens/s ratio"}))
    check("not measured in this run" in b3, "E=64 without its phases: not measured")
    print(f"test_bench_table: {passed} passed, {failed} failed, 0 skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
