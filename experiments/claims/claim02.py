"""claim02.py — claim 2: Prop. 2

measure(root, seeds) reads the files into numbers, verdict(q, rule) decides, describe(res, d) writes
the page's text and figures. The rule's thresholds and sentence are in rules/claim02.toml.
"""
import math
import os

from .table import (Missing, Results, cap, config_value, fmt, fmt_list, m, mean, nlayers, num, per_layer, pm, pmc,
                    q, sd, sel, vals, yes)
from .svg import fig2_figure, layers_figure, layers_like_x, svg_panels

EXPERIMENTS = ["claim02_shared_direction"]
SEED_SPLIT = True


def folds(res):
    """{(norm, task, method): (rho at step 0, final rho, their ratio) per kept seed}."""
    e = "claim02_shared_direction"
    rows = res.load(e)
    col = "suppression_rho_mean"

    def fold(method, task, norm):
        rs = sel(rows, method=method, task=task, shared_norm=norm)
        r0 = [res.eval_at(e, r, col) for r in rs]
        r1 = vals(rs, col)
        return r0, r1, [a / b if b > 0 else math.nan for a, b in zip(r0, r1)]

    fr = {}
    for norm in ("8", "2"):
        for task in ("none", "cluster"):
            for method in ("none", "switch", "l2", "auxfree"):
                fr[norm, task, method] = fold(method, task, norm)
    return fr


def measure(root, seeds=None):
    """Mean cut factors (rho at step 0 / final) at ||mu|| = 8 without a task, and the final rho with
    the cluster task, by method."""
    fr = folds(Results(root, seeds, figures=False))
    q = {f"cut_{mm}": mean(fr["8", "none", mm][2]) for mm in ("none", "switch", "l2", "auxfree")}
    q.update({f"final_task_{mm}": mean(fr["8", "cluster", mm][1]) for mm in ("none", "switch", "l2")})
    return q


def verdict(q, rule):
    """Core: l2 and switch cut rho severalfold, none and auxfree leave it; task half: the partial effect."""
    core = (min(q["cut_l2"], q["cut_switch"]) >= rule["cut_balancing"]
            and max(q["cut_none"], q["cut_auxfree"]) <= rule["cut_unbalanced_max"])
    task_half = max(q["final_task_switch"], q["final_task_l2"]) <= rule["task_ratio"] * q["final_task_none"]
    return ("reproduced" if core and task_half else "partly" if core or task_half else "not reproduced"), ""


