"""table.py — reading a result root and the numbers every claim shares, written once.

Results(root, seeds) is one result root (results/ for the exploration, results/confirm/ for the
confirmation) seen through a set of training seeds: every row, run folder and model folder a claim
reads is filtered by it, so a claim measured with one seed left out reads exactly the other seeds.

sd() is the sample standard deviation (n - 1); for fewer than 2 values it is NaN, and fmt() prints
NaN as "–" (one behaviour for every claim; the old make_readme.py printed 0.00, section5.py nan).
Standard library only.
"""
import csv
import math
import os
import re
import statistics
import sys

DASH = "–"


class Missing(Exception):
    """A file a claim needs is not in the result root (the claim has not run there)."""


def num(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def mean(xs):
    xs = [x for x in xs if not math.isnan(x)]
    return statistics.fmean(xs) if xs else math.nan


def sd(xs):
    """Sample standard deviation (n - 1) of the non-NaN values; NaN for fewer than 2."""
    xs = [x for x in xs if not math.isnan(x)]
    return statistics.stdev(xs) if len(xs) > 1 else math.nan


def fmt(x, d=2):
    """x with d decimals; NaN as '–'."""
    return DASH if x != x else f"{x:.{d}f}"


def pm(xs, d=2):
    """'mean ± sd' over seeds ('n/a' with no value; sd '–' with one)."""
    if not xs or all(math.isnan(x) for x in xs):
        return "n/a"
    return f"{fmt(mean(xs), d)} ± {fmt(sd(xs), d)}"


def fmt_list(xs, d=2):
    return "/".join(fmt(x, d) for x in xs)


def yes(b):
    return "holds" if b else "fails"


def cap(x):
    return x[:1].upper() + x[1:]


def pearson(x, y):
    mx, my = mean(x), mean(y)
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    return sxy / math.sqrt(sxx * syy) if sxx > 0 and syy > 0 else math.nan


def q(xs, p):
    """The p-quantile of xs (nearest rank)."""
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))]


def read_csv(path):
    if not os.path.exists(path):
        raise Missing(path)
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def sel(rows, **kw):
    """Rows whose swept keys (given by their last name, dots as __) have the given values."""
    out = []
    for r in rows:
        ok = True
        for k, v in kw.items():
            key = next((c for c in r if c.endswith("." + k.replace("__", ".")) or c == k.replace("__", ".")), None)
            if key is None or str(r[key]) != str(v):
                ok = False
        if ok:
            out.append(r)
    return out


def vals(rows, col):
    return [num(r[col]) for r in rows if col in r]


def m(rows, col):
    return mean(vals(rows, col))


def pmc(rows, col, d=2):
    return pm(vals(rows, col), d)


def nlayers(rows):
    n = 0
    while rows and f"l{n}.router_confidence" in rows[0]:
        n += 1
    return n


def per_layer(rows, name):
    """(means, sds) of l<i>.name over the rows, for every layer i."""
    L = nlayers(rows)
    return ([m(rows, f"l{i}.{name}") for i in range(L)], [sd(vals(rows, f"l{i}.{name}")) for i in range(L)])


def seed_of(name):
    """The training seed in a run folder's name ('name=adamw-seed=2', 'seed2', 'seed=3'), or None."""
    mm = re.search(r"seed=?(\d+)", name)
    return int(mm.group(1)) if mm else None


class Results:
    """One result root seen through a set of training seeds (None: every seed)."""

    def __init__(self, root, seeds=None, figures=True):
        self.root = root
        self.seeds = None if seeds is None else {int(s) for s in seeds}
        self.figures = figures  # False: measure only, write no figure

    def keep(self, seed):
        return self.seeds is None or (seed is not None and int(seed) in self.seeds)

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    def exists(self, *parts):
        return os.path.exists(self.path(*parts))

    def rows(self, *parts):
        """Rows of a CSV under the root whose train.seed (when it has one) is in the seed set; only
        rows with status ok when there is a status column."""
        rr = read_csv(self.path(*parts))
        rr = [r for r in rr if r.get("status", "ok") == "ok"]
        return [r for r in rr if "train.seed" not in r or self.keep(r["train.seed"])]

    def load(self, exp):
        """The rows of ROOT/exp/summary.csv: runs with status ok and a kept train.seed."""
        path = self.path(exp, "summary.csv")
        rr = read_csv(path)
        bad = [r["run"] for r in rr if r["status"] != "ok"]
        if bad and self.figures:  # once, when the page is written (not for every seed set measured)
            print(f"claims: {exp}: runs not ok (left out): {', '.join(bad)}", file=sys.stderr)
        return [r for r in rr if r["status"] == "ok" and self.keep(r["train.seed"])]

    def dirs(self, *parts):
        """The sorted subfolders of ROOT/parts whose name names a kept seed (or no seed)."""
        d = self.path(*parts)
        if not os.path.isdir(d):
            raise Missing(d)
        out = []
        for name in sorted(os.listdir(d)):
            s = seed_of(name)
            if os.path.isdir(os.path.join(d, name)) and (s is None or self.keep(s)):
                out.append(name)
        return out

    def run_dir(self, exp, r):
        return self.path(exp, r["run"])

    def eval_at(self, exp, r, col, step=0, layer=0):
        """A measurement from a run's eval.csv at (step, layer)."""
        for row in read_csv(os.path.join(self.run_dir(exp, r), "eval.csv")):
            if int(row["step"]) == step and int(row["layer"]) == layer:
                return num(row[col])
        return math.nan

    def scatter(self, exp, r):
        """The (hidden, logit) RMS-distance pairs of one run's pairs.csv (the last MoE layer)."""
        return [(num(row["rms_hidden"]), num(row["rms_logits"]))
                for row in read_csv(os.path.join(self.run_dir(exp, r), "pairs.csv"))]

    def fig(self, name):
        return self.path("figures", name)


def config_value(run, key):
    """model.top_k style lookup in a run's resolved config.toml (flat `key = value` lines)."""
    table, name = key.split(".")
    cur = None
    path = os.path.join(run, "config.toml")
    if not os.path.exists(path):
        raise Missing(path)
    with open(path) as f:
        for line in f:
            line = line.split("#")[0].strip()
            if line.startswith("["):
                cur = line.strip("[]")
            elif cur == table and "=" in line and line.split("=")[0].strip() == name:
                return line.split("=", 1)[1].strip().strip('"')
    raise SystemExit(f"claims: {run}/config.toml has no {key}")


def entry(claim, source, files, short, measured, verdict, plots, shows, rule, paragraph, reports=None):
    """One claim of section 5 in the page's form (claims 11-17 keep their runs under one folder per
    claim, hence their report links)."""
    rep = {"claim11_models": "claim11_cross_model/models/report.html",
           "claim11_style": "claim11_cross_model/style/report.html",
           "claim11_analyzer": "claim11_cross_model/analyzer/report.html",
           "claim15_stage1": "claim15_switch_scope/stage1/report.html",
           "claim15_switch": None,  # one folder per seed (switch/seed<s>/), no single report
           "claim15_baselines": "claim15_switch_scope/baselines/report.html"}
    return {"claim": claim, "source": source, "files": files, "reports": reports or rep, "short": short,
            "measured": measured, "verdict": verdict, "plots": plots, "shows": shows, "rule": rule,
            "paragraph": paragraph}
