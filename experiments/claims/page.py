"""page.py — results/README.md from a result root: per claim the exploration verdict (RESULTS_DIR/
<experiment>/, the seeds of its [setting]), the confirmation verdict (RESULTS_DIR/confirm/<experiment>/,
the seeds of its [confirm] table, only when the rule is frozen and unchanged), each verdict's
fragility (every seed left out in turn), the rule's history and the pilots that informed it.
Standard library only.
"""
import os
import sys

from . import freeze, rules
from .table import Missing, Results


def measure(mod, d, root, seeds):
    if mod.__name__.endswith("claim05"):
        return mod.measure(root, seeds, setting=d["setting"])
    return mod.measure(root, seeds)


def judge(mod, d, root, seeds):
    """(outcome, details) of claim mod on root with the given seeds."""
    return mod.verdict(measure(mod, d, root, seeds), d["rule"])


def fragility(mod, d, root, seeds, outcome):
    """'fragile: without seed S → X; ...', 'robust: ...', or why the claim cannot be split by seed."""
    if mod.SEED_SPLIT is not True:
        return f"not split by seed: {mod.SEED_SPLIT}"
    seeds = sorted(seeds)
    if len(seeds) < 2:
        return "one seed: nothing to leave out"
    flips = []
    for s in seeds:
        o, _ = judge(mod, d, root, [x for x in seeds if x != s])
        if o != outcome:
            flips.append(f"without seed {s} → {o}")
    if flips:
        return "fragile: " + "; ".join(flips)
    return f"robust: {outcome} with any one of seeds {', '.join(map(str, seeds))} left out"


def cell(outcome, details):
    return outcome + (f" ({details})" if details else "")


def confirmation(n, mod, d, root, freeze_path):
    """(verdict cell, fragility text) of the confirmation run: 'not frozen' when verify fails for the
    claim, 'not yet confirmed' when its seeds are not chosen or its results are missing."""
    probs = freeze.problems(n, freeze_path)
    if probs:
        return "not frozen", "; ".join(p.split(": ", 1)[1] for p in probs)
    seeds = d["confirm"].get("seeds", [])
    croot = os.path.join(root, "confirm")
    if not seeds:
        return "not yet confirmed", "no confirmation seeds in the rule file yet"
    if not all(os.path.exists(os.path.join(croot, e)) for e in mod.EXPERIMENTS):
        return "not yet confirmed", f"{os.path.join(croot, mod.EXPERIMENTS[0])} does not exist yet"
    try:
        outcome, details = judge(mod, d, croot, seeds)
    except Missing as e:
        return "not yet confirmed", f"{e} does not exist yet"
    return cell(outcome, details), fragility(mod, d, croot, seeds, outcome)


def confirmation_measured(mod, d, root):
    """The confirmation run's 'we measured' text (describe() on results/confirm/ with the [confirm]
    seeds; its figures go to results/confirm/figures/), or None when there is no confirmation."""
    seeds = d["confirm"].get("seeds", [])
    croot = os.path.join(root, "confirm")
    if not seeds or not all(os.path.exists(os.path.join(croot, e)) for e in mod.EXPERIMENTS):
        return None
    dc = dict(d, outcome=d["confirm_outcome"], details="", verdict=d["confirm_outcome"])
    os.makedirs(os.path.join(croot, "figures"), exist_ok=True)
    try:
        c = mod.describe(Results(croot, seeds), dc)
    except Missing:
        return None
    return c["measured"] if c else None


def history_lines(n, d, freeze_path):
    out = [f"- {h['date']} ({h['commit']}): {h['change']} Known then: {h['known']}." for h in d.get("history", [])]
    for e in freeze.entries(freeze_path):
        if int(e["claim"]) == n:
            out.append(f"- {e['date']} (frozen in {freeze.commit_of(e, freeze_path)}; rule {e['rule_hash'][:12]}, "
                       f"confirmation {e['confirm_hash'][:12]}): {e['change']} Why: {e['why']} Known then: {e['known']}.")
    if not any(int(e["claim"]) == n for e in freeze.entries(freeze_path)):
        out.append("- Not frozen yet: no entry in experiments/claims/freeze.toml.")
    return out


def pilot_lines(d):
    return [f"- {p['name']}: ran {p['ran']}; decided {p['decided']}; numbers: {p['numbers']}." for p in d.get("pilots", [])]


