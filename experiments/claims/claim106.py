"""claim106.py — claim 6 on real text (issue 23): Muon vs AdamW geometry on 7 languages (4 layers);
rules/claim106.toml (claim 6's verdict function).
"""
from .claim06 import measure as measure06, verdict
from .table import fmt_list, pmc, sel
from .textrow import baseline_text, row

EXPERIMENTS = ["text_claim06_optimizers"]
SEED_SPLIT = True


def measure(root, seeds=None):
    return measure06(root, seeds, exp="text_claim06_optimizers")


RULE_CODE = [verdict]


def describe(res, d):
    rows = res.load("text_claim06_optimizers")
    q = measure(res.root, res.seeds)
    meas = "; ".join(f"{o}: token-norm CV per layer {fmt_list(q['cv_' + o])}, hidden cosine {fmt_list(q['cos_' + o])}, "
                     f"energy of v1 {fmt_list(q['energy_' + o])}, eval CE {pmc(sel(rows, name=o), 'eval_ce', 3)}"
                     for o in ("adamw", "muon"))
    return row(6, "Muon vs AdamW: token norms and geometry", "the paper §4.1, Fig. 11", EXPERIMENTS,
               "as claim 6, on 7 languages (4 layers)", meas, d["verdict"],
               "As claim 6 (Fig. 11: Muon concentrates token norms at similar cosines; the energy of v1 under "
               "AdamW with depth), on real text.", d["text"],
               f"On 7 languages ({baseline_text(res, 'text_claim06_optimizers', rows)}): {meas}.")
