"""claim08.py — claim 8: out-of-distribution confidence

measure(root, seeds) reads the files into numbers, verdict(q, rule) decides, describe(res, d) writes
the page's text and figures. The rule's thresholds and sentence are in rules/claim08.toml.
"""
import math
import os

from .table import (Missing, Results, cap, config_value, fmt, fmt_list, m, mean, nlayers, num, per_layer, pm, pmc,
                    q, sd, sel, vals, yes)
from .svg import fig2_figure, layers_figure, layers_like_x, svg_panels

EXPERIMENTS = ["claim08_ood"]
SEED_SPLIT = True


def changes(rows):
    """Per transform and layer, the paired relative confidence changes (%) per seed; the count of
    lower cases and of all (seed, layer, transform) cases."""
    L = nlayers(rows)
    base = {r["train.seed"]: r for r in sel(rows, transform="none")}
    rel, neg, tot = {}, 0, 0
    for t in ("reverse", "shuffle"):
        rel[t] = []
        for i in range(L):
            dd = []
            for r in sel(rows, transform=t):
                b = num(base[r["train.seed"]][f"l{i}.router_confidence"])
                x = num(r[f"l{i}.router_confidence"])
                dd.append((x - b) / b * 100)
                neg += x < b
                tot += 1
            rel[t].append(dd)
    return rel, neg, tot


def measure(root, seeds=None):
    """Mean confidence change (%) per transform and layer, and the lower / all case counts."""
    rel, neg, tot = changes(Results(root, seeds, figures=False).load("claim08_ood"))
    return dict(change_mean=[mean(dd) for t in rel for dd in rel[t]], lower=neg, cases=tot)


def verdict(q, rule):
    """The direction: lower at every layer for both transforms and in most paired cases."""
    every_layer = all(x < 0 for x in q["change_mean"])
    if every_layer and q["lower"] >= rule["lower_percent"] / 100 * q["cases"]:
        return "reproduced", ""
    if q["lower"] > rule["partly_percent"] / 100 * q["cases"]:
        return "partly", ""
    return "not reproduced", ""


def describe(res, d):
    e = "claim08_ood"
    rows = res.load(e)
    L = nlayers(rows)
    rel, neg, tot = changes(rows)
    allrel = [x for t in rel for dd in rel[t] for x in dd]
    verdict = d["verdict"]
    groups = [(t, sel(rows, transform=t)) for t in ("none", "reverse", "shuffle")]
    E = int(config_value(res.run_dir(e, rows[0]), "model.experts"))
    fig = layers_figure(res, "claim08_layers.svg", "Router confidence on original vs out-of-distribution sequences", groups,
                        [("router_confidence", "router confidence (Eq. 12)"), ("router_entropy", "router entropy (nats)")])
    return dict(
        claim="8. Out-of-distribution inputs lower router confidence",
        source="the paper, Fig. 3 (and Fig. 23)",
        short="router confidence (Eq. 12) lower on 16 reversed or shuffled OpenWebText sequences than on the originals",
        shows=(
            "Fig. 3: 16 OpenWebText sequences, reversed and shuffled to simulate out-of-distribution input; the "
            "router confidence (Eq. 12: the mean over a sequence's tokens of the largest softmax probability, "
            "then the mean over sequences) is lower on both than on the original sequences across layers. Fig. 23 "
            "ties this to a weaker alignment of the router with the reversed inputs. The text gives no size of "
            "the drop."),
        files=[e],
        rule=d["text"],
        measured=(f"confidence change per layer (paired, same model): reverse {', '.join(pm(d, 1) + '%' for d in rel['reverse'])}; "
                  f"shuffle {', '.join(pm(d, 1) + '%' for d in rel['shuffle'])} (layers 0–{L - 1}); lower in {neg} of "
                  f"{tot} (seed, layer, transform) cases; eval CE {pmc(groups[0][1], 'eval_ce', 2)} → "
                  f"{pmc(groups[1][1], 'eval_ce', 2)} / {pmc(groups[2][1], 'eval_ce', 2)}"),
        verdict=verdict,
        plots=[(fig, "per layer"), (f"{e}/report.html", "report")],
        paragraph=(
            "The direction is reproduced, the size is small: the router is less confident on reversed and "
            f"shuffled sequences in {neg} of {tot} paired cases, by {-mean(allrel):.1f}% on average, although the "
            "sequences are plainly out of distribution for the language model (eval CE "
            f"{m(groups[0][1], 'eval_ce'):.2f} → {m(groups[2][1], 'eval_ce'):.2f}). The toy routes mostly by token "
            f"identity (token-ID specialization {m(groups[0][1], 'token_specialization'):.2f}), and reversal or "
            "shuffling keeps the tokens; only the attention part of the hidden state sees the broken order. "
            f"The routers are also flat to begin with (confidence {m(groups[0][1], 'router_confidence'):.2f} for "
            f"{E} experts, uniform = {1 / E:.2f}), which leaves little room."),
    )
