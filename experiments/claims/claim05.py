"""claim05.py — claim 5: aux-free balancing

measure(root, seeds) reads the files into numbers, verdict(q, rule) decides, describe(res, d) writes
the page's text and figures. The rule's thresholds and sentence are in rules/claim05.toml.
"""
import math
import os

from .table import (Missing, Results, cap, config_value, fmt, fmt_list, m, mean, nlayers, num, per_layer, pm, pmc,
                    q, sd, sel, vals, yes)
from .svg import fig2_figure, layers_figure, layers_like_x, svg_panels

EXPERIMENTS = ["claim05_auxfree", "claim05_alpha"]
SEED_SPLIT = True
ALPHAS = ["0.01", "0.03", "0.1", "0.3", "1"]


def switch_rows(res, alpha):
    """The Switch-loss runs at alpha: 0.01 in claim05_auxfree, the others in claim05_alpha (which
    includes claim05_auxfree's settings: the same world, model, 64 evaluation sequences per domain)."""
    if alpha == "0.01":
        return sel(res.load("claim05_auxfree"), method="switch")
    return sel(res.load("claim05_alpha"), alpha=alpha)


def measure(root, seeds=None, setting=None, alpha=None):
    """Last-layer MaxVio and eval CE of aux-free and of the Switch loss at the judged alpha."""
    if alpha is None:
        from . import rules
        alpha = str((setting or rules.load(5)["setting"])["switch_alpha"])
    res = Results(root, seeds, figures=False)
    aux = sel(res.load("claim05_auxfree"), method="auxfree")
    sw = switch_rows(res, alpha)
    return dict(maxvio_auxfree=m(aux, "maxvio"), maxvio_switch=m(sw, "maxvio"), ce_auxfree=m(aux, "eval_ce"),
                ce_switch=m(sw, "eval_ce"))


def verdict(q, rule):
    """Aux-free's MaxVio against the Switch loss's, with its CE no worse."""
    ratio = q["maxvio_auxfree"] / q["maxvio_switch"]
    dce = q["ce_auxfree"] - q["ce_switch"]
    if ratio < rule["maxvio_reproduced"] and dce < rule["ce_worse_by"]:
        return "reproduced", ""
    if ratio < rule["maxvio_partly"] or (ratio < 1 and dce < rule["ce_worse_by"]):
        return "partly", ""
    return "not reproduced", ""


