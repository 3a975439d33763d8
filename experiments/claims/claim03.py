"""claim03.py — claim 3: micro-batch balancing

measure(root, seeds) reads the files into numbers, verdict(q, rule) decides, describe(res, d) writes
the page's text and figures. The rule's thresholds and sentence are in rules/claim03.toml.
"""
import math
import os

from .table import (Missing, Results, cap, config_value, fmt, fmt_list, m, mean, nlayers, num, per_layer, pm, pmc,
                    q, sd, sel, vals, yes)
from .svg import fig2_figure, layers_figure, layers_like_x, svg_panels

EXPERIMENTS = ["claim03_micro_batch", "claim03_mixed", "claim03_alpha", "claim05_auxfree"]
SEED_SPLIT = True
F, N = "freqsim_cross_domain", "nmi_domain_expert"


def measure(root, seeds=None):
    """Last-layer cross-domain FreqSim and NMI by scope (micro-batch 1), and the share of the gap
    that mixing domains inside micro-batches of 4 recovers."""
    res = Results(root, seeds, figures=False)
    a, b = res.load("claim03_micro_batch"), res.load("claim03_mixed")
    mic1, mic4 = sel(a, scope="micro", micro_batch=1), sel(a, scope="micro", micro_batch=4)
    glo1, shu1 = sel(a, scope="global", micro_batch=1), sel(a, scope="shuffle", micro_batch=1)
    mixm, mixg = sel(b, scope="micro"), sel(b, scope="global")
    return dict(f_micro=m(mic1, F), f_global=m(glo1, F), f_shuffle=m(shu1, F), nmi_micro=m(mic1, N),
                nmi_global=m(glo1, N), recovered=(m(mic4, F) - m(mixm, F)) / (m(mic4, F) - m(mixg, F)))


def verdict(q, rule):
    """The gap (micro - global FreqSim) and sub-claims (a) shuffle ~ global, (b) NMI, (c) mixing."""
    gap = q["f_micro"] - q["f_global"]
    subs = dict(shuffle=abs(q["f_shuffle"] - q["f_global"]) < rule["shuffle_within"],
                nmi=q["nmi_global"] > rule["nmi_factor"] * q["nmi_micro"],
                mixing=q["recovered"] > rule["mixing_recovered_percent"] / 100)
    if gap > rule["gap_reproduced"] and all(subs.values()):
        return "reproduced", ""
    if gap > rule["gap_partly"]:
        return "partly", ""
    return "not reproduced", ""


