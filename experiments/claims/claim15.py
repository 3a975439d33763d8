"""claim15.py — claim 15: switching the balancing scope

measure(root, seeds) reads the files into numbers, verdict(q, rule) decides, describe(res, d) writes
the page's text and figures. The rule's thresholds and sentence are in rules/claim15.toml.
"""
import math
import os

from .table import Missing, Results, cap, entry, mean, pearson, read_csv as rows, sd, seed_of
from .table import fmt as f2
from .svg import svg_points

# ---- claim 15: switching the balancing scope -------------------------------------------------------

EXPERIMENTS = ["claim15_switch_scope/baselines", "claim15_switch_scope/switch"]
SEED_SPLIT = True


def verdict(q, rule):
    """Specialization half (FreqSim) and perplexity half (eval CE, the log of perplexity): the switch
    recovers at least a share of global balancing's advantage over micro-batch balancing."""
    freqsim = q["f_micro"] - q["f_switch"] >= rule["recovered_share"] * (q["f_micro"] - q["f_global"])
    ce = q["ce_micro"] - q["ce_switch"] >= rule["recovered_share"] * (q["ce_micro"] - q["ce_global"])
    if freqsim and ce:
        return "reproduced", ""
    if freqsim or ce or q["f_switch"] <= q["f_micro"] - rule["freqsim_some"]:
        return "partly", ""
    return "not reproduced", ""


def numbers(res):
    c = "claim15_switch_scope"
    base = res.rows(c, "baselines", "summary.csv")
    sw = res.rows(c, "switch", "summary.csv")
    st1 = res.rows(c, "stage1", "summary.csv")

    def col(rr, name, **kw):
        return [float(r[name]) for r in rr if all(r.get(k) == v for k, v in kw.items())]
    n = {}
    for key, short in (("freqsim_cross_domain", "f"), ("nmi_domain_expert", "nmi"), ("eval_ce", "ce")):
        n[f"{short}_micro"] = mean(col(base, key, **{"balance.scope": "micro"}))
        n[f"{short}_global"] = mean(col(base, key, **{"balance.scope": "global"}))
        n[f"{short}_switch"] = mean(col(sw, key))
    n["f_stage1"] = mean(col(st1, "freqsim_cross_domain"))
    n["seeds"] = len(col(sw, "eval_ce"))
    return n


def measure(root, seeds=None):
    """Last-layer cross-domain FreqSim and eval CE, mean over kept seeds: micro throughout, switched
    after half the steps, global throughout."""
    n = numbers(Results(root, seeds, figures=False))
    return {k: n[k] for k in ("f_micro", "f_switch", "f_global", "ce_micro", "ce_switch", "ce_global")}


def describe(res, d):
    n = numbers(res)
    fm, fs, fg, f1 = n["f_micro"], n["f_switch"], n["f_global"], n["f_stage1"]
    nm, ns, ng = n["nmi_micro"], n["nmi_switch"], n["nmi_global"]
    cm, cs, cg = n["ce_micro"], n["ce_switch"], n["ce_global"]
    v = d["verdict"]
    svg_points(res.fig("claim15_switch.svg"), "Claim 15: switching from micro to global balancing at step 100",
               [("cross-domain FreqSim (last layer)", "FreqSim", [("micro → global", [(0, f1), (1, fs)]),
                                                                  ("micro throughout", [(1, fm)]),
                                                                  ("global throughout", [(1, fg)])])],
               "0: step 100, 1: step 200")
    measured = (f"cross-domain FreqSim micro {f2(fm)}, switched {f2(fs)} (after the micro half {f2(f1)}), global {f2(fg)}; "
                f"NMI {f2(nm, 3)} / {f2(ns, 3)} / {f2(ng, 3)}; eval CE {f2(cm, 3)} / {f2(cs, 3)} / {f2(cg, 3)} "
                f"(perplexity {f2(math.exp(cm))} / {f2(math.exp(cs))} / {f2(math.exp(cg))}) ({n['seeds']} seeds)")
    ce_rec = (cm - cs) / (cm - cg) if cm != cg else float("nan")
    f_rec = (fm - fs) / (fm - fg) if fm != fg else float("nan")
    return entry(
        "15. Switching micro → global balancing part-way", "Qiu et al. 2025 (abstract)",
        ["claim15_stage1", "claim15_switch", "claim15_baselines"],
        "global-batch balancing gives better pre-training perplexity and much stronger domain specialization than "
        "micro-batch balancing (the abstract; switching part-way is our test of that setting, not a result we read)",
        measured, v, [("figures/claim15_switch.svg", "switch")],
        "Qiu et al. 2025 (arXiv 2501.11873; we read its abstract only): computing the balancing loss over the "
        "global batch instead of the micro-batch \"yields excellent performance gains in both pre-training "
        "perplexity and downstream tasks\" and \"greatly improves the domain specialization\" of the experts "
        "(MoEs up to 42.8B parameters, 400B tokens). The abstract does not describe switching from one to the "
        "other part-way through training; an earlier version of this page attributed that experiment to Qiu et "
        "al.'s Table 3, which we have not read. Here the switch is our own test of whether global balancing's "
        "benefit, in the two quantities the abstract reports (perplexity, specialization), comes back when it "
        "starts half-way.",
        d["text"],
        "100 steps of micro-batch balancing (one domain per micro-batch) continued for 100 steps with global "
        "balancing through a warm start (`train.init_from`, optimizer state included), against 200 steps of each, "
        f"{n['seeds']} seeds. {cap(measured)}. The switch recovers {f2(100 * f_rec, 0)}% of the FreqSim gap and "
        f"{f2(100 * ce_rec, 0)}% of the eval CE gap between micro and global balancing"
        + (": the switch recovers nothing on eval CE (it ends no better than micro-batch balancing throughout)."
           if cs >= cm else "."))
