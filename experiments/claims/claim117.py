"""claim117.py — claim 17 on real text (issue 23): prefill collapse with depth, on text_claim06's
4-layer models against text_claim03's micro-batch-balanced ones; rules/claim117.toml (claim 17's
verdict function).
"""
from .claim17 import layer_cols, verdict
from .table import Results, fmt_list, mean, sel
from .textrow import row

EXPERIMENTS = ["text_claim06_optimizers", "text_claim03_micro_batch"]
SEED_SPLIT = True


def curves(res):
    r6, r3 = res.load("text_claim06_optimizers"), res.load("text_claim03_micro_batch")
    groups = {"adamw": sel(r6, name="adamw"), "muon": sel(r6, name="muon"), "micro": sel(r3, scope="micro")}
    out = {}
    for name, rr in groups.items():
        cr, sm = layer_cols(rr, "freqsim_seq_cross_domain"), layer_cols(rr, "freqsim_seq_same_domain")
        out[name] = (cr, {l: [a / b for a, b in zip(cr[l], sm[l])] for l in cr})
    return out


def measure(root, seeds=None):
    c = curves(Results(root, seeds, figures=False))
    last = lambda n: max(c[n][0])
    q = {}
    for o in ("adamw", "muon"):
        q[f"ratio_last_{o}"] = mean(c[o][1][last(o)])
        q[f"rise_{o}"] = mean(c[o][0][last(o)]) - mean(c[o][0][0])
    q["ratio_ref"] = mean(c["micro"][1][last("micro")])
    return q


RULE_CODE = [verdict]


def describe(res, d):
    c = curves(res)
    q = measure(res.root, res.seeds)
    per = lambda o: fmt_list([mean(c[o][0][l]) for l in sorted(c[o][0])])
    meas = (f"cross-language sequence FreqSim per layer: AdamW {per('adamw')}, Muon {per('muon')}; last layer cross/same "
            f"AdamW {q['ratio_last_adamw']:.2f}, Muon {q['ratio_last_muon']:.2f} vs micro-batch balancing "
            f"{q['ratio_ref']:.2f}; rise first → last layer AdamW {q['rise_adamw']:+.2f}, Muon {q['rise_muon']:+.2f}")
    return row(17, "Prefill collapse in deep layers", "the paper §5.3, Fig. 9 (left)", EXPERIMENTS,
               "as claim 17, on 7 languages (4 layers)", meas, d["verdict"],
               "As claim 17 (unrelated prefills use the same experts in the later layers of gpt-oss-20b), with "
               "sequences of different languages as the unrelated prefills.", d["text"], f"On 7 languages: {meas}.")
