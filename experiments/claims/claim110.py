"""claim110.py — claim 10 on real text (issue 23): duplicated evaluation sequences (n = 1, 4, 12
copies of 8 bytes); rules/claim110.toml (claim 10's two halves).
"""
from .claim10 import halves
from .table import Results, fmt_list, mean, sel, vals
from .textrow import baseline_text, row

EXPERIMENTS = ["text_claim10_duplicate"]
SEED_SPLIT = True
NS = [1, 4, 12]


def measure(root, seeds=None):
    rows = Results(root, seeds, figures=False).load("text_claim10_duplicate")
    col = lambda c: [mean(vals(sel(rows, duplicate=n), c)) for n in NS]
    X, I = col("freqsim_seq_cross_domain"), col("freqsim_seq_same_domain")
    return dict(X=X, R=[x / i for x, i in zip(X, I)], energy=col("energy_first"), logit_norm=col("logit_norm_mean"),
                out_norm=col("output_logit_norm"), out_prob=col("output_max_prob"))


def verdict(q, rule):
    """Claim 10's usage half (X and X/I rise) and mechanism half (energy of v1, router logit norm),
    n = 1 against n = 12: both reproduced, one partly, neither not reproduced."""
    usage, mech = halves(q["X"], q["R"], q["energy"], q["logit_norm"], rule)
    return ("reproduced" if usage and mech else "partly" if usage or mech else "not reproduced"), \
        ("usage half" if usage and not mech else "mechanism half" if mech and not usage else "")


RULE_CODE = [halves, verdict]


def describe(res, d):
    rows = res.load("text_claim10_duplicate")
    q = measure(res.root, res.seeds)
    meas = (f"n = {', '.join(map(str, NS))}: cross-domain sequence FreqSim {fmt_list(q['X'])}, ratio to same-domain "
            f"{fmt_list(q['R'])}, energy of v1 {fmt_list(q['energy'])}, router logit norm {fmt_list(q['logit_norm'])}; "
            f"output logits' norm {fmt_list(q['out_norm'])}, next-byte confidence {fmt_list(q['out_prob'])}")
    return row(10, "Duplicated inputs collapse expert usage", "the paper §4.3, Figs. 10, 26, 29", EXPERIMENTS,
               "as claim 10, on 7 languages: 8 bytes of a document repeated n times, measured on the last copy",
               meas, d["verdict"], "As claim 10 (duplicating a sequence raises cross-domain usage similarity, with a "
               "stronger shared direction and larger logits), on real text.", d["text"],
               f"On 7 languages ({baseline_text(res, 'text_claim10_duplicate', sel(rows, duplicate=1))}, n = 1): {meas}.")
