"""textrow.py — what the real-text settings of claims 3-17 (issue 23) share: the row's frame, the
corpus baselines read from a run's manifest.json, and the measured text. Each text setting is its
own module (claim103.py for claim 3 on text, ...), with its own rule file (rules/claim103.toml),
judged like every other rule; most reuse their domain claim's verdict function unchanged.
"""
import json
import os

from .table import entry, fmt, mean


def baselines(res, exp, rows):
    """(mean eval CE, mean bigram CE, mean unigram CE) over the runs (nats per byte, the runs'
    manifest.json `baselines`; NaN where a run has none)."""
    ce, bi, uni = [], [], []
    for r in rows:
        path = os.path.join(res.run_dir(exp, r), "manifest.json")
        with open(path) as f:
            man = json.load(f)
        b = man.get("baselines") or {}
        ce.append(float(man.get("eval_ce") or "nan"))
        bi.append(float(b.get("bigram_ce") or "nan"))
        uni.append(float(b.get("unigram_ce") or "nan"))
    return mean(ce), mean(bi), mean(uni)


def baseline_text(res, exp, rows):
    ce, bi, uni = baselines(res, exp, rows)
    below = "below" if ce < bi else "NOT below"
    return (f"eval CE {fmt(ce, 3)} nats/byte, {below} the corpus's bigram {fmt(bi, 3)} (unigram {fmt(uni, 3)}), "
            f"on the same evaluation documents")


def row(n, title, source, files, short, measured, verdict, shows, rule, paragraph, table=None, plots=None):
    c = entry(f"{n} (real text). {title}", source, files, short, measured, verdict, plots or [], shows, rule,
              paragraph)
    if table:
        c["table"] = table
    return c
