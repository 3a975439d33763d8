"""claim116.py — claim 16 on real text (issue 23): similar sequences use similar experts, on the runs
of text_claim05_auxfree; rules/claim116.toml (claim 16's verdict function).
"""
from .claim16 import ordered_runs, verdict
from .table import Results, fmt, mean, sd
from .textrow import row

EXPERIMENTS = ["text_claim05_auxfree"]
SEED_SPLIT = True


def measure(root, seeds=None):
    rr = Results(root, seeds, figures=False).load("text_claim05_auxfree")
    return dict(corr=mean([float(r["freqsim_pooled_corr"]) for r in rr]), ordered=int(ordered_runs(rr)))


RULE_CODE = [verdict]


def describe(res, d):
    rr = res.load("text_claim05_auxfree")
    g = lambda k: mean([float(r[k]) for r in rr])
    corr = [float(r["freqsim_pooled_corr"]) for r in rr]
    meas = (f"last layer, {len(rr)} runs: correlation of FreqSim and pooled cosine over sequence pairs "
            f"{fmt(mean(corr))} ± {fmt(sd(corr))}; one language: pooled cosine {fmt(g('pooled_cosine_seq_same_domain'))}, "
            f"FreqSim {fmt(g('freqsim_seq_same_domain'))}; two languages: {fmt(g('pooled_cosine_seq_cross_domain'))}, "
            f"{fmt(g('freqsim_seq_cross_domain'))}; ordered in every run: {'yes' if ordered_runs(rr) else 'no'}")
    return row(16, "Similar sequences use similar experts", "the paper §4.3, Fig. 5", EXPERIMENTS,
               "as claim 16, on 7 languages", meas, d["verdict"],
               "As claim 16 (Fig. 5: pooled hidden-state similarity correlates with expert-usage similarity over "
               "pairs of sequences), on real text.", d["text"], f"On 7 languages: {meas}.")
