"""claim10.py — claim 10: duplication

measure(root, seeds) reads the files into numbers, verdict(q, rule) decides, describe(res, d) writes
the page's text and figures. The rule's thresholds and sentence are in rules/claim10.toml.
"""
import json
import math
import os

from .table import (Missing, Results, cap, seed_of, config_value, fmt, fmt_list, m, mean, nlayers, num, per_layer, pm, pmc,
                    q, sd, sel, vals, yes)
from .svg import fig2_figure, layers_figure, layers_like_x, svg_panels

EXPERIMENTS = ["claim10_duplicate"]
SEED_SPLIT = True


def halves(X, R, en, lnorm, rule):
    """(usage half holds, mechanism half holds): n = 1 against n = 12, last layer, mean over seeds."""
    usage = X[-1] - X[0] >= rule["usage_rise"] and R[-1] - R[0] >= rule["usage_rise"]
    mech = en[-1] - en[0] >= rule["energy_rise"] and lnorm[-1] >= (1 + rule["logit_norm_rise_percent"] / 100) * lnorm[0]
    return usage, mech


def verdict(q, rule):
    """Usage half and mechanism half; the copy setting (when measured) judged alike, as details."""
    out = []
    for s in ("dup", "copy"):
        if f"{s}_X" not in q:
            continue
        X, R, en, lnorm = q[f"{s}_X"], q[f"{s}_R"], q[f"{s}_energy"], q[f"{s}_logit_norm"]
        usage = X[-1] - X[0] >= rule["usage_rise"] and R[-1] - R[0] >= rule["usage_rise"]
        mech = en[-1] - en[0] >= rule["energy_rise"] and lnorm[-1] >= (1 + rule["logit_norm_rise_percent"] / 100) * lnorm[0]
        out.append("reproduced" if usage and mech else "partly" if usage or mech else "not reproduced")
    return out[0], (f"models trained to copy: {out[1]}" if len(out) > 1 else "")


def sampling(H, rule):
    """Fig. 29's sampling rule: the per-position entropy of the 8 samples, mean over seeds, at k = 11
    against k = 1."""
    return ("collapses" if H[-1] <= rule["entropy_collapses_percent"] / 100 * H[0]
            else "falls partly" if H[-1] <= rule["entropy_falls_percent"] / 100 * H[0] else "does not collapse")


RULE_CODE = [verdict, sampling]


def measure(root, seeds=None):
    """Per n (1, 2, 4, 8, 12), mean over seeds: cross-domain FreqSim X, its ratio R to same-domain,
    energy of v1, mean logit norm; for claim10_duplicate and (when run) claim10_copy."""
    res = Results(root, seeds, figures=False)
    q = {}
    for s, e in (("dup", "claim10_duplicate"), ("copy", "claim10_copy")):
        if s == "copy" and not res.exists(e, "summary.csv"):
            continue
        rows = res.load(e)
        col = lambda c: [mean(vals(sel(rows, duplicate=n), c)) for n in [1, 2, 4, 8, 12]]
        X, I = col("freqsim_seq_cross_domain"), col("freqsim_seq_same_domain")
        q.update({f"{s}_X": X, f"{s}_R": [x / i for x, i in zip(X, I)], f"{s}_energy": col("energy_first"),
                  f"{s}_logit_norm": col("logit_norm_mean")})
    return q


