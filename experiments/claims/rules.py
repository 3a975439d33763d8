"""rules.py — the rule files (rules/claimNN.toml), the rule sentence rendered from them, and the
hashes the freeze records.

A rule file holds [rule] (the thresholds as named numbers, and `text`, the rule sentence with
{name} placeholders), [setting], [[history]], [[pilots]], [check] and [confirm]; docs/CLAIMS.md
describes them. The sentence is filled with each number exactly as the file writes it (0.10
stays 0.10), so the prose cannot disagree with the value the verdict function reads.
Standard library only (tomllib: python3 >= 3.11).
"""
import hashlib
import importlib
import inspect
import json
import os
import re
import tomllib

HERE = os.path.dirname(os.path.abspath(__file__))
RULES = os.path.join(HERE, "rules")
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
# 18-22: issue 22's new rows; 23: the optimizer ablation (issue 25); 100 + N: claim N on real text
# (issue 23), listed right after claim N
TEXT = [103, 104, 105, 106, 108, 109, 110, 116, 117]
CLAIMS = [c for n in range(1, 24) for c in [n] + [t for t in TEXT if t - 100 == n]]


def rule_path(n, rules_dir=RULES):
    return os.path.join(rules_dir, f"claim{n:02d}.toml")


def literals(text, table="rule"):
    """{name: the number as written} of the `name = number` lines of one [table] of a TOML text."""
    out, cur = {}, None
    for line in text.splitlines():
        s = line.split("#")[0].strip()
        if s.startswith("["):
            cur = s.strip("[]").strip()
            continue
        mm = re.match(r"^([A-Za-z0-9_]+)\s*=\s*([-+0-9.eE_]+)$", s)
        if cur == table and mm:
            out[mm.group(1)] = mm.group(2)
    return out


def load(n, rules_dir=RULES):
    """The parsed rule file of claim n, with 'literals' (the [rule] numbers as written)."""
    path = rule_path(n, rules_dir)
    with open(path, "rb") as f:
        raw = f.read()
    try:
        d = tomllib.loads(raw.decode("utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise SystemExit(f"moesim: claims: {path}: {e}")
    for t in ("rule", "setting", "confirm"):
        if t not in d:
            raise SystemExit(f"moesim: claims: {path}: no [{t}] table")
    if "text" not in d["rule"]:
        raise SystemExit(f"moesim: claims: {path}: [rule] has no text")
    d["literals"] = literals(raw.decode("utf-8"))
    d["setting_literals"] = literals(raw.decode("utf-8"), "setting")
    d["path"] = path
    return d


def thresholds(d):
    """The numbers of [rule] (everything but its text)."""
    return {k: v for k, v in d["rule"].items() if k != "text"}


def render(d):
    """The rule sentence: [rule].text with every {name} filled by the number as the file writes it
    ([rule] first, then [setting]; a setting string is filled without its quotes)."""
    vals = {k: d["setting_literals"].get(k, str(v)) for k, v in d["setting"].items()}
    vals.update({k: d["literals"].get(k, str(v)) for k, v in thresholds(d).items()})
    try:
        return d["rule"]["text"].format_map(vals)
    except KeyError as e:
        raise SystemExit(f"moesim: claims: {d['path']}: the rule text names {e}, which neither [rule] nor "
                         "[setting] defines")


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def module(n):
    return importlib.import_module(f"{__package__}.claim{n:02d}")


def rule_hash(n, d=None, verdict_source=None):
    """sha256 of the canonical JSON of [rule] + [setting] + the source of claim n's verdict function
    (and of any other function its RULE_CODE lists, e.g. claim 10's sampling rule)."""
    d = d or load(n)
    if verdict_source is None:
        mod = module(n)
        verdict_source = "\n".join(inspect.getsource(f) for f in getattr(mod, "RULE_CODE", [mod.verdict]))
    src = verdict_source
    return hashlib.sha256(canonical({"rule": d["rule"], "setting": d["setting"], "verdict": src})
                          .encode("utf-8")).hexdigest()


def confirm_hash(n, d=None, repo=REPO):
    """sha256 of the canonical JSON of [confirm] + the bytes of every file it names (files = [...],
    paths relative to the repository)."""
    d = d or load(n)
    h = hashlib.sha256(canonical(d["confirm"]).encode("utf-8"))
    for f in d["confirm"].get("files", []):
        p = os.path.join(repo, f)
        if not os.path.exists(p):
            raise SystemExit(f"moesim: claims: {d['path']}: [confirm] names {f}, which does not exist")
        with open(p, "rb") as fh:
            h.update(b"\0" + f.encode("utf-8") + b"\0" + fh.read())
    return h.hexdigest()
