"""Every pooled cell can be reproduced from the API alone.

A live server holds the demo map and a small generated map pooled under several settings; the
test reads their cells over HTTP only, runs the documented R example (metafor, clubSandwich) on
all of them in one Rscript call, and runs the documented Python example on each. Without
Rscript and those packages the R test is skipped locally; CI sets REQUIRE_R=1, which makes that
a failure.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.request import urlopen

import pytest

from evidence.synthesis.reproduce import R_FUNCTION, python_example
from interchange.demo import DEMO_SLUG, load_demo
from interchange.generate import generate_map

pytestmark = pytest.mark.django_db(transaction=True)

TOLERANCE = 1e-6
R_PACKAGES = "r-base-core r-cran-metafor r-cran-clubsandwich r-cran-jsonlite"
# The generated map is pooled once per setting, so every kind of cell is met: CHE cells (always
# REML with CR2), and univariate ones under iterative and closed-form estimators and each test.
SETTINGS = [("REML", "z"), ("REML", "knha"), ("PM", "t"), ("DL", "z"), ("EE", "z")]
COMPARED = ("estimate", "se", "ci_low", "ci_high", "tau2", "omega2", "df", "i2", "pi_low", "pi_high", "q")

R_DRIVER = """
args <- commandArgs(trailingOnly = TRUE)
results <- lapply(args[-1], function(path) reproduce_cell(fromJSON(path)))
write_json(results, args[1], digits = NA, auto_unbox = TRUE, null = "null")
"""


@pytest.fixture(scope="module")
def rscript() -> str:
    found = shutil.which("Rscript")
    reason = ""
    if found is None:
        reason = f"Rscript is not installed (apt-get install {R_PACKAGES})"
    else:
        check = subprocess.run(
            [found, "-e", "library(metafor); library(clubSandwich); library(jsonlite)"],
            capture_output=True, text=True, check=False,
        )
        if check.returncode != 0:
            reason = f"R lacks metafor, clubSandwich or jsonlite (apt-get install {R_PACKAGES}): {check.stderr[-300:]}"
    if reason:
        if os.environ.get("REQUIRE_R") == "1":
            pytest.fail(f"REQUIRE_R=1 but {reason}")
        pytest.skip(reason)
    assert found is not None
    return found


def _get(url: str) -> Any:
    with urlopen(url, timeout=30) as response:
        return json.load(response)


def _pooled_cells(base: str, slug: str) -> list[dict[str, Any]]:
    """Every pooled cell of a map, as the API's cell detail gives it."""
    listing = _get(f"{base}/api/v1/maps/{slug}/cells/")
    return [
        _get(f"{base}/api/v1/maps/{slug}/cells/{cell['intervention_id']}/{cell['outcome_id']}/")
        for cell in listing["cells"] if cell["k"] is not None
    ]


def _demo_and_generated(base: str, settings: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """The demo's pooled cells, then a generated map's under each of `settings`."""
    load_demo()
    pulled = _pooled_cells(base, DEMO_SLUG)
    assert len(pulled) >= 15
    generated = generate_map("reproduce", studies=30, effect_sizes=34, rows=(2, 3), columns=(2, 3), seed=3)
    for method, test in settings:
        generated.refresh_from_db()  # saving bumps the map's version: keep it
        generated.pooling_method, generated.pooling_test = method, test
        generated.save()
        pulled += _pooled_cells(base, generated.slug)
    return pulled


def _close(ours: float | None, theirs: float | None) -> bool:
    if ours is None or theirs is None:
        return ours is None and theirs is None
    return math.isclose(ours, theirs, rel_tol=TOLERANCE, abs_tol=TOLERANCE)


@pytest.mark.r
def test_r_reproduces_every_pooled_cell(live_server, rscript: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cells = _demo_and_generated(live_server.url, SETTINGS)
    kinds = {(c["model"], c["method"], c["test"]) for c in cells}
    assert {("CHE", "REML", "t"), ("univariate", "REML", "z"), ("univariate", "REML", "knha"),
            ("univariate", "PM", "t"), ("univariate", "DL", "z"), ("univariate", "EE", "z")} <= kinds
    paths = []
    for n, cell in enumerate(cells):
        path = tmp_path / f"cell-{n}.json"
        path.write_text(json.dumps(cell))
        paths.append(str(path))
    script = tmp_path / "reproduce.R"
    script.write_text(R_FUNCTION + R_DRIVER)
    out = tmp_path / "results.json"
    run = subprocess.run(
        [rscript, "--vanilla", str(script), str(out), *paths], capture_output=True, text=True, timeout=600, check=False
    )
    assert run.returncode == 0, run.stderr[-2000:]
    results = json.loads(out.read_text())
    assert len(results) == len(cells)
    mismatches = []
    for cell, theirs in zip(cells, results, strict=True):
        for name in COMPARED:
            if not _close(cell[name], theirs[name]):
                mismatches.append(
                    f"{cell['map']} {cell['intervention_id']}/{cell['outcome_id']} ({cell['model']}, "
                    f"{cell['method']}, {cell['test']}): {name} {cell[name]!r} vs R {theirs[name]!r}"
                )
    assert not mismatches, "\n".join(mismatches)


def test_python_example_reproduces_every_pooled_cell(live_server) -> None:  # type: ignore[no-untyped-def]
    cells = _demo_and_generated(live_server.url, [("REML", "knha"), ("EE", "z")])
    example: dict[str, Any] = {}
    first = cells[0]
    url = f"{live_server.url}/api/v1/maps/{first['map']}/cells/{first['intervention_id']}/{first['outcome_id']}/"
    exec(python_example(url), example)  # the documented example, as a reader runs it
    mismatches = []
    for cell in cells:
        found = example["reproduce_cell"](cell)
        names = ["estimate", "ci_low", "ci_high", "q"]
        if cell["i2_definition"] != "q_based":
            names.append("i2")
        if cell["pi_definition"] is not None:
            names += ["pi_low", "pi_high"]
        mismatches += [
            f"{cell['map']} {cell['intervention_id']}/{cell['outcome_id']} ({cell['model']}, {cell['method']}, "
            f"{cell['test']}): {name} {cell[name]!r} vs {found[name]!r}"
            for name in names if not _close(cell[name], float(found[name]))
        ]
    assert not mismatches, "\n".join(mismatches)