def claim10_numbers(res, e, rule):
    """Claim 10's numbers for one setting (claim10_duplicate, or claim10_copy: the same evaluation on
    models trained to copy): per n the means over seeds (and the seeds' values), the verdict, and
    Fig. 29's sampling from DIR/generate/ (experiments/claim10_generate.sh)."""
    rows = res.load(e)
    ns = [1, 2, 4, 8, 12]
    byn = lambda c: [vals(sel(rows, duplicate=n), c) for n in ns]  # per n, the seeds' values
    col = lambda c: [mean(v) for v in byn(c)]
    # last MoE layer (unprefixed columns) and layer 0
    X, I = col("freqsim_seq_cross_domain"), col("freqsim_seq_same_domain")
    R = [x / i for x, i in zip(X, I)]
    X0, I0 = col("l0.freqsim_seq_cross_domain"), col("l0.freqsim_seq_same_domain")
    en, cos, lnorm, conf, pooled, ce = (col("energy_first"), col("cosine_hidden"), col("logit_norm_mean"),
                                        col("router_confidence"), col("pooled_cosine_seq"), col("eval_ce"))
    run0 = res.run_dir(e, rows[0])
    T, m = int(config_value(run0, "model.seq_len")), int(config_value(run0, "eval.duplicate_content"))
    usage, mech = halves(X, R, en, lnorm, rule)
    verdict_ = "reproduced" if usage and mech else "partly" if usage or mech else "not reproduced"
    # the output logits (docs/METRICS.md; NaN lists when the results predate the columns)
    onorm, oprob = col("output_logit_norm"), col("output_max_prob")
    # Fig. 29's sampling (experiments/claim10_generate.sh): per seed and k, the means over prompts
    # of diversity.csv; judged on its own by sampling10.
    ks = [1, 2, 4, 8, 11]
    gen = res.path(e, "generate")
    if not os.path.isdir(gen):
        raise Missing(gen)
    seeds = sorted({seed_of(n) for n in os.listdir(gen) if seed_of(n) is not None and res.keep(seed_of(n))})

    def gdiv(seed, k, key):
        path = res.path(e, "generate", f"seed={seed}-k={k}", "generate.json")
        if not os.path.exists(path):
            raise Missing(f"{path} (run experiments/claim10_generate.sh)")
        with open(path) as f:
            return float(json.load(f)["diversity"][key])
    gH = [[gdiv(s_, k, "entropy_mean") for s_ in seeds] for k in ks]
    gD = [[gdiv(s_, k, "distinct_continuations") for s_ in seeds] for k in ks]
    gS = [[gdiv(s_, k, "distinct_share_mean") for s_ in seeds] for k in ks]
    H = [mean(v) for v in gH]
    return dict(e=e, ns=ns, byn=byn, X=X, I=I, R=R, X0=X0, I0=I0, en=en, cos=cos, lnorm=lnorm, conf=conf,
                pooled=pooled, ce=ce, T=T, m=m, usage=usage, mech=mech, verdict=verdict_, ks=ks, gH=gH, gD=gD,
                gS=gS, H=H, sampling=sampling(H, rule), onorm=onorm, oprob=oprob)


def claim10_panels(d):
    """The figure's panels for one setting: the paper's Fig. 10 (cross vs intra) plus Figs. 26 and 29."""
    ser = lambda name, v, *st: (name, [mean(x) for x in v], [sd(x) for x in v], *st)
    ns, ks, byn = d["ns"], d["ks"], d["byn"]
    return [("sequence FreqSim (Eq. 14), last layer", ns,
             [ser("cross-domain", byn("freqsim_seq_cross_domain")),
              ser("intra-domain", byn("freqsim_seq_same_domain"), "dashed")]),
            ("sequence FreqSim (Eq. 14), layer 0", ns,
             [ser("cross-domain", byn("l0.freqsim_seq_cross_domain")),
              ser("intra-domain", byn("l0.freqsim_seq_same_domain"), "dashed")]),
            ("energy of v1 (Eq. 7), last layer", ns, [ser("mean over seeds", byn("energy_first"))]),
            ("mean logit norm (Fig. 29), last layer", ns, [ser("mean over seeds", byn("logit_norm_mean"))]),
            ("router confidence (Eq. 12), last layer", ns, [ser("mean over seeds", byn("router_confidence"))]),
            ("NLL of the last copy (nats)", ns, [ser("mean over seeds", byn("eval_ce"))]),
            ("sampling: entropy per position of 8 samples (nats)", ks, [ser("mean over seeds", d["gH"])])]


def logits_txt(d):
    """The output logits' norm and confidence per n, or 'not measured' (results older than the columns)."""
    if all(math.isnan(x) for x in d["onorm"] + d["oprob"]):
        return "output logits' norm and confidence not measured (these results predate the columns)"
    return f"output logit norm {fmt_list(d['onorm'])}, output max probability {fmt_list(d['oprob'], 3)}"


