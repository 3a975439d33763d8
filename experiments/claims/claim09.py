"""claim09.py — claim 9: context dependence

measure(root, seeds) reads the files into numbers, verdict(q, rule) decides, describe(res, d) writes
the page's text and figures. The rule's thresholds and sentence are in rules/claim09.toml.
"""
import math
import os

from .table import (Missing, Results, cap, config_value, fmt, fmt_list, m, mean, nlayers, num, per_layer, pm, pmc,
                    q, sd, sel, vals, yes)
from .svg import fig2_figure, layers_figure, layers_like_x, svg_panels

EXPERIMENTS = ["claim09_context"]
SEED_SPLIT = True
T_ = "token_context_freqsim"


def measure(root, seeds=None):
    """Cross-context FreqSim of shared tokens per layer, mean over seeds: AdamW, Muon, no attention."""
    rows = Results(root, seeds, figures=False).load("claim09_context")
    return dict(adamw=per_layer(sel(rows, name="adamw", attention="true"), T_)[0],
                muon=per_layer(sel(rows, name="muon", attention="true"), T_)[0],
                control=per_layer(sel(rows, attention="false"), T_)[0])


def falls(xs, rule):
    return xs[0] - xs[-1] >= rule["fall"] and all(xs[i] >= xs[i + 1] - rule["rise_tolerance"] for i in range(len(xs) - 1))


def verdict(q, rule):
    """The control must hold; a fall under AdamW from a high first layer, or under Muon only."""
    fa = q["adamw"][0] - q["adamw"][-1] >= rule["fall"] and all(
        q["adamw"][i] >= q["adamw"][i + 1] - rule["rise_tolerance"] for i in range(len(q["adamw"]) - 1))
    fm = q["muon"][0] - q["muon"][-1] >= rule["fall"] and all(
        q["muon"][i] >= q["muon"][i + 1] - rule["rise_tolerance"] for i in range(len(q["muon"]) - 1))
    if not min(q["control"]) > rule["control_min"]:
        return "not reproduced", "the control failed"
    if fa and q["adamw"][0] >= rule["high_first_layer"]:
        return "reproduced", ""
    if fa or fm:
        return "partly", ""
    return "not reproduced", ""


def describe(res, d):
    e = "claim09_context"
    r_ = d["rule"]
    rows = res.load(e)
    L = nlayers(rows)
    T = "token_context_freqsim"
    g = {o: sel(rows, name=o, attention="true") for o in ("adamw", "muon")}
    ctrl = sel(rows, attention="false")
    tf = {o: per_layer(g[o], T) for o in g}
    tj = {o: per_layer(g[o], "token_context_jaccard")[0] for o in g}
    tfn = per_layer(ctrl, T)[0]
    deep = res.load("claim06_optimizers")  # 8 layers, 32 evaluation sequences per domain
    d8 = {o: per_layer(sel(deep, name=o), T)[0] for o in ("adamw", "muon")}

    fa, fm = falls(tf["adamw"][0], r_), falls(tf["muon"][0], r_)
    high = tf["adamw"][0][0] >= r_["high_first_layer"]
    verdict = d["verdict"]
    fig = layers_figure(res, "claim09_layers.svg", "Same token, different domain contexts: expert-usage overlap per layer",
                        [("AdamW", g["adamw"]), ("Muon", g["muon"]), ("no attention (control, both optimizers)", ctrl)],
                        [(T, "FreqSim across contexts"), ("token_context_jaccard", "top-P Jaccard across contexts"),
                         ("token_specialization", "token-ID specialization")])
    seq = lambda o: f"{fmt_list(tf[o][0])} (± {fmt_list(tf[o][1])})"
    return dict(
        claim="9. Context dependence grows with depth",
        source="the paper, Fig. 4 (§4.2)",
        short=("gpt-oss-20b (AdamW): the experts chosen for \"apple\" in a daily and a coding context overlap highly "
               "at the first layer, less in later layers; likewise a 6-token sentence in daily vs medical context"),
        shows=(
            "Fig. 4 (gpt-oss-20b, trained with AdamW). Top: the experts activated for the token \"apple\" in a "
            "daily context and in a coding context, layer by layer: high overlap at the first layer, reduced in "
            "later layers. Bottom: a 6-token sentence in a daily and a medical context, the experts' activation "
            "frequency over its 6 tokens, with the same trend. §4.2 reads it as early layers depending mainly on "
            "the token id and deeper layers on the context. No numbers."),
        files=[e],
        rule=d["text"],
        measured=(f"cross-context FreqSim of shared tokens, layers 0–{L - 1}: AdamW {seq('adamw')}, Muon {seq('muon')}; "
                  f"top-P Jaccard {fmt_list(tj['adamw'])} / {fmt_list(tj['muon'])}; without attention {fmt_list(tfn)}"),
        verdict=verdict,
        plots=[(fig, "per layer"), (f"{e}/report.html", "report")],
        paragraph=(
            "For each token shared by all domains we compare its expert usage in one domain's sequences with its "
            "usage in another's. Without attention the hidden state is a function of the token id, and the "
            f"overlap is {mean(tfn):.2f} (the control). With attention the same token is routed quite differently "
            f"by context already at layer 0 ({tf['adamw'][0][0]:.2f} with AdamW, {tf['muon'][0][0]:.2f} with "
            "Muon): the attention in front of the first MoE layer mixes in the preceding tokens, which are "
            f"domain-specific. Under AdamW, the paper's setting, the overlap is {fmt_list(tf['adamw'][0])} over "
            f"layers 0–{L - 1} ({'a fall' if fa else 'no fall'} by the rule{', from a high first layer' if fa and high else ''}"
            f"{', from a low first layer' if fa and not high else ''}); under Muon {fmt_list(tf['muon'][0])} "
            f"({'a fall' if fm else 'no fall'}). Claim 6's 8-layer runs give AdamW {fmt_list(d8['adamw'])} and Muon "
            f"{fmt_list(d8['muon'])} (32 sequences per domain). "
            + ("" if fa else "So under AdamW the toy's first layer is already as context-dependent as its last: "
               "unlike gpt-oss's first layer, it is not a token-id lookup. Our reading: under AdamW the first "
               "attention layer already writes most of the context into the residual stream, while Muon's evenly "
               "sized updates keep the token embedding dominant at layer 0 and add context layer by layer. ")
            + "Two caveats: the measure compares domains, but a token's routing also varies inside one domain "
            "(with its predecessor), so part of the gap below 1 is context in general rather than domain; and "
            "each shared token is seen a limited number of times per domain, which lowers the FreqSim by "
            "sampling alone (the control cannot show this: without attention every occurrence of a token is "
            "routed alike)."),
    )
