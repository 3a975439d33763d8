"""claim16.py — claim 16: sequence-level similarity

measure(root, seeds) reads the files into numbers, verdict(q, rule) decides, describe(res, d) writes
the page's text and figures. The rule's thresholds and sentence are in rules/claim16.toml.
"""
import math
import os

from .table import Missing, Results, cap, entry, mean, pearson, read_csv as rows, sd, seed_of
from .table import fmt as f2
from .svg import svg_points

# ---- claim 16: sequence-level similarity (Fig. 5) ----------------------------------------------------

EXPERIMENTS = ["claim05_auxfree"]
SEED_SPLIT = True


def verdict(q, rule):
    """Fig. 5: correlation of FreqSim and pooled cosine over sequence pairs, and one-domain pairs above
    two-domain pairs in every run."""
    if q["corr"] >= rule["corr"] and q["ordered"]:
        return "reproduced", ""
    return ("partly" if q["corr"] >= rule["corr"] or q["ordered"] else "not reproduced"), ""


def ordered_runs(rr):
    g = lambda r, k: float(r[k])
    return all(g(r, "pooled_cosine_seq_same_domain") > g(r, "pooled_cosine_seq_cross_domain") and
               g(r, "freqsim_seq_same_domain") > g(r, "freqsim_seq_cross_domain") for r in rr)


def measure(root, seeds=None):
    """Mean correlation over the kept runs of claim05_auxfree, and whether every run is ordered (1/0)."""
    rr = Results(root, seeds, figures=False).load("claim05_auxfree")
    return dict(corr=mean([float(r["freqsim_pooled_corr"]) for r in rr]), ordered=int(ordered_runs(rr)))


def describe(res, d):
    out = res.root
    rr = res.load("claim05_auxfree")
    g = lambda r, k: float(r[k])
    corr = mean([g(r, "freqsim_pooled_corr") for r in rr])
    ordered = ordered_runs(rr)
    v = d["verdict"]
    col = lambda k: mean([g(r, k) for r in rr])
    measured = (f"last layer, {len(rr)} runs (no balancing, Switch, aux-free × 3 seeds): correlation of FreqSim and "
                f"pooled cosine over sequence pairs {f2(corr)} ± {f2(sd([g(r, 'freqsim_pooled_corr') for r in rr]))}; "
                f"pairs of one domain: pooled cosine {f2(col('pooled_cosine_seq_same_domain'))}, FreqSim "
                f"{f2(col('freqsim_seq_same_domain'))}; of two domains: {f2(col('pooled_cosine_seq_cross_domain'))}, "
                f"{f2(col('freqsim_seq_cross_domain'))}; ordered in every run: {'yes' if ordered else 'no'}")
    return entry(
        "16. Similar sequences use similar experts", "the paper §4.3, Fig. 5 (Figs. 20-22)", ["claim05_auxfree"],
        "over pairs of sequences, pooled hidden-state similarity strongly correlates with expert-usage "
        "similarity in all five models; cross-dataset pairs sit at lower hidden-state similarity",
        measured, v, [],
        "The paper compares 100 OpenWebText and 100 Nemotron-CC-Math sequences pairwise, within and across the two "
        "datasets, at the middle layer of five models: the cosine of pooled, token-normalized hidden states "
        "(Eq. 17) strongly correlates with the cosine of the sequences' expert-frequency vectors (Eq. 14), some "
        "models show a triangle (similar sequences use similar experts, dissimilar ones either), and cross-dataset "
        "pairs cluster at lower hidden-state similarity, which explains 'specialist' experts at the dataset level.",
        d["text"],
        "The keys `freqsim_pooled_corr` and the four `*_seq_same_domain` / `*_seq_cross_domain` keys of claim 5's "
        "runs (the domains world's 8 domains play the datasets; all pairs of evaluation sequences, or 4096 "
        f"sampled pairs when there are more). {cap(measured)}.")