PROTOCOL = (
    "How the verdicts are decided. Every claim's rule (its thresholds as named values and the sentence printed "
    "below, rendered from them) is a file, experiments/claims/rules/claimNN.toml, and its verdict is a small "
    "function, claimNN.verdict (docs/CLAIMS.md). Most of these rules were written or changed after numbers of "
    "the same runs had been seen; each claim's **rule history** says when, with the commits and the numbers "
    "known then, and names every pilot that informed a setting. The **exploration** verdict is the one those "
    "runs give (training seeds 1, 2, 3: what this page has shown so far). The verdict column of the claims "
    "table is the **confirmation** verdict: a rule is frozen by an entry in experiments/claims/freeze.toml (a "
    "hash of the rule, its verdict function and its confirmation setting, committed before any confirmation "
    "run); the confirmation runs then use training seeds never used before (and a new world, `data.seed`, where "
    "the claim does not depend on one) and are judged by the frozen rule. A claim whose rule differs from its "
    "latest freeze entry says **not frozen**; one whose confirmation runs are not in results/confirm/ says "
    "**not yet confirmed**. **Fragility**: the verdict again with each seed left out in turn; when one seed "
    "flips it, the cell says so.")


def build(root, freeze_path=freeze.FREEZE):
    from . import rules as R
    # the section 5 claims (11-17) need section5.sh's files; without them they are left out, as before
    s5 = os.path.exists(os.path.join(root, "claim11_cross_model", "compare_models_p0.8", "compare.csv"))
    items = []
    for n in rules.CLAIMS:
        if 11 <= n <= 17 and not s5:
            continue
        mod = R.module(n)
        d = rules.load(n)
        d["text"] = rules.render(d)
        seeds = d["setting"]["seeds"]
        croot = os.path.join(root, "confirm")
        there = lambda r: all(os.path.exists(os.path.join(r, e)) for e in mod.EXPERIMENTS)
        if not (there(root) if seeds else there(croot)):
            # a claim whose experiments have not run into this root yet has no row (a setting with no
            # exploration, seeds = [], has its row once its confirmation ran)
            print(f"claims: claim {n}: left out: its experiments ({', '.join(mod.EXPERIMENTS)}) are not in "
                  f"{root if seeds else croot}", file=sys.stderr)
            continue
        os.makedirs(os.path.join(root, "figures"), exist_ok=True)
        if seeds:
            outcome, details = judge(mod, d, root, seeds)
            d.update(outcome=outcome, details=details, verdict=cell(outcome, details))
            c = mod.describe(Results(root, seeds), d)
        else:  # no exploration: the row shows the confirmation only
            outcome, details = "none", ""
            d.update(outcome=outcome, details=details, verdict="no exploration run (pilots only)")
            d["confirm_outcome"] = confirmation(n, mod, d, root, freeze_path)[0]
            c = mod.describe(Results(croot, d["confirm"]["seeds"]), dict(d, verdict=d["confirm_outcome"]))
        if c is None:
            continue
        c["exploration"] = d["verdict"]
        c["fragility"] = fragility(mod, d, root, seeds, outcome) if seeds else "no exploration"
        c["confirm"], c["confirm_fragility"] = confirmation(n, mod, d, root, freeze_path)
        c["confirm_measured"] = None
        if c["confirm"] not in ("not frozen", "not yet confirmed"):
            d["confirm_outcome"] = c["confirm"]
            c["confirm_measured"] = confirmation_measured(mod, d, root)
        c["history"] = history_lines(n, d, freeze_path)
        c["pilots"] = pilot_lines(d)
        c["seeds"] = seeds
        items.append(c)
    return items


