"""claim109.py — claim 9 on real text (issue 23): context dependence with depth, for bytes that occur
in several languages; rules/claim109.toml.
"""
from .table import Results, fmt_list, per_layer, sel
from .textrow import baseline_text, row

EXPERIMENTS = ["text_claim09_context"]
SEED_SPLIT = True
T_ = "token_context_freqsim"


def measure(root, seeds=None):
    rows = Results(root, seeds, figures=False).load("text_claim09_context")
    return dict(attention=per_layer(sel(rows, attention="true"), T_)[0],
                control=per_layer(sel(rows, attention="false"), T_)[0])


def verdict(q, rule):
    """The control (no attention) must stay > control_min; then a fall from layer 0 to the last layer
    of >= fall with no rise over rise_tolerance between layers, from a first layer >= high_first_layer:
    reproduced; a fall from a low first layer: partly; no fall: not reproduced."""
    a = q["attention"]
    if not min(q["control"]) > rule["control_min"]:
        return "not reproduced", "the control failed"
    falls = a[0] - a[-1] >= rule["fall"] and all(a[i] >= a[i + 1] - rule["rise_tolerance"] for i in range(len(a) - 1))
    if falls and a[0] >= rule["high_first_layer"]:
        return "reproduced", ""
    return ("partly", "from a low first layer") if falls else ("not reproduced", "")


def describe(res, d):
    rows = res.load("text_claim09_context")
    q = measure(res.root, res.seeds)
    meas = (f"cross-context FreqSim of bytes seen in several languages, per layer: with attention "
            f"{fmt_list(q['attention'])}; without attention (control) {fmt_list(q['control'])}")
    return row(9, "Context dependence grows with depth", "the paper §4.2, Fig. 4", EXPERIMENTS,
               "as claim 9, on 7 languages: a byte that occurs in several languages, routed in each language's context",
               meas, d["verdict"], "As claim 9 (Fig. 4: the same token in different contexts shares experts at the "
               "first layer, less later), with bytes shared by several languages as the tokens.", d["text"],
               f"On 7 languages ({baseline_text(res, 'text_claim09_context', sel(rows, attention='true'))}): {meas}.")