def describe(res_, d):
    e = "claim02_shared_direction"
    res = folds(res_)
    q_ = measure(res_.root, res_.seeds)
    r_ = d["rule"]

    def s(norm, task, method):
        r0, r1, f = res[norm, task, method]
        return f"{method} {mean(r0):.3f}→{mean(r1):.3f} (÷{pm(f, 1)})"

    fl2, fsw = mean(res["8", "none", "l2"][2]), mean(res["8", "none", "switch"][2])
    fno, faf = mean(res["8", "none", "none"][2]), mean(res["8", "none", "auxfree"][2])
    ftask = mean(res["8", "cluster", "none"][2])
    fin = {mm: mean(res["8", "cluster", mm][1]) for mm in ("none", "switch", "l2")}
    core = (min(q_["cut_l2"], q_["cut_switch"]) >= r_["cut_balancing"]
            and max(q_["cut_none"], q_["cut_auxfree"]) <= r_["cut_unbalanced_max"])
    task_half = max(q_["final_task_switch"], q_["final_task_l2"]) <= r_["task_ratio"] * q_["final_task_none"]
    verdict = d["verdict"]
    table = ["| ‖μ‖ | task | " + " | ".join(["none", "switch", "l2", "auxfree"]) + " |", "|---|---|---|---|---|---|"]
    for norm in ("8", "2"):
        for task in ("none", "cluster"):
            cells = []
            for method in ("none", "switch", "l2", "auxfree"):
                r0, r1, f = res[norm, task, method]
                cells.append(f"{mean(r0):.3f} → {mean(r1):.3f} (÷{pm(f, 1)})")
            table.append(f"| {norm} | {task} | " + " | ".join(cells) + " |")
    return dict(
        claim="2. Prop. 2: balancing suppresses a shared direction",
        source="the paper, Prop. 2 (§4.1) and App. B.1",
        short=("proof, not an experiment: with h = μ + ξ and small logits, a near-minimizer of the balancing loss has "
               "Π_E Pμ ≈ 0; with the task loss alongside, only a partial down-scaling is expected"),
        shows=(
            "Proposition 2 (App. B.1, Lemma 2): for hidden states h_i = μ + ξ_i with centred ξ_i and logits small "
            "enough to linearize the softmax, the simplified loss ‖mean_i softmax(Ph_i) − 1/E‖² equals "
            "‖Π_E Pμ‖²/E² up to O(ε³), so any near-minimizer makes μ shift every logit equally (Π_E Pμ ≈ 0): "
            "the router ignores the shared direction. The paper proves this. It does not test the extreme case, a "
            "\"dead\" router that ignores the data (\"we did not empirically verify this\", footnote 1: a rigorous "
            "test needs a set of MoE pre-training runs), but it states that it confirms the suppression of the "
            "shared direction empirically (§4.1: the router's retained energy on the first singular direction "
            "beside the expert-usage similarity, right-most Fig. 2, and Figs. 16, 18; claim 7 tests that). It adds that with the language-model loss alongside the effect \"should only be "
            "partially observed\": P should down-scale the shared direction rather than remove it. No numbers."),
        files=[e],
        rule=d["text"],
        measured=(f"‖μ‖ = 8, no task: {s('8', 'none', 'l2')}, {s('8', 'none', 'switch')}, "
                  f"{s('8', 'none', 'none')}, {s('8', 'none', 'auxfree')}; with the cluster task final ρ "
                  f"{fin['none']:.3f} (none), {fin['switch']:.3f} (switch), {fin['l2']:.3f} (l2)"),
        verdict=verdict,
        plots=[(f"{e}/plots/training.svg", "ρ over training"), (f"{e}/plots/by_method.svg", "by method"),
               (f"{e}/report.html", "report")],
        table=table,
        paragraph=(
            "The router alone, fed h = μ + c_k + ξ. Without a routing task the balancing losses are the only "
            f"thing that moves P, and they cut its centred response to μ ÷{fl2:.1f} (l2) and ÷{fsw:.1f} "
            "(switch) from the initial value; `none` and `auxfree` leave P untouched (aux-free only moves its "
            f"bias), so ρ stays at its initial value (÷{fno:.1f}, ÷{faf:.1f}). "
            + ("That is the proposition in its own setting. " if core else
               f"That falls short of the rule's ÷{d['literals']['cut_balancing']}, so even in its own setting the proposition shows only weakly. ")
            + (f"With the cluster task, ρ falls under every method alike (÷{ftask:.1f} with no balancing "
               f"at all; final ρ {fin['none']:.3f} none vs {fin['switch']:.3f} switch and {fin['l2']:.3f} l2), so the "
               "suite cannot show the partial suppression the paper expects in training. " if not task_half else
               f"With the cluster task, balancing ends below no balancing (final ρ {fin['none']:.3f} none vs "
               f"{fin['switch']:.3f} switch and {fin['l2']:.3f} l2): the partial suppression the paper expects. ")
            + "ρ is a ratio: the task "
            "makes P large along the cluster directions, which lowers ρ whether or not the response to μ "
            "shrinks, and the suite does not record the absolute response, so it cannot tell dilution from "
            "suppression. With a weak μ (‖μ‖ = 2, no larger than a cluster centre; table) nothing is "
            "suppressed once the task is on. α = 1 throughout; we did not vary it."),
    )
