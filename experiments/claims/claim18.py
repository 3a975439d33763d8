"""claim18.py — claim 18 (issue 22): dense models' token similarity also rises with depth (Fig. 12)

measure(root, seeds) reads the files into numbers, verdict(q, rule) decides, describe(res, d) writes
the page's text and figures. The rule's thresholds and sentence are in rules/claim18.toml.
"""
from .table import Results, entry, fmt, fmt_list, mean, num, per_layer, sel
from .svg import layers_figure

EXPERIMENTS = ["claim18_dense_depth", "claim06_optimizers"]
SEED_SPLIT = True
C = "cosine_hidden"


def rises(rows):
    """Per run: last-layer minus first-layer cosine_hidden."""
    out = []
    for r in rows:
        L = 0
        while f"l{L}.{C}" in r:
            L += 1
        out.append(num(r[f"l{L - 1}.{C}"]) - num(r[f"l0.{C}"]))
    return out


def measure(root, seeds=None):
    """The dense model's rise (mean over seeds, and the share of seeds where it is > 0); the MoE's
    (AdamW, claim06_optimizers) for the page."""
    res = Results(root, seeds, figures=False)
    dense = rises(res.load("claim18_dense_depth"))
    moe = rises(sel(res.load("claim06_optimizers"), name="adamw"))
    return dict(rise=mean(dense), share=sum(x > 0 for x in dense) / len(dense) if dense else 0.0,
                moe_rise=mean(moe))


def verdict(q, rule):
    """A rise of >= rise_reproduced in the mean, positive in >= seed_share of the seeds."""
    if not q["rise"] > 0:
        return "not reproduced", ""
    if q["rise"] >= rule["rise_reproduced"] and q["share"] >= rule["seed_share"]:
        return "reproduced", ""
    return "partly", ""


def describe(res, d):
    dense = res.load("claim18_dense_depth")
    moe = sel(res.load("claim06_optimizers"), name="adamw")
    muon = sel(res.load("claim06_optimizers"), name="muon")
    cd, cm, cu = per_layer(dense, C)[0], per_layer(moe, C)[0], per_layer(muon, C)[0]
    rd, rm, ru = rises(dense), rises(moe), rises(muon)
    fig = layers_figure(res, "claim18_dense_depth.svg", "Hidden-state cosine (Eq. 10) per layer: dense vs MoE",
                        [("dense (1 expert, width 128)", dense), ("MoE, AdamW (claim 6)", moe), ("MoE, Muon (claim 6)", muon)],
                        [(C, "within-sequence cosine of hidden states")])
    measured = (f"cosine_hidden per layer (0–{len(cd) - 1}): dense {fmt_list(cd)}, rise {fmt(mean(rd), 3)} "
                f"(rising in {sum(x > 0 for x in rd)} of {len(rd)} seeds); MoE AdamW {fmt_list(cm)} "
                f"(rise {fmt(mean(rm), 3)}), Muon {fmt_list(cu)} (rise {fmt(mean(ru), 3)})")
    para = (f"The dense model (every token through one FFN of width 128, the MoE's active width) has a "
            f"within-sequence hidden-state cosine of {fmt(cd[0])} at layer 0 and {fmt(cd[-1])} at layer "
            f"{len(cd) - 1}: a rise of {fmt(mean(rd), 3)}, positive in {sum(x > 0 for x in rd)} of {len(rd)} seeds. "
            f"The MoE of claim 6 in the same 8-layer setting changes by {fmt(mean(rm), 3)} under AdamW and "
            f"{fmt(mean(ru), 3)} under Muon from the first to the last layer. "
            "The paper's Fig. 12 shows the rise in pre-trained dense LLMs of far greater depth (except Gemma 3 "
            "with its sandwich norm); our 8-layer toys are trained for 200 steps, so a small or absent rise "
            "here says little about depth in real models.")
    return entry("18. Dense models: token similarity also rises with depth", "the paper §4.1, Fig. 12",
                 ["claim18_dense_depth", "claim06_optimizers"],
                 "in dense LLMs (except Gemma 3, which uses sandwich norm) the similarity of the tokens' hidden states "
                 "within a sequence increases with depth, as in the MoEs of Fig. 2",
                 measured, d["verdict"], [(fig, "per layer")],
                 "Fig. 12 plots, for several pre-trained dense models, the token-similarity measure of Fig. 2 "
                 "against depth: it increases with depth in every model except Gemma 3. §4.1 cites it beside Fig. 2 "
                 "as a depth effect shared by dense and MoE models (rank collapse). No numbers are given.",
                 d["text"], para)