def describe(res, d):
    e, e2 = "claim05_auxfree", "claim05_alpha"
    rows, rows2 = res.load(e), res.load(e2)
    V, C = "maxvio", "eval_ce"
    non, aux, sw = sel(rows, method="none"), sel(rows, method="auxfree"), sel(rows, method="switch")
    alphas = ["0.03", "0.1", "0.3", "1"]
    sa = {x: sel(rows2, alpha=x) for x in alphas}
    lv = lambda rs: [max(num(r[f"l{i}.maxvio"]) for i in range(nlayers(rs))) for r in rs]
    ratio = m(aux, V) / m(sw, V)
    dce = m(aux, C) - m(sw, C)
    judged = str(d["setting"]["switch_alpha"])
    by_alpha = {x: verdict(measure(res.root, res.seeds, alpha=x), d["rule"])[0] for x in ALPHAS}
    verdict_ = d["verdict"]
    q1 = measure(res.root, res.seeds, alpha=judged)
    ratio1 = q1["maxvio_auxfree"] / q1["maxvio_switch"]
    dce1 = q1["ce_auxfree"] - q1["ce_switch"]
    match = next((x for x in alphas if m(sa[x], V) <= m(aux, V)), None)
    aux_seeds = vals(aux, V)
    sw_seeds = [(num(r[V]), x) for x in ["0.01"] + alphas for r in (sw if x == "0.01" else sa[x])]
    beat = sorted((v, x) for v, x in sw_seeds if v < max(aux_seeds))
    table = ["| method | MaxVio (last layer) | MaxVio per seed | MaxVio (worst layer) | eval CE | cross-domain FreqSim | "
             "aux-free against it, by the rule |",
             "|---|---|---|---|---|---|---|"]
    for name, rs, x in [("none", non, None), ("aux-free (u = 1e-3)", aux, None), ("switch α = 0.01", sw, "0.01")] + \
            [(f"switch α = {x}", sa[x], x) for x in alphas]:
        v_ = "–" if x is None else by_alpha[x] + (" (judged)" if x == judged else "")
        table.append(f"| {name} | {pmc(rs, V)} | {', '.join(f'{v:.2f}' for v in vals(rs, V))} | {pm(lv(rs))} | "
                     f"{pmc(rs, C, 3)} | {pmc(rs, 'freqsim_cross_domain')} | {v_} |")
    best = min(m(sa[x], V) for x in alphas)
    return dict(
        claim="5. Aux-free balances without the loss",
        source="Wang et al. 2024 (main comparison)",
        short=("Loss-Free Balancing (a per-expert bias on the routing scores) gives better load balance (MaxVio) and "
               "better perplexity than the auxiliary loss (DeepSeekMoE models up to 3B parameters, 200B tokens)"),
        shows=(
            "Wang et al. 2024 (arXiv 2408.15664) add a per-expert bias to the routing scores before the top-K "
            "choice and move it after each step towards balance, with no gradient on the router. On DeepSeekMoE "
            "models of up to 3B parameters trained on up to 200B tokens it gives both better load balance "
            "(their MaxVio) and better perplexity than balancing with an auxiliary loss. The paper under study "
            "cites it only for its Fig. 5 (aux-free works better with larger batches). We did not check the "
            "numbers in Wang et al.'s tables."),
        files=[e, e2],
        rule=d["text"],
        measured=(f"judged against the Switch loss at α = {judged}: MaxVio aux-free {pmc(aux, V)} vs switch "
                  f"{pmc(switch_rows(res, judged), V)} (×{ratio1:.2f}), eval CE {dce1:+.3f} nats; "
                  f"MaxVio aux-free {pmc(aux, V)} vs switch (α = 0.01) {pmc(sw, V)} vs none {pmc(non, V)}; "
                  f"eval CE {pmc(aux, C, 3)} / {pmc(sw, C, 3)} / {pmc(non, C, 3)} (aux-free / switch / none); "
                  + (f"the switch loss's mean MaxVio reaches aux-free's at α = {match}" if match else
                     f"no α up to 1 brings the switch loss's mean MaxVio down to aux-free's (best {best:.2f})")
                  + (f", but {len(beat)} of {len(sw_seeds)} single switch runs beat the worst aux-free seed "
                     f"({max(aux_seeds):.2f})" if beat else "")),
        verdict=verdict_,
        plots=[(f"{e}/plots/by_method.svg", "by method"), (f"{e2}/plots/by_alpha.svg", "switch by α"), (f"{e}/report.html", "report")],
        table=table,
        paragraph=(
            "The aux-free bias (b_e += u·sign(mean load − load_e), u = 10⁻³) balances the evaluation set "
            f"{m(sw, V) / m(aux, V):.1f}× better than the Switch loss at α = 0.01, at a cross-entropy "
            f"difference of {dce:+.3f} nats, and without a gradient on the router. "
            + (f"On the means, the Switch loss catches up at α ≈ {match}. " if match else
               "On the means, raising α does not close the gap: the Switch loss's MaxVio levels off at "
               f"{best:.2f}–{max(m(sa[x], V) for x in alphas):.2f} for α = 0.03–1. ")
            + ("The means hide the spread, though: aux-free's seeds range "
               f"{min(aux_seeds):.2f}–{max(aux_seeds):.2f}, and single Switch runs at "
               f"{', '.join(sorted({'α = ' + x for _, x in beat}))} reach {beat[0][0]:.2f}–{beat[-1][0]:.2f}, "
               "below aux-free's worst seed; with 3 seeds the toy does not show that aux-free balances better "
               "than every strong-α Switch run, only that it does so on average and at α = 0.01. "
               if beat else
               f"Every single Switch run stays above aux-free's worst seed ({max(aux_seeds):.2f}). ")
            + f"Judged against the Switch loss at α = {judged} (the α of claims 3, 4, 6, 15 and 17; until "
            "2026-12-07 this claim was judged at α = 0.01, the Switch loss's weakest setting), aux-free's MaxVio is "
            f"{ratio1:.2f} × the Switch loss's at a cross-entropy difference of {dce1:+.3f} nats: **{verdict_}** by "
            "the rule; the table gives the rule's verdict at every α. "
            + f"A strong α costs cross-entropy ({m(sa['0.1'], C):.3f} at α = 0.1, {m(sa['1'], C):.3f} at α = 1 vs "
            f"{m(sw, C):.3f} at 0.01), and it makes experts less domain-specific (FreqSim in the table), which is "
            "the trade-off Wang et al. describe. MaxVio is read on 64 evaluation sequences per domain because "
            "with fewer the count of a domain-specialized expert is noisy."),
    )
