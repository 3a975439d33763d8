"""python3 -m claims {page RESULTS_DIR | verify | freeze CLAIM --change T --why T --known T | check DIR}
(run from experiments/; see __init__.py and docs/CLAIMS.md)."""
import argparse
import os
import sys

from . import freeze, page, rules
from .table import Missing, Results, fmt


def cmd_page(a):
    if not os.path.isdir(a.results_dir):
        print(f"moesim: claims page: {a.results_dir} is not a folder (expected the results of `make reproduce`)",
              file=sys.stderr)
        return 2
    try:
        text = page.render(a.results_dir)
    except Missing as e:
        print(f"moesim: claims page: {e} is missing: run `make reproduce` first", file=sys.stderr)
        return 1
    sys.stdout.write(text)
    return 0


def cmd_verify(a):
    probs = [p for n in rules.CLAIMS for p in freeze.problems(n, a.freeze)]
    for p in probs:
        print(f"moesim: claims verify: {p}", file=sys.stderr)
    if probs:
        print(f"moesim: claims verify: {len(probs)} difference(s); a rule may change only by a new freeze entry "
              "(python3 -m claims freeze CLAIM --change ... --why ... --known ...)", file=sys.stderr)
        return 2
    print(f"claims verify: all {len(rules.CLAIMS)} rules frozen and unchanged")
    return 0


def cmd_freeze(a):
    if a.claim not in rules.CLAIMS:
        print(f"moesim: claims freeze: CLAIM must be one of 1..{len(rules.CLAIMS)}, got {a.claim}", file=sys.stderr)
        return 2
    for k in ("change", "why", "known"):
        if not getattr(a, k).strip():
            print(f"moesim: claims freeze: --{k} must not be empty", file=sys.stderr)
            return 2
    sys.stdout.write(freeze.append(a.claim, a.change, a.why, a.known))
    return 0


def cmd_check(a):
    """The robust results of section5.sh --check's reduced run (3 models, one optimizer): the same
    model's samples of a prompt share more experts than its rollouts of other prompts, pruning wrote
    its file, the pooled cosines of Fig. 14 lie in [-1, 1]; claim 14's truncation is printed."""
    from . import claim11, claim14
    out = a.dir
    c11 = rules.load(11)["check"]
    c12 = rules.load(12)["check"]
    t = claim11.overlap_table(os.path.join(out, "claim11_cross_model", "compare_models_p0.8"))
    L = max(t)
    C = t[L]["same_prompt_same_model_other_sample"][0]
    B = t[L]["other_prompt_same_model"][0]
    ok1 = C - B >= c11["same_vs_other_prompt"]
    print(f"claim 11 (check): same model same prompt {fmt(C)} vs other prompt {fmt(B)}: {'ok' if ok1 else 'FAIL'}")
    ok2 = os.path.exists(os.path.join(out, "claim13_pruning", "analyzer", "prune.csv"))
    print(f"claim 13 (check): prune.csv written: {'ok' if ok2 else 'FAIL'}")
    tp = Results(out).rows("claim11_cross_model", "compare_models_p0.8", "track_pairs.csv")
    pooled = [float(r[k]) for r in tp for k in ("pooled_prompt", "pooled_full")] if tp and "pooled_full" in tp[0] else []
    ok3 = bool(pooled) and all(c12["pooled_min"] - 1e-6 <= x <= c12["pooled_max"] + 1e-6 for x in pooled)
    print(f"claim 12 (check): pooled cosine of {len(pooled)} (pair, layer, span) cases in [-1, 1]: "
          f"{'ok' if ok3 else 'FAIL'}")
    cases, good, half1, halfK, _, D, K = claim14.truncation(os.path.join(out, "claim11_cross_model", "models"))
    from .table import mean, sd
    print(f"claim 14 (check): agreement of the m = 1 expert above that of m = {K} in {good} of {cases} (model, layer, "
          f"rank < {D}) cases; at r = {D // 2} of {D}: m = 1 {fmt(mean(half1))} ± {fmt(sd(half1))}, m = {K} "
          f"{fmt(mean(halfK))} ± {fmt(sd(halfK))}.")
    return 0 if ok1 and ok2 and ok3 else 1


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python3 -m claims", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("page", help="write results/README.md's text to stdout")
    p.add_argument("results_dir", nargs="?", default="../results")
    p = sub.add_parser("verify", help="check every claim's rule and confirmation setting against freeze.toml")
    p.add_argument("--freeze", default=freeze.FREEZE, help="the freeze file (default experiments/claims/freeze.toml)")
    p = sub.add_parser("freeze", help="append a freeze entry with the current hashes")
    p.add_argument("claim", type=int)
    p.add_argument("--change", required=True)
    p.add_argument("--why", required=True)
    p.add_argument("--known", required=True)
    p = sub.add_parser("check", help="section 5's reduced check (reproduce.sh --check)")
    p.add_argument("dir")
    a = ap.parse_args(argv)
    return {"page": cmd_page, "verify": cmd_verify, "freeze": cmd_freeze, "check": cmd_check}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
