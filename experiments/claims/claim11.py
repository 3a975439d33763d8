"""claim11.py — claim 11: cross-model overlap

measure(root, seeds) reads the files into numbers, verdict(q, rule) decides, describe(res, d) writes
the page's text and figures. The rule's thresholds and sentence are in rules/claim11.toml.
"""
import math
import os

from .table import Missing, Results, cap, entry, mean, pearson, read_csv as rows, sd, seed_of
from .table import fmt as f2
from .svg import svg_points


KINDS = ["same_prompt_same_model_other_sample", "same_prompt_other_model", "other_prompt_same_model",
         "other_prompt_other_model"]
SHORT = {"same_prompt_same_model_other_sample": "same model, same prompt",
         "same_prompt_other_model": "other model, same prompt",
         "other_prompt_same_model": "same model, other prompt",
         "other_prompt_other_model": "other model, other prompt"}


# ---- claim 11: cross-model overlap -----------------------------------------------------------------

def overlap_table(cmp_dir):
    """{layer: {kind: (overlap_mean, pairs, freqsim_mean)}} from compare.csv."""
    t = {}
    for r in rows(os.path.join(cmp_dir, "compare.csv")):
        t.setdefault(int(r["layer"]), {})[r["kind"]] = (float(r["overlap_mean"]), int(r["pairs"]),
                                                        float(r["freqsim_mean"]))
    return t


EXPERIMENTS = ["claim11_cross_model/compare_models_p0.8"]
SEED_SPLIT = ("compare.csv pools every model's rollouts into one mean per pair kind and layer; leaving a seed "
              "out needs another `moesim compare` without that seed's models")


def abc(t):
    """Per layer (sorted): A = other model same prompt, B = same model other prompt, C = same model
    same prompt (top-p overlap means)."""
    return ([t[l]["same_prompt_other_model"][0] for l in sorted(t)],
            [t[l]["other_prompt_same_model"][0] for l in sorted(t)],
            [t[l]["same_prompt_same_model_other_sample"][0] for l in sorted(t)])


def measure(root, seeds=None):
    """A, B, C per layer at p = 0.8 for the six models and (when run) the three that write differently."""
    c = os.path.join(root, "claim11_cross_model")
    g = os.path.join(c, "gen_models")
    have = {seed_of(n) for n in os.listdir(g)} if os.path.isdir(g) else set()
    if seeds is not None and have and set(seeds) != have:
        raise ValueError(f"claim 11 reads every seed of its comparison ({sorted(have)}), not {sorted(seeds)}: "
                         + SEED_SPLIT)
    q = {}
    for s, v in (("models", "models"), ("style", "style")):
        path = os.path.join(c, f"compare_{v}_p0.8")
        if s == "style" and not os.path.exists(os.path.join(path, "compare.csv")):
            continue
        q[f"{s}_A"], q[f"{s}_B"], q[f"{s}_C"] = abc(overlap_table(path))
    return q


def verdict(q, rule):
    """Fig. 6: A ~ B, both below C, in every layer; the style setting judged alike, as details."""
    out = []
    for s in ("models", "style"):
        if f"{s}_A" not in q:
            continue
        ok_all = partly_all = True
        for A, B, C in zip(q[f"{s}_A"], q[f"{s}_B"], q[f"{s}_C"]):
            ok_all &= abs(A - B) <= rule["a_b_within"] and C - max(A, B) >= rule["below_c"]
            partly_all &= A <= C - rule["a_below_c_partly"]
        out.append("reproduced" if ok_all else "partly" if partly_all else "not reproduced")
    return out[0], (f"models that write differently: {out[1]}" if len(out) > 1 else "")


