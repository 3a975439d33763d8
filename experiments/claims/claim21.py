"""claim21.py — claim 21 (issue 22): context-independent routing as a sign of short training (§4.2)

measure(root, seeds) reads the files into numbers, verdict(q, rule) decides, describe(res, d) writes
the page's text and figures. The rule's thresholds and sentence are in rules/claim21.toml.
"""
from .table import Results, entry, fmt, fmt_list, mean, nlayers, read_csv, sd
from .svg import svg_panels

EXPERIMENTS = ["claim21_training_length"]
SEED_SPLIT = True
T_ = "token_context_freqsim"


def curves(res, layer=None):
    """Per run: {step: token_context_freqsim} at one layer (default the last)."""
    out = []
    for r in res.load("claim21_training_length"):
        rows = read_csv(res.run_dir("claim21_training_length", r) + "/eval.csv")
        L = max(int(x["layer"]) for x in rows) + 1
        lay = L - 1 if layer is None else layer
        out.append({int(x["step"]): float(x[T_]) for x in rows if int(x["layer"]) == lay})
    return out


def measure(root, seeds=None):
    """Per run, {step: last-layer token_context_freqsim}."""
    return dict(curves=curves(Results(root, seeds, figures=False)))


def falls(q, rule):
    """(mean fall from early_step to late_step, share of runs where it falls)."""
    e, l_ = int(rule["early_step"]), int(rule["late_step"])
    f = [c[e] - c[l_] for c in q["curves"] if e in c and l_ in c]
    return mean(f), (sum(x > 0 for x in f) / len(f) if f else 0.0)


def verdict(q, rule):
    """A fall of >= fall_reproduced in the mean and in >= seed_share of the seeds; partly if it falls in
    the mean only."""
    fall, share = falls(q, rule)
    if fall >= rule["fall_reproduced"] and share >= rule["seed_share"]:
        return "reproduced", ""
    return ("partly", "") if fall > 0 else ("not reproduced", "")


RULE_CODE = [falls, verdict]


def describe(res, d):
    r_ = d["rule"]
    last, first = curves(res), curves(res, 0)
    steps = sorted(set.intersection(*[set(c) for c in last]))
    ml = [mean([c[s] for c in last]) for s in steps]
    mf = [mean([c[s] for c in first]) for s in steps]
    svg_panels(res.fig("claim21_training.svg"), "Same token, different domain contexts, over training",
               [("token_context_freqsim", steps,
                 [("last layer", ml, [sd([c[s] for c in last]) for s in steps]),
                  ("layer 0", mf, [sd([c[s] for c in first]) for s in steps], "dashed")])], "step")
    e, l_ = r_["early_step"], r_["late_step"]
    fall, share = falls(dict(curves=last), r_)
    measured = (f"token_context_freqsim, last layer, steps {', '.join(map(str, steps))}: {fmt_list(ml)}; layer 0: "
                f"{fmt_list(mf)}; fall from step {e} to {l_}: {fmt(fall, 3)} (falls in {share * 100:.0f}% of seeds)")
    para = (f"At initialization a token's experts barely depend on its context ({fmt(ml[0])} at the last layer: the "
            "random router sees mostly the token's embedding). Most of the context dependence appears within the "
            f"first {steps[1] if len(steps) > 1 else e} steps ({fmt(ml[1] if len(ml) > 1 else ml[0])}); from step {e} to "
            f"{l_} it changes by {fmt(-fall, 3)}. "
            + ("So in this toy a model looks context independent only while it is barely trained. "
               if len(ml) > 1 and ml[0] - ml[1] > 2 * abs(fall) else "")
            + "§4.2's reading of OpenMoE concerns a real model whose training length we cannot vary here.")
    return entry("21. Context-independent routing is a sign of short training", "the paper §4.2",
                 ["claim21_training_length"],
                 "OpenMoE's \"context-independent specialization\" (Xue et al. 2024) arises from insufficient training; "
                 "a reasonably trained router's choices depend on the context in deep layers",
                 measured, d["verdict"], [("figures/claim21_training.svg", "over training")],
                 "§4.2 puts the same token in different contexts (Fig. 4, gpt-oss-20b) and finds its experts overlap "
                 "at the first layer and diverge later, and says this goes against OpenMoE's context-independent "
                 "specialization, \"which we believe arises from insufficient training\". The paper does not train "
                 "models of different lengths to test it.", d["text"], para)
