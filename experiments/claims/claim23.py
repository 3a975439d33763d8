"""claim23.py — claim 23 (issues 22 and 25, exploration): is the token-norm concentration of Fig. 11
specific to Muon? An ablation over every optimizer.

measure(root, seeds) reads the files into numbers, verdict(q, rule) decides, describe(res, d) writes
the page's text and figures. The rule's thresholds and sentence are in rules/claim23.toml.
"""
from .table import Results, entry, fmt, fmt_list, m, per_layer, pmc
from .svg import layers_figure

EXPERIMENTS = ["ablation_optimizers"]
SEED_SPLIT = True
OPTIMIZERS = ["adamw", "muon", "sgd", "lion", "adafactor", "soap"]
CV = "resid_norm_cv"


def groups(res):
    """{optimizer: its runs}: experiments/ablation_optimizers.sh runs each optimizer at its own
    learning rate into ablation_optimizers/<optimizer>/ (a sweep over the seeds)."""
    return {o: res.load(f"ablation_optimizers/{o}") for o in OPTIMIZERS if res.exists("ablation_optimizers", o, "summary.csv")}


def measure(root, seeds=None):
    """{optimizer: mean last-layer resid_norm_cv} for the optimizers the experiment ran."""
    return {o: m(rows, CV) for o, rows in groups(Results(root, seeds, figures=False)).items()}


def concentrates(q, o, rule):
    return q[o] <= rule["concentrate_factor"] * q["adamw"]


def verdict(q, rule):
    """Muon concentrates (spread <= factor x AdamW's) and no other optimizer does: reproduced;
    others do too: partly (details name them); Muon does not: not reproduced."""
    if not concentrates(q, "muon", rule):
        return "not reproduced", ""
    others = [o for o in q if o not in ("adamw", "muon") and concentrates(q, o, rule)]
    return ("partly", "also " + ", ".join(others)) if others else ("reproduced", "")


RULE_CODE = [concentrates, verdict]


def describe(res, d):
    g = groups(res)
    opts = list(g)
    q = measure(res.root, res.seeds)
    fig = layers_figure(res, "claim23_optimizers.svg", "Optimizer ablation: token norms and geometry per layer",
                        [(o, g[o]) for o in opts],
                        [(CV, "token-norm spread (sd/mean)"), ("resid_norm_mean", "mean token norm"),
                         ("cosine_hidden", "hidden-state cosine (Eq. 10)"), ("energy_first", "energy of v1 (Eq. 7)")])
    table = ["| optimizer | token-norm spread (last layer) | ÷ AdamW | mean token norm | hidden cosine | energy of v1 | "
             "cross-domain FreqSim | MaxVio | eval CE |", "|---|---|---|---|---|---|---|---|---|"]
    for o in opts:
        table.append(f"| {o} | {pmc(g[o], CV, 3)} | {fmt(q[o] / q['adamw'])} | {pmc(g[o], 'resid_norm_mean')} | "
                     f"{pmc(g[o], 'cosine_hidden')} | {pmc(g[o], 'energy_first')} | "
                     f"{pmc(g[o], 'freqsim_cross_domain')} | {pmc(g[o], 'maxvio')} | {pmc(g[o], 'eval_ce', 3)} |")
    conc = [o for o in opts if o != "adamw" and q[o] <= d["rule"]["concentrate_factor"] * q["adamw"]]
    measured = ("token-norm spread, last layer, ÷ AdamW: " + ", ".join(f"{o} {fmt(q[o] / q['adamw'])}" for o in opts)
                + "; per layer " + "; ".join(f"{o} {fmt_list(per_layer(g[o], CV)[0])}" for o in opts))
    para = ("Each optimizer ran at the learning rate its pilot sweep (ablation_optimizers_lr.toml, named under Pilots) "
            "chose by eval CE (experiments/ablation_optimizers.sh). "
            + (f"By the rule's factor, {', '.join(conc)} concentrate token norms relative to AdamW"
               if conc else "No optimizer concentrates token norms by the rule's factor")
            + f" (spread ÷ AdamW's: " + ", ".join(f"{o} {fmt(q[o] / q['adamw'])}" for o in opts if o != "adamw") + "). "
            + "".join(f"{o}'s mean token norm ({fmt(m(g[o], 'resid_norm_mean'), 1)}) is over ten times AdamW's "
                      f"({fmt(m(g['adamw'], 'resid_norm_mean'), 1)}): its spread is small relative to a grown norm. "
                      for o in opts if m(g[o], "resid_norm_mean") > 10 * m(g["adamw"], "resid_norm_mean"))
            + "Reading: an update that ignores the gradient's scale per coordinate (Lion's sign) or per direction "
            "(Muon's orthogonalization) is the candidate cause; the table says which of them the toy shows. "
            "Exploration: the paper makes claims only about Muon and AdamW.")
    c = entry("23. Optimizer ablation: is the token-norm concentration specific to Muon?",
              "the paper §4.1, Fig. 11 (exploration; issue 25)", ["ablation_optimizers"],
              "Muon-trained models concentrate token norms (12–14 against AdamW's 25–35); the paper tests no other "
              "optimizer", measured, d["verdict"], [(fig, "per layer")],
              "Fig. 11 compares one architecture trained with AdamW and with Muon: similar pairwise cosines, but "
              "token norms spread over 25–35 under AdamW and concentrated at 12–14 under Muon. The paper asks no "
              "further question; this row asks the one the figure raises: is the concentration Muon's, or any "
              "scale-free update's?", d["text"], para)
    c["table"] = table
    return c