def describe(res, d):
    a, b, c = res.load("claim03_micro_batch"), res.load("claim03_mixed"), res.load("claim03_alpha")
    d5 = res.load("claim05_auxfree")
    r_ = d["rule"]
    F, N = "freqsim_cross_domain", "nmi_domain_expert"
    mic1, mic4 = sel(a, scope="micro", micro_batch=1), sel(a, scope="micro", micro_batch=4)
    glo1, glo4 = sel(a, scope="global", micro_batch=1), sel(a, scope="global", micro_batch=4)
    shu1 = sel(a, scope="shuffle", micro_batch=1)
    mixm, mixg = sel(b, scope="micro"), sel(b, scope="global")
    non, aux = sel(d5, method="none"), sel(d5, method="auxfree")
    gap = m(mic1, F) - m(glo1, F)
    rec = (m(mic4, F) - m(mixm, F)) / (m(mic4, F) - m(mixg, F))
    al = {(sc, al_): sel(c, scope=sc, alpha=al_) for sc in ("micro", "global") for al_ in ("0.01", "0.1", "1")}
    gaps = {x: m(al["micro", x], F) - m(al["global", x], F) for x in ("0.01", "0.1", "1")}
    subs = dict(shuffle=abs(m(shu1, F) - m(glo1, F)) < r_["shuffle_within"], nmi=m(glo1, N) > r_["nmi_factor"] * m(mic1, N),
                mixing=rec > r_["mixing_recovered_percent"] / 100)
    verdict = d["verdict"]
    failed = [k for k, v in subs.items() if not v]
    dce = max(abs(m(mic1, "eval_ce") - m(glo1, "eval_ce")), abs(m(mic4, "eval_ce") - m(glo1, "eval_ce")))
    E_dom = int(config_value(res.run_dir("claim03_mixed", mixm[0]), "data.domains"))
    mb = int(config_value(res.run_dir("claim03_mixed", mixm[0]), "train.micro_batch"))
    distinct = E_dom * (1 - (1 - 1 / E_dom) ** mb)
    table = ["| variant (last layer) | cross-domain FreqSim | NMI(domain; expert) | eval CE | MaxVio |",
             "|---|---|---|---|---|"]
    for name, rs in [("micro, micro-batch 1, homogeneous", mic1), ("micro, micro-batch 4, homogeneous", mic4),
                     ("micro, micro-batch 4, mixed", mixm), ("global (micro-batch 1)", glo1),
                     ("global, micro-batches of 4 of one domain", glo4), ("shuffle (micro-batch 1)", shu1),
                     ("none (claim05_auxfree: 64 evaluation sequences per domain)", non),
                     ("aux-free (claim05_auxfree: 64 evaluation sequences per domain)", aux)]:
        table.append(f"| {name} | {pmc(rs, F)} | {pmc(rs, N, 3)} | {pmc(rs, 'eval_ce', 3)} | {pmc(rs, 'maxvio')} |")
    table.append("")
    table.append("| α | micro FreqSim | global FreqSim | gap | micro eval CE | global eval CE |")
    table.append("|---|---|---|---|---|---|")
    for x in ("0.01", "0.1", "1"):
        table.append(f"| {x} | {pmc(al['micro', x], F)} | {pmc(al['global', x], F)} | {gaps[x]:.2f} | "
                     f"{pmc(al['micro', x], 'eval_ce', 3)} | {pmc(al['global', x], 'eval_ce', 3)} |")
    return dict(
        claim="3. Specialization collapse under micro-batch balancing",
        source="Qiu et al. 2025; the paper §4.1",
        short=("balancing computed per micro-batch (a few sequences, nearly one) routes even one domain's sequences "
               "evenly over all experts, so experts stop specializing; global-batch balancing restores it (MoEs up to "
               "42.8B parameters, 400B tokens)"),
        shows=(
            "Qiu et al. 2025 (arXiv 2501.11873) train MoE language models of up to 42.8B parameters on up to 400B "
            "tokens. When the balancing loss is computed per micro-batch, which in practice holds very few "
            "sequences, the router is pushed to spread each sequence's tokens evenly over the experts, even for a "
            "domain-specific sequence such as code; computing it over the global batch gives better perplexity "
            "and downstream scores and much stronger domain specialization. The paper (§4.1) cites this as the "
            "model \"loses any form of expert specialization, showing same expert usage patterns for inputs of "
            "different topics\" and offers Proposition 2 as a possible explanation. We quote no numbers from "
            "Qiu et al. (we read its abstract, not its figures)."),
        files=["claim03_micro_batch", "claim03_mixed", "claim03_alpha"],
        rule=d["text"],
        measured=(f"FreqSim micro {pmc(mic1, F)} (micro-batch 1), {pmc(mic4, F)} (4) vs global {pmc(glo1, F)}, "
                  f"shuffle {pmc(shu1, F)}, none {pmc(non, F)}, aux-free {pmc(aux, F)}; mixed micro-batches "
                  f"{pmc(mixm, F)} ({rec * 100:.0f}% of the gap recovered); NMI {pmc(mic1, N, 3)} vs {pmc(glo1, N, 3)}; "
                  f"gap {gaps['0.01']:.2f} / {gaps['0.1']:.2f} / {gaps['1']:.2f} at α = 0.01 / 0.1 / 1"
                  + (f"; failed: {', '.join(failed)}" if failed else "")),
        verdict=verdict,
        plots=[("claim03_micro_batch/plots/by_scope.svg", "by scope"), ("claim03_micro_batch/plots/heatmaps.svg", "heatmaps"),
               ("claim03_alpha/plots/by_alpha.svg", "by α"), ("claim03_micro_batch/report.html", "report")],
        table=table,
        paragraph=(
            "What drives it is one domain per balancing group, not the group's size: micro-batches of 1 and "
            f"of 4 same-domain sequences collapse alike ({m(mic1, F):.2f} vs {m(mic4, F):.2f}), while "
            "balancing the same statistics over a random reshuffle of the batch (`shuffle`) behaves like "
            f"`global` ({m(shu1, F):.2f} vs {m(glo1, F):.2f}). A group that holds one domain can only be "
            "balanced by sending that domain to every expert, so each domain ends up using all experts alike. "
            f"Mixing the domains inside micro-batches of {mb} recovers {rec * 100:.0f}% of the gap "
            f"({m(mixm, F):.2f}): a micro-batch of {mb} holds on average only {distinct:.1f} of the {E_dom} domains, "
            f"so each balancing group is still far from the batch's mix. The gap is {gaps['0.01']:.2f} at "
            f"α = 0.01 and {gaps['0.1']:.2f} at 0.1; at α = 1 it is {gaps['1']:.2f}, because global balancing "
            f"erodes specialization too (global FreqSim {m(al['global', '1'], F):.2f}). Global balancing at "
            f"α = 0.1 costs little specialization relative to no balancing at all ({m(glo1, F):.2f} vs "
            f"{m(non, F):.2f}; aux-free {m(aux, F):.2f}). Unlike Qiu et al., the toy's language-model loss "
            f"barely notices any of this (eval CE within {dce:.3f} nats across scopes at α = 0.1): specialization "
            "by domain is not what the toy's loss needs. A side result: with global balancing but micro-batches "
            f"of {mb} sequences of one domain, the step batch holds fewer domain draws and specialization drops "
            f"({m(glo4, F):.2f} vs {m(glo1, F):.2f}) — the batch-diversity effect of claim 4."),
    )