def describe(res, dd):
    e = "claim10_duplicate"
    rows = res.load(e)
    L = nlayers(rows)
    d = claim10_numbers(res, e, dd["rule"])
    ns, byn, X, I, R, X0, I0 = d["ns"], d["byn"], d["X"], d["I"], d["R"], d["X0"], d["I0"]
    en, cos, lnorm, conf, pooled, ce = d["en"], d["cos"], d["lnorm"], d["conf"], d["pooled"], d["ce"]
    T, m, usage, mech, verdict = d["T"], d["m"], d["usage"], d["mech"], d["verdict"]
    ks, gH, gD, gS, H, sampling = d["ks"], d["gH"], d["gD"], d["gS"], d["H"], d["sampling"]
    # The second setting (issue 15: where the toy shows no effect, the setting in which it might):
    # the same evaluation on models trained to copy (claim10_copy.toml, data.repeat_prob), judged by
    # the same two rules; skipped when its results are absent.
    cp, copy_txt, copy_par, copy_plots = None, "", "", []
    if os.path.exists(res.path("claim10_copy", "summary.csv")):
        cp = claim10_numbers(res, "claim10_copy", dd["rule"])
        c0 = res.run_dir("claim10_copy", res.load("claim10_copy")[0])
        p_rep, m_rep = config_value(c0, "data.repeat_prob"), config_value(c0, "data.repeat_len")
        steps = config_value(c0, "train.steps")
        copy_txt = (f"in the setting of models trained to copy (data.repeat_prob = {p_rep}, data.repeat_len = "
                    f"{m_rep}, {steps} steps), n = {'/'.join(map(str, ns))}: cross-domain sequence FreqSim "
                    f"{fmt_list(cp['X'])}, intra-domain {fmt_list(cp['I'])} (ratio {fmt_list(cp['R'])}); energy of v1 "
                    f"{fmt_list(cp['en'])}; mean logit norm {fmt_list(cp['lnorm'])}; router confidence "
                    f"{fmt_list(cp['conf'], 3)}; last-copy NLL {fmt_list(cp['ce'])}; sampling (k = "
                    f"{'/'.join(map(str, ks))}): entropy {fmt_list(cp['H'])} nats, {cp['sampling']}")
        copy_par = (
            f"Looking for the setting in which the toy shows the effect (issue 15: models that \"reason\" by "
            f"copying), the same evaluation runs on models trained to copy (claim10_copy.toml): each training "
            f"sequence, with probability {p_rep}, is its first {m_rep} tokens repeated to fill {T + 1} tokens, and "
            f"the models train {steps} steps. Their last-copy NLL goes {fmt_list(cp['ce'])}"
            + (": they copy. " if cp["ce"][-1] < cp["ce"][0] - 0.5 else ": they copy little. ")
            + f"The usage half {yes(cp['usage'])}: cross-domain sequence FreqSim {fmt_list(cp['X'])} (sd over seeds "
            f"at n = 12: {sd(cp['byn']('freqsim_seq_cross_domain')[-1]):.2f}), intra-domain {fmt_list(cp['I'])} "
            f"(ratio {fmt_list(cp['R'])}); at layer 0 {fmt_list(cp['X0'])} and {fmt_list(cp['I0'])}. The mechanism "
            f"half {yes(cp['mech'])}: energy of v1 {fmt_list(cp['en'])}, mean logit norm {fmt_list(cp['lnorm'])}; "
            f"hidden cosine {fmt_list(cp['cos'])}, pooled sequence cosine {fmt_list(cp['pooled'])}, router "
            f"confidence {fmt_list(cp['conf'], 3)}. Sampling {cp['sampling']}: entropy {fmt_list(cp['H'], 3)} nats "
            f"(sd over seeds at k = 11: {sd(cp['gH'][-1]):.3f}), distinct-token share "
            f"{fmt_list([mean(v) for v in cp['gS']], 3)}, distinct continuations of 8 "
            f"{fmt_list([mean(v) for v in cp['gD']])}. "
            + (f"Unlike the Markov-trained models, these change with every further copy, but not the way the paper "
               f"reads it: the energy of v1 falls ({cp['en'][0]:.2f} → {cp['en'][-1]:.2f}) instead of rising, the "
               f"hidden cosine falls ({cp['cos'][0]:.2f} → {cp['cos'][-1]:.2f}) and the logit norm does not grow "
               f"({cp['lnorm'][0]:.2f} → {cp['lnorm'][-1]:.2f}); the cross-domain FreqSim rises by "
               f"{cp['X'][-1] - cp['X'][0]:+.3f} and its ratio to the intra-domain one by "
               f"{cp['R'][-1] - cp['R'][0]:+.3f} (the rule asks ≥ {dd['literals']['usage_rise']} of both). A model that copies continues "
               "the repeated prompt with a further copy, so its samples agree: "
               + ("Fig. 29's collapse of random decoding appears, " if cp["sampling"] != "does not collapse" else
                  "even so random decoding does not collapse, ")
               + "without the stronger shared direction and larger logits the paper offers as its cause. "
               if cp["ce"][-1] < cp["ce"][0] - 0.5 and not cp["mech"] and cp["en"][-1] < cp["en"][0] else "")
            + f"By the same rule: **{cp['verdict']}** in this setting.")
        svg_panels(res.fig("claim10_copy.svg"),
                   f"Models trained to copy (data.repeat_prob = {p_rep}): a content of {m} tokens repeated n whole "
                   "times, measured on the last copy", claim10_panels(cp), "n (copies)")
        copy_plots = [("figures/claim10_copy.svg", "models trained to copy"),
                      ("claim10_copy/report.html", "report (copy)")]
    panels = claim10_panels(d)
    svg_panels(res.fig("claim10_duplicate.svg"),
               f"A content of {m} tokens repeated n whole times, measured on the last copy (drawn as the paper's "
               "Fig. 10)", panels, "n (copies)")
    return dict(
        claim="10. Duplication collapses cross-domain usage",
        source="the paper, Fig. 10 (§5.3; Figs. 26–29)",
        short=("each input sequence repeated 1×–12× (n times longer): cross-domain sequence FreqSim (Eq. 14) rises "
               "toward the intra-domain level, with a stronger shared direction and larger logits (several MoEs)"),
        shows=(
            "Fig. 10 (several pre-trained MoEs, e.g. gpt-oss-20b with and without its chat template): every input "
            "sequence is duplicated 1× to 12× (the input becomes n times longer; the chat template is not "
            "duplicated), and the cross-domain expert-usage similarity between sequences (Eq. 14) rises toward "
            "the intra-domain similarity (dashed grey). Without duplication, hidden-state similarity alone does "
            "not produce this collapse (except gpt-oss with its chat template). The paper's explanation: "
            "duplication amplifies the dominant hidden-state direction. Fig. 26 (ERNIE-4.5): duplication raises "
            "the tokens' hidden-state similarity (a stronger shared direction) and the pooled sequence "
            "similarity, and with them the expert-usage similarity. Fig. 29: the logit magnitude grows, and "
            "random decoding collapses (App. C.2 shows outputs up to 32×). No numbers."),
        files=[e] + (["claim10_copy"] if cp else []),
        rule=dd["text"],
        measured=(f"last layer, n = {'/'.join(map(str, ns))}: cross-domain sequence FreqSim {fmt_list(X)}, "
                  f"intra-domain {fmt_list(I)} (ratio {fmt_list(R)}); energy of v1 {fmt_list(en)}; mean logit norm "
                  f"{fmt_list(lnorm)}; router confidence {fmt_list(conf, 3)}; last-copy NLL {fmt_list(ce)}; "
                  f"sampling (k = {'/'.join(map(str, ks))}): entropy {fmt_list(H)} nats, {sampling}; {logits_txt(d)}"
                  + (f"; {copy_txt}" if copy_txt else "")),
        verdict=dd["verdict"],
        plots=[("figures/claim10_duplicate.svg", "vs n, as Fig. 10"), (f"{e}/plots/by_duplicate.svg", "report plot"),
               (f"{e}/report.html", "report")] + copy_plots,
        paragraph=(
            f"The models train at model.seq_len = {T} so that 12 copies of {m} tokens fit their learned "
            "positions; for a seed, every n measures the same model on the same contents, and only the copies "
            f"in front of the measured one change. The usage half {yes(usage)}: at the last layer the "
            f"cross-domain sequence FreqSim goes {fmt_list(X)} (sd over seeds at n = 12: "
            f"{sd(byn('freqsim_seq_cross_domain')[-1]):.2f}) and the intra-domain one {fmt_list(I)} (ratio "
            f"{fmt_list(R)}); at layer 0 {fmt_list(X0)} and {fmt_list(I0)}. The mechanism half {yes(mech)}: "
            f"the energy of v1 goes {fmt_list(en)}, the mean logit norm {fmt_list(lnorm)}; the hidden cosine "
            f"{fmt_list(cos)}, the pooled sequence cosine {fmt_list(pooled)}, the router confidence "
            f"{fmt_list(conf, 3)}. The language model's NLL on the last copy ({m - 1} next-token predictions "
            f"inside it) goes {fmt_list(ce)}"
            + (": the earlier copies make the last one easier to predict, so the model copies a little. "
               if ce[-1] < ce[0] - 0.05 else ": the earlier copies do not help it predict the last one. ")
            + (f"Almost all of the change happens between n = 1 and n = 2, where the measured copy first has the "
               f"whole content in front of it, and none after: from n = 2 to n = 12 the cross-domain FreqSim moves "
               f"by {X[-1] - X[1]:+.3f}, the energy of v1 by {en[-1] - en[1]:+.3f}, the logit norm by "
               f"{lnorm[-1] - lnorm[1]:+.3f}, the NLL by {ce[-1] - ce[1]:+.3f}. Nothing in this toy grows with the "
               "number of copies: two layers with one attention head each, trained on first-order Markov chains, "
               "whose attention averages over what precedes a token; more copies of the same tokens in front of "
               "the measured one give it more of the same to average, and no shared direction builds up. The "
               "paper's models are deep pre-trained language models, whose dominant hidden-state direction is "
               "what it finds amplified. "
               if abs(X[-1] - X[1]) < 0.02 and abs(en[-1] - en[1]) < 0.02 and abs(lnorm[-1] - lnorm[1]) < 0.02 * lnorm[1]
               else "")
            + f"Sampling {sampling} (Fig. 29): over k = {'/'.join(map(str, ks))} copies of the prompt, the "
            f"per-position entropy of 8 samples goes {fmt_list(H, 3)} nats (sd over seeds at k = 11: "
            f"{sd(gH[-1]):.3f}; at most ln 8 = 2.08), the distinct-token share {fmt_list([mean(v) for v in gS], 3)}, "
            f"the distinct continuations of 8 {fmt_list([mean(v) for v in gD])}."
            + (f" {copy_par}" if copy_par else "")),
    )
