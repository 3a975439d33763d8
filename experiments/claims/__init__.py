"""experiments/claims — the verdicts of results/README.md, as tested data and pure functions.

    cd experiments && python3 -m claims page RESULTS_DIR     the page, to stdout
    cd experiments && python3 -m claims verify               every rule frozen and unchanged? (exit 2 if not)
    cd experiments && python3 -m claims freeze CLAIM --change TEXT --why TEXT --known TEXT
    cd experiments && python3 -m claims check DIR            section 5's reduced check (reproduce.sh --check)

Modules (no import cycle: table <- svg <- claimNN; rules, freeze <- page <- __main__):
table.py (reading a result root through a set of seeds; mean, sd, formatting), svg.py (the one SVG
writer), rules.py (rule files, the rendered rule sentence, hashes), freeze.py (freeze.toml), page.py
(the page), claim01.py ... claim17.py (each: measure(root, seeds) -> q, verdict(q, rule) ->
(outcome, details), describe(res, d) -> the page's text). docs/CLAIMS.md describes the rule files and
the freeze protocol. Standard library only; python3 >= 3.11 (tomllib).
"""
