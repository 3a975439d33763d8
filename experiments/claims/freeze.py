"""freeze.py — experiments/claims/freeze.toml: one [[entry]] per frozen rule (claim, date,
rule_hash, confirm_hash, change, why, known). A claim's latest entry must match the current hashes
of its rule file and verdict function (rules.rule_hash) and of its confirmation setting
(rules.confirm_hash); `python3 -m claims verify` refuses otherwise, and the page prints
"not frozen" in that claim's confirmation cell. Standard library only.
"""
import datetime
import json
import os
import subprocess
import tomllib

from . import rules

FREEZE = os.path.join(rules.HERE, "freeze.toml")
HEADER = """# experiments/claims/freeze.toml — the frozen rules (docs/CLAIMS.md). Append only, through
#   cd experiments && python3 -m claims freeze CLAIM --change TEXT --why TEXT --known TEXT
# A claim's latest entry must match its rule file's [rule] + [setting] + verdict function
# (rule_hash) and its [confirm] table + the files it names (confirm_hash).
"""


def entries(path=FREEZE):
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        try:
            d = tomllib.load(f)
        except tomllib.TOMLDecodeError as e:
            raise SystemExit(f"moesim: claims: {path}: {e}")
    out = d.get("entry", [])
    for i, e in enumerate(out):
        for k in ("claim", "date", "rule_hash", "confirm_hash", "change", "why", "known"):
            if k not in e:
                raise SystemExit(f"moesim: claims: {path}: entry {i + 1} has no {k}")
    return out


def latest(n, path=FREEZE):
    es = [e for e in entries(path) if int(e["claim"]) == n]
    return es[-1] if es else None


def problems(n, path=FREEZE, rule_hash=None, confirm_hash=None):
    """What differs between claim n's latest freeze entry and now ([] when frozen and unchanged)."""
    e = latest(n, path)
    if e is None:
        return [f"claim {n}: no freeze entry in {os.path.relpath(path, rules.REPO)}"]
    now_r = rule_hash if rule_hash is not None else rules.rule_hash(n)
    now_c = confirm_hash if confirm_hash is not None else rules.confirm_hash(n)
    out = []
    if e["rule_hash"] != now_r:
        out.append(f"claim {n}: rule_hash differs: frozen {e['rule_hash'][:12]} ({e['date']}), now {now_r[:12]} "
                   f"(rules/claim{n:02d}.toml [rule]/[setting] or claim{n:02d}.verdict changed)")
    if e["confirm_hash"] != now_c:
        out.append(f"claim {n}: confirm_hash differs: frozen {e['confirm_hash'][:12]} ({e['date']}), now "
                   f"{now_c[:12]} (rules/claim{n:02d}.toml [confirm] or a file it names changed)")
    return out


def toml_str(s):
    return json.dumps(str(s), ensure_ascii=False)  # a JSON string is a TOML basic string


def append(n, change, why, known, path=FREEZE, date=None):
    """Append an entry for claim n with the current hashes; returns the entry's text."""
    date = date or datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    text = (f"\n[[entry]]\nclaim = {n}\ndate = {toml_str(date)}\nrule_hash = {toml_str(rules.rule_hash(n))}\n"
            f"confirm_hash = {toml_str(rules.confirm_hash(n))}\nchange = {toml_str(change)}\n"
            f"why = {toml_str(why)}\nknown = {toml_str(known)}\n")
    new = not os.path.exists(path)
    with open(path, "a") as f:
        if new:
            f.write(HEADER)
        f.write(text)
    entries(path)  # the file still parses
    return text


def commit_of(e, path=FREEZE):
    """The first commit whose freeze.toml holds this entry's rule_hash, or 'uncommitted'."""
    rel = os.path.relpath(path, rules.REPO)
    try:
        log = subprocess.run(["git", "-C", rules.REPO, "log", "--reverse", "--format=%h", "--", rel],
                             capture_output=True, text=True, check=True).stdout.split()
        for h in log:
            txt = subprocess.run(["git", "-C", rules.REPO, "show", f"{h}:{rel}"], capture_output=True,
                                 text=True).stdout
            if e["rule_hash"] in txt and e["confirm_hash"] in txt:
                return h
    except (OSError, subprocess.CalledProcessError):
        pass
    return "uncommitted"
