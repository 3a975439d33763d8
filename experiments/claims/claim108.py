"""claim108.py — claim 8 on real text (issue 23): router confidence on reversed and shuffled text,
the paper's own setting (Fig. 3); rules/claim108.toml (claim 8's verdict function).
"""
from .claim08 import changes, verdict
from .table import Results, fmt, mean, pmc, sel
from .textrow import baseline_text, row

EXPERIMENTS = ["text_claim08_ood"]
SEED_SPLIT = True


def measure(root, seeds=None):
    rel, neg, tot = changes(Results(root, seeds, figures=False).load("text_claim08_ood"))
    return dict(change_mean=[mean(dd) for t in rel for dd in rel[t]], lower=neg, cases=tot)


RULE_CODE = [verdict]


def describe(res, d):
    rows = res.load("text_claim08_ood")
    q = measure(res.root, res.seeds)
    conf = {t: pmc(sel(rows, transform=t), "router_confidence", 4) for t in ("none", "reverse", "shuffle")}
    ce = {t: pmc(sel(rows, transform=t), "eval_ce", 3) for t in conf}
    meas = (f"router confidence (last layer) original {conf['none']}, reversed {conf['reverse']}, shuffled "
            f"{conf['shuffle']}; lower in {q['lower']} of {q['cases']} (seed, layer, transform) cases; eval CE "
            f"{ce['none']} / {ce['reverse']} / {ce['shuffle']}")
    return row(8, "Routers are less confident on out-of-distribution inputs", "the paper §4.1, Fig. 3", EXPERIMENTS,
               "as claim 8, on 7 languages: reversed and shuffled byte sequences, the paper's own transforms",
               meas, d["verdict"], "As claim 8 (Fig. 3: lower maximum softmax probability on reversed and shuffled "
               "OpenWebText), on real text reversed or shuffled byte by byte.", d["text"],
               f"On 7 languages ({baseline_text(res, 'text_claim08_ood', sel(rows, transform='none'))}): {meas}. "
               f"Mean confidence change per (transform, layer): {', '.join(fmt(x, 1) + '%' for x in q['change_mean'])}.")