def render(root, freeze_path=freeze.FREEZE):
    claims = build(root, freeze_path)
    timing = {}
    for what, tpath in (("exploration", os.path.join(root, "timing.txt")),
                        ("confirmation", os.path.join(root, "confirm", "timing.txt"))):
        if os.path.exists(tpath):
            timing[what] = open(tpath).read().strip()
    out = []
    w = out.append
    w("# Results: the claims, checked on a laptop\n")
    w("Written by `make reproduce` (experiments/reproduce.sh checks the freeze, runs every experiment of "
      "`experiments/confirm/` — the claim files on fresh seeds — into results/confirm/, then `python3 -m claims "
      "page` (experiments/claims/) writes this page from the files the runs wrote; `make reproduce-explore` "
      "re-runs the exploration, the claim files themselves, into results/). Every number on the page "
      "comes from those files: a mean ± standard deviation over the training seeds (`train.seed`: 1, 2, 3 in the "
      "exploration, each claim's `[confirm]` seeds in the confirmation; the world, `data.seed`, is one per run: "
      "1 in the exploration, a fresh one in the confirmation), measured on the final evaluation set, at the last MoE layer unless a layer is "
      "named. The measurements are those of docs/METRICS.md (Appendix A of the paper, per sequence where the paper "
      "defines them per sequence, averaged over all evaluation sequences rather than the paper's 16). Each claim "
      "states what its source shows, from the source's own text and figure captions, and its verdict rule, "
      "with its three outcomes: reproduced, partly, not reproduced. "
      "Sources: arXiv 2604.09780 (\"the paper\", Wang, Hayou & Nalisnick 2026), Qiu et al. 2025 (arXiv "
      "2501.11873; its abstract), Wang et al. 2024 (arXiv 2408.15664).\n")
    w(PROTOCOL + "\n")
    for what, t in timing.items():
        w(f"The {what} run: {t}\n")
    if "exploration" in timing:
        w("The exploration runs of claims 18, 21 and 22, and the re-runs of claim06_optimizers and claim08_ood that "
          "added the output-logit and router-alignment columns (every earlier column byte-identical), were made "
          "later, with moesim at 283ebd1's tree; claim 23 and the real-text settings have no exploration run "
          "(their pilots are named in their sections).\n")
    w("## The claims\n")
    w("| claim | source | experiment | what the source shows | we measured (confirmation where it ran, else "
      "exploration) | verdict (confirmation) | exploration verdict | plots |")
    w("|---|---|---|---|---|---|---|---|")
    for c in claims:
        files = "<br>".join(f"[{f}.toml](../experiments/{f}.toml)" for f in c["files"])
        plots = "<br>".join(f"[{name}]({link})" for link, name in c["plots"])
        expl = f"{c['exploration']}; {c['fragility']}" if c["seeds"] else "none (pilots only)"
        meas = (f"confirmation: {c['confirm_measured']}" if c["confirm_measured"]
                else f"exploration: {c['measured']}")
        frag = c["confirm_fragility"] or ""
        conf = f"**{c['confirm']}**" + (f"<br>{frag}" if frag.startswith("fragile") else "")
        w(f"| {c['claim']} | {c['source']} | {files} | {c['short']} | {meas} | {conf} | "
          f"exploration: {expl} | {plots} |")
    w("")
    w("## Each claim\n")
    for c in claims:
        w(f"### {c['claim']}\n")
        w(f"**What the source shows** ({c['source']}). {c['shows']}\n")
        w(f"**Verdict rule.** {c['rule']}\n")
        expl = (f"Exploration (seeds {', '.join(map(str, c['seeds']))}): **{c['exploration']}**; {c['fragility']}."
                if c["seeds"] else "No exploration run: only the pilots below.")
        w(f"**Verdicts.** Confirmation: **{c['confirm']}** ({c['confirm_fragility']}). {expl}\n")
        if not c["seeds"]:  # a setting without exploration: its paragraph is the confirmation's
            w(f"**What the confirmation measured: {c['confirm']}.** {c['paragraph']}\n")
        else:
            if c["confirm_measured"]:
                w(f"**What the confirmation measured: {c['confirm']}.** {c['confirm_measured']}.\n")
            w(f"**What we measured (exploration): {c['exploration']}.** {c['paragraph']}\n")
        if c.get("table"):
            w("\n".join(c["table"]) + "\n")
        w("**Rule history.**\n\n" + "\n".join(c["history"]) + "\n")
        w("**Pilots.** " + ("\n\n" + "\n".join(c["pilots"]) if c["pilots"] else "None recorded.") + "\n")
        reports = c.get("reports", {})
        w("Experiment: " + ", ".join(f"[{f}.toml](../experiments/{f}.toml) ([report]({reports.get(f, f + '/report.html')}))"
                                     if reports.get(f, "") is not None else f"[{f}.toml](../experiments/{f}.toml)"
                                     for f in c["files"]) + ".\n")
    w("## Reproducing\n")
    w("```sh\nmake reproduce         # every claim from scratch into results/, then this page\n"
      "make reproduce-check   # claims 1, 2, 3, 5, 11, 13 at reduced size; fails if one stops holding\n"
      "sh experiments/reproduce.sh --readme   # only rebuild this page from the files in results/\n"
      "cd experiments && python3 -m claims verify   # is every rule frozen and unchanged?\n```\n")
    w("The shared settings are in experiments/base_domains.toml (the `domains` world: 8 domains over a shared "
      "and a private vocabulary, 2 layers, 16 experts, top-2, 200 steps of 32 sequences, so the suite runs in "
      "minutes) and experiments/base_deep.toml (the same with 4 layers). Each claim file opens with its "
      "question and the source's expectation. "
      "Claims 11-15 and 17 need trained models: experiments/section5.sh trains them (their model/ folders are not "
      "kept in the repository), generates from them, compares (`moesim compare --route-with`), prunes "
      "(`moesim eval` with `eval.prune_*`) and warm-starts (`train.init_from`); experiments/claims/ holds "
      "every claim's verdict rule (rules/claimNN.toml) and verdict function (claimNN.py).")
    return "\n".join(out) + "\n"
