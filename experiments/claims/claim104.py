"""claim104.py — claim 4 on real text (issue 23): balancing groups of m = 1, 4, 32 sequences under
micro-batch balancing with mixed micro-batches; rules/claim104.toml (claim 4's verdict function).
"""
from .claim04 import verdict
from .table import Results, m, pmc, sel
from .textrow import baseline_text, row

EXPERIMENTS = ["text_claim04_small_batch"]
SEED_SPLIT = True
F = "freqsim_cross_domain"
GROUPS = [1, 4, 32]


def measure(root, seeds=None):
    rows = Results(root, seeds, figures=False).load("text_claim04_small_batch")
    return dict(freqsim=[m(sel(rows, micro_batch=x), F) for x in GROUPS])


RULE_CODE = [verdict]


def describe(res, d):
    rows = res.load("text_claim04_small_batch")
    fs = [pmc(sel(rows, micro_batch=x), F) for x in GROUPS]
    return row(4, "Small balancing groups collapse specialization", "Qiu et al. 2025 (abstract); the paper §4.1",
               EXPERIMENTS, "as claim 4, on 7 languages: the smaller the group the balancing loss is computed over, "
               "the more alike the languages' expert usage",
               "cross-domain FreqSim at groups of m = " + ", ".join(f"{x}: {f}" for x, f in zip(GROUPS, fs)),
               d["verdict"], "As claim 4, with languages as domains and mixed micro-batches.", d["text"],
               f"Micro-batch balancing over groups of m = 1, 4 and 32 sequences of mixed languages "
               f"({baseline_text(res, 'text_claim04_small_batch', rows)}): cross-domain FreqSim "
               + ", ".join(f"{f} (m = {x})" for x, f in zip(GROUPS, fs)) + ".")
