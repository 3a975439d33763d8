"""claim105.py — claim 5 on real text (issue 23): aux-free balancing against the Switch loss (α = 0.01
in text_claim05_auxfree); rules/claim105.toml (claim 5's verdict function).
"""
from .claim05 import verdict
from .table import Results, m, pmc, sel
from .textrow import baseline_text, row

EXPERIMENTS = ["text_claim05_auxfree"]
SEED_SPLIT = True


def measure(root, seeds=None):
    rows = Results(root, seeds, figures=False).load("text_claim05_auxfree")
    aux, sw = sel(rows, method="auxfree"), sel(rows, method="switch")
    return dict(maxvio_auxfree=m(aux, "maxvio"), maxvio_switch=m(sw, "maxvio"), ce_auxfree=m(aux, "eval_ce"),
                ce_switch=m(sw, "eval_ce"))


RULE_CODE = [verdict]


def describe(res, d):
    rows = res.load("text_claim05_auxfree")
    g = {x: sel(rows, method=x) for x in ("none", "auxfree", "switch")}
    meas = "; ".join(f"{x}: MaxVio {pmc(g[x], 'maxvio')}, eval CE {pmc(g[x], 'eval_ce', 3)}" for x in g)
    return row(5, "Aux-loss-free balancing balances better at equal loss", "Wang et al. 2024; the paper §4.1",
               EXPERIMENTS, "as claim 5, on 7 languages", meas, d["verdict"],
               "As claim 5 (Wang et al. 2024: aux-free balancing reaches a lower MaxVio than the auxiliary loss "
               "without a worse loss), on real text.", d["text"],
               f"On 7 languages ({baseline_text(res, 'text_claim05_auxfree', rows)}): {meas}.")
