"""The compiler benchmark as README.md and docs/benchmarks.md spell it, in the fresh checkout:
`make bench` and `.venv/bin/python bench/compile_scale.py --stages`. The script asserts on its own
that every profile compiles as it should (the valid orgs validate, the misspelt one reports every
unknown topic with a suggestion); here it must finish and end with its machine-readable line.
No figure is judged: speed targets live in bench/, not in tests."""

from __future__ import annotations

import re

from fresh_checkout import Checkout

LAST = re.compile(r"compile_scale seed_s=[0-9.]+ x10_s=[0-9.]+ shared_prefix_s=[0-9.]+ misspelt_s=[0-9.]+")


def test_make_bench_ends_with_the_compile_scale_line(fresh_checkout: Checkout) -> None:
    result = fresh_checkout.run("make bench", timeout=600)
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert LAST.fullmatch(result.stdout.rstrip().splitlines()[-1]), result.stdout[-1000:]


def test_the_stages_form_prints_where_the_10x_run_goes_first(fresh_checkout: Checkout) -> None:
    result = fresh_checkout.run(".venv/bin/python bench/compile_scale.py --stages", timeout=600)
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    lines = result.stdout.rstrip().splitlines()
    assert lines[0].startswith("x10 stages: load ") and " render " in lines[0], lines[0]
    assert LAST.fullmatch(lines[-1]), lines[-1]