def describe(res, d):
    out = res.root
    c = os.path.join(out, "claim11_cross_model")
    tabs = {}
    for variant in ("models", "style"):
        for p in ("0.5", "0.8", "0.9"):
            cd = os.path.join(c, f"compare_{variant}_p{p}")
            if os.path.exists(os.path.join(cd, "compare.csv")):
                tabs[(variant, p)] = overlap_table(cd)
    t = tabs[("models", "0.8")]
    L = sorted(t)

    def line(tab):
        return "; ".join(f"layer {l}: " + ", ".join(f"{SHORT[k]} {f2(tab[l][k][0])}" for k in KINDS if k in tab[l])
                         for l in sorted(tab))
    measured = (f"top-0.8 overlap at the last layer, 6 models (seeds × AdamW/Muon), 16 prompts × 3 samples, one "
                f"analyzer: " + ", ".join(f"{SHORT[k]} {f2(t[L[-1]][k][0])}" for k in KINDS))
    v, extra = d["outcome"], d["details"].split(": ", 1)[-1] if d["details"] else ""
    if ("style", "0.8") in tabs:
        ts = tabs[("style", "0.8")]
        measured += ("; models trained 25/100/400 steps: " +
                     ", ".join(f"{SHORT[k]} {f2(ts[max(ts)][k][0])}" for k in KINDS))
    panels = []
    for variant, title in (("models", "6 models: seeds × optimizers"), ("style", "3 models: 25 / 100 / 400 steps")):
        if (variant, "0.8") not in tabs:
            continue
        tab = tabs[(variant, "0.8")]
        series = [(SHORT[k], [(l, tab[l][k][0]) for l in sorted(tab) if k in tab[l]]) for k in KINDS]
        panels.append((title, "top-0.8 overlap (Eq. 19)", series))
    svg_points(res.fig("claim11_overlap.svg"), "Claim 11: expert overlap between rollouts, by pair kind",
               panels, "layer")
    p_line = []
    for p in ("0.5", "0.9"):
        if ("models", p) in tabs:
            tp = tabs[("models", p)]
            p_line.append(f"p = {p}: " + line({L[-1]: tp[L[-1]]}))
    return entry(
        "11. Other models' solutions use other experts", "the paper §5.1, Figs. 6, 25",
        ["claim11_models", "claim11_style", "claim11_analyzer"],
        "two models' solutions to the same question share ~60% of the top-0.8 experts, about as much as one "
        "model's solutions to different questions, far below the same model on the same question (3 MoEs, all layers)",
        measured, d["verdict"],
        [("figures/claim11_overlap.svg", "overlap by kind")],
        "The paper reads the solutions of 60 reasoning models to 30 HMMT February 2025 questions with one MoE "
        "(three MoEs in all) and compares every (question, model, seed) pair that fixes two of the three axes: two "
        "models' solutions to the same question share only ~60% of the experts that carry 80% of the tokens "
        "(Eq. 19, p = 0.8), about as much as one model's solutions to two different questions, and far below one "
        "model's solutions to the same question, at every layer (Fig. 6; Fig. 25 for other p).",
        d["text"],
        "Six models of the domains world (three seeds × AdamW/Muon) continue the same 16 prompts (two per domain, "
        "8 prompt tokens, 24 new ones) three times each; one more model of the same setting (the analyzer) routes "
        "every rollout, teacher-forced (`moesim compare --route-with`). "
        f"Top-0.8 overlap by pair kind: {line(t)}. Other p (Fig. 25), last layer: {'; '.join(p_line)}. "
        "All our models learn the same Markov chains, so their continuations of a prompt are draws from nearly the "
        "same distribution: another model's rollout of a prompt is as close as another sample of the same model, "
        "and a different prompt (usually another domain) is far. The paper's models differ in how they write "
        "(reasoning style, length, template), which is what makes their solutions foreign to each other. Looking "
        "for that setting, claim11_style.toml uses models trained for 25, 100 and 400 steps, which write "
        f"differently: {line(tabs[('style', '0.8')]) if ('style', '0.8') in tabs else 'not run'}; the same rule "
        f"gives **{extra or 'n/a'}** there. Files: `results/claim11_cross_model/`.")
