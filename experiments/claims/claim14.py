"""claim14.py — claim 14: truncation

measure(root, seeds) reads the files into numbers, verdict(q, rule) decides, describe(res, d) writes
the page's text and figures. The rule's thresholds and sentence are in rules/claim14.toml.
"""
import math
import os

from .table import Missing, Results, cap, entry, mean, pearson, read_csv as rows, sd, seed_of
from .table import fmt as f2
from .svg import svg_points

# ---- claim 14: truncation ---------------------------------------------------------------------------

EXPERIMENTS = ["claim11_cross_model/models"]
SEED_SPLIT = True


def verdict(q, rule):
    """Fig. 24: the top expert kept better than the K-th in nearly every case, and well at half rank."""
    if q["mono"] >= rule["mono_share"] and q["m1_half"] >= rule["m1_half"]:
        return "reproduced", ""
    return ("partly" if q["mono"] >= rule["mono_share"] else "not reproduced"), ""


def truncation(c, keep=lambda s: True):
    """Over the kept models' truncation.csv: (model, layer, rank < D) cases and those where m = 1 agrees
    more than m = K; the agreement of m = 1 and m = K at rank D/2; the curves; D and K."""
    if not os.path.isdir(c):
        raise Missing(c)
    cases = good = 0
    half1, halfK, curves = [], [], {}
    D = K = None
    for m in sorted(os.listdir(c)):
        f = os.path.join(c, m, "truncation.csv")
        if not os.path.exists(f) or (seed_of(m) is not None and not keep(seed_of(m))):
            continue
        rr = rows(f)
        D = max(int(r["rank"]) for r in rr)
        K = max(int(r["m"]) for r in rr)
        for layer in sorted({int(r["layer"]) for r in rr}):
            sel = {(int(r["rank"]), int(r["m"])): float(r["agreement"]) for r in rr if int(r["layer"]) == layer}
            for rank in sorted({k[0] for k in sel}):
                if rank < D:
                    cases += 1
                    good += sel[(rank, 1)] > sel[(rank, K)]
                for mm in range(1, K + 1):
                    curves.setdefault((layer, mm), {}).setdefault(rank, []).append(sel[(rank, mm)])
            half1.append(sel[(D // 2, 1)])
            halfK.append(sel[(D // 2, K)])
    return cases, good, half1, halfK, curves, D, K


def measure(root, seeds=None):
    res = Results(root, seeds, figures=False)
    cases, good, half1, *_ = truncation(res.path("claim11_cross_model", "models"), res.keep)
    return dict(mono=good / cases if cases else float("nan"), m1_half=mean(half1))


def describe(res, d):
    out = res.root
    c = os.path.join(out, "claim11_cross_model", "models")
    cases, good, half1, halfK, curves, D, K = truncation(c, res.keep)
    mono = good / cases if cases else float("nan")
    v = d["verdict"]
    panels = []
    for layer in sorted({k[0] for k in curves}):
        series = [(f"m = {mm}", sorted((r, mean(x)) for r, x in curves[(layer, mm)].items()))
                  for mm in range(1, K + 1)]
        panels.append((f"layer {layer}", "agreement with the original", series))
    svg_points(res.fig("claim14_truncation.svg"), "Claim 14: the m-th expert kept under truncation to the top r directions",
               panels, "directions kept r")
    measured = (f"agreement of the m = 1 expert above that of m = {K} in {good} of {cases} (model, layer, rank < {D}) cases; "
                f"at r = {D // 2} of {D}: m = 1 {f2(mean(half1))} ± {f2(sd(half1))}, m = {K} {f2(mean(halfK))} ± {f2(sd(halfK))}")
    return entry(
        "14. The top expert is set by the leading directions", "the paper App. C, Fig. 24", ["claim11_models"],
        "keeping the top-K directions of the router input preserves the largest-logit expert far better than "
        "lower-ranked ones (>40% of tokens change their 6th expert at K = 1200 of 2048)", measured, v,
        [("figures/claim14_truncation.svg", "agreement vs r")],
        "The paper keeps only the top-K right singular directions of the post-attention hidden states (50,000 "
        "tokens of Nemotron-CC-Math at the 10th layer of each model): the expert with the largest logit (m = 1) "
        "agrees with the original routing for most tokens, lower-ranked ones much less (more than 40% of tokens "
        "use another 6th expert at K = 1200 of 2048 directions).",
        d["text"],
        "`truncation.csv` of claim 11's six models (the router input over the evaluation set, every layer; "
        f"`sim/measure/truncation.c`). {cap(measured)}.")
