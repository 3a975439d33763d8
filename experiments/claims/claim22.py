"""claim22.py — claim 22 (issue 22): aux-loss-free balancing works better with larger batches
(Wang et al. 2024, Fig. 5, as the paper cites it)

measure(root, seeds) reads the files into numbers, verdict(q, rule) decides, describe(res, d) writes
the page's text and figures. The rule's thresholds and sentence are in rules/claim22.toml.
"""
from .table import Results, entry, fmt, m, pmc, sel
from .svg import layers_like_x

EXPERIMENTS = ["claim22_auxfree_batch"]
SEED_SPLIT = True


def measure(root, seeds=None):
    """{"auxfree 8": mean MaxVio, ...} for every method and batch."""
    rows = Results(root, seeds, figures=False).load("claim22_auxfree_batch")
    bs = sorted({int(r["train.batch"]) for r in rows})
    return {f"{meth} {b}": m(sel(rows, method=meth, batch=b), "maxvio") for meth in ("auxfree", "switch") for b in bs}


def verdict(q, rule):
    """(A) aux-free MaxVio at the large batch <= maxvio_factor x at the small one; (B) its ratio to the
    Switch loss's MaxVio lower at the large batch."""
    s, l_ = int(rule["small_batch"]), int(rule["large_batch"])
    a = q[f"auxfree {l_}"] <= rule["maxvio_factor"] * q[f"auxfree {s}"]
    b = q[f"auxfree {l_}"] / q[f"switch {l_}"] < q[f"auxfree {s}"] / q[f"switch {s}"]
    if a and b:
        return "reproduced", ""
    return ("partly", "B fails") if a else ("not reproduced", "")


def describe(res, d):
    r_ = d["rule"]
    rows = res.load("claim22_auxfree_batch")
    bs = sorted({int(r["train.batch"]) for r in rows})
    cell = lambda meth, b, c="maxvio", dd=2: pmc(sel(rows, method=meth, batch=b), c, dd)
    fig = layers_like_x(res, sel(rows, method="auxfree"), "batch", bs,
                        [("maxvio", "MaxVio (aux-free)"), ("eval_ce", "eval CE (aux-free)")],
                        "claim22_batch.svg", "Aux-free balancing against the training batch", "batch (sequences)")
    q = measure(res.root, res.seeds)
    sb, lb = int(r_["small_batch"]), int(r_["large_batch"])
    table = ["| batch | aux-free MaxVio | Switch MaxVio | aux-free / Switch | aux-free eval CE | Switch eval CE |",
             "|---|---|---|---|---|---|"]
    for b in bs:
        ra = m(sel(rows, method="auxfree", batch=b), "maxvio") / m(sel(rows, method="switch", batch=b), "maxvio")
        table.append(f"| {b} | {cell('auxfree', b)} | {cell('switch', b)} | {fmt(ra)} | "
                     f"{cell('auxfree', b, 'eval_ce', 3)} | {cell('switch', b, 'eval_ce', 3)} |")
    measured = (f"MaxVio aux-free " + ", ".join(f"{cell('auxfree', b)} (batch {b})" for b in bs)
                + "; Switch " + ", ".join(f"{cell('switch', b)} ({b})" for b in bs))
    para = (f"Aux-free balancing nudges each expert's bias after every step by the sign of its load in that step's "
            f"batch; a batch of {r_['small_batch']} sequences measures each expert's load on few tokens. Its MaxVio is "
            f"{fmt(q[f'auxfree {sb}'])} at batch {sb} and {fmt(q[f'auxfree {lb}'])} at batch {lb} "
            f"(Switch loss: {fmt(q[f'switch {sb}'])} and {fmt(q[f'switch {lb}'])}). The batches differ in tokens as well as in "
            "the balancing statistics (200 steps each), as a batch-size comparison does.")
    c = entry("22. Aux-loss-free balancing works better with larger batches",
              "Wang et al. 2024, Fig. 5, as cited by the paper §4.1", ["claim22_auxfree_batch"],
              "the auxiliary-loss-free approach works better with larger batch size (the paper's one-sentence summary; "
              "we did not read Wang et al.'s figure)",
              measured, d["verdict"], [(fig, "by batch")],
              "The paper (§4.1), after Qiu et al.'s small-batch finding: \"Similarly, Fig. 5 in Wang et al. (2024) showed "
              "that auxiliary loss-free approach works better with larger batch size.\" We read this sentence only, not "
              "Wang et al.'s figure, so the rule tests the sentence: better balance (lower MaxVio) at larger batches.",
              d["text"], para)
    c["table"] = table
    return c
