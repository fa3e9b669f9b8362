"""Every pooled cell can be reproduced from the API alone.

A live server holds the demo map and a small generated map pooled under several settings; the
test reads their cells over HTTP only, runs the documented R example (metafor, clubSandwich) on
all of them in one Rscript call, and runs the Python example as the API documentation publishes
it on each (under every pooling method the map settings offer). Without
Rscript and those packages the R test is skipped locally; CI sets REQUIRE_R=1, which makes that
a failure.
"""

from __future__ import annotations

import html
import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.request import urlopen

import pytest

from evidence.models import PoolingMethod, PoolingTest
from evidence.synthesis.reproduce import R_FUNCTION, python_example
from interchange.demo import DEMO_SLUG, load_demo
from interchange.generate import generate_map

pytestmark = pytest.mark.django_db(transaction=True)

TOLERANCE = 1e-6
R_PACKAGES = "r-base-core r-cran-metafor r-cran-clubsandwich r-cran-jsonlite"
# The generated map is pooled once per setting, so every kind of cell is met: CHE cells (always
# REML with CR2), and univariate ones under iterative and closed-form estimators and each test.
SETTINGS = [("REML", "z"), ("REML", "knha"), ("PM", "t"), ("DL", "z"), ("EE", "z")]
# The Python example is checked under every method the map settings offer, the tests in turn.
PYTHON_SETTINGS = [
    (method, PoolingTest.values[n % len(PoolingTest.values)]) for n, method in enumerate(PoolingMethod.values)
]
PYTHON_COMPARED = (
    "estimate", "se", "df", "ci_low", "ci_high", "tau2", "omega2", "pi_low", "pi_high", "q", "q_p", "i2",
)
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


def _published_python_example(base: str, slug: str) -> str:
    """The Python example as the API documentation shows it (checked to be the one the map's
    methods page shows too), unescaped from the page's HTML."""
    with urlopen(f"{base}/api/v1/docs/", timeout=30) as response:
        docs = response.read().decode()
    with urlopen(f"{base}/maps/{slug}/methods/", timeout=30) as response:
        methods = response.read().decode()
    blocks = [html.unescape(b) for b in re.findall(r'<pre class="example"><code>(.*?)</code></pre>', docs, re.S)]
    python = next(b for b in blocks if b.startswith("import json"))
    function = python[: python.index('if __name__ == "__main__":')]
    assert function in html.unescape(methods)
    return python


def test_python_example_reproduces_every_pooled_cell(live_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The documented Python example (numpy and scipy only) refits every pooled cell of the demo
    and of a generated map pooled under every method the map settings offer, from the cell's
    `pooled_effects` and stated settings alone, and agrees with the API to 1e-6."""
    base = live_server.url
    cells = _demo_and_generated(base, PYTHON_SETTINGS)
    kinds = {(c["model"], c["method"], c["test"]) for c in cells}
    assert ("CHE", "REML", "t") in kinds
    assert {method for model, method, _ in kinds if model == "univariate"} == set(PoolingMethod.values)
    assert {test for model, _, test in kinds if model == "univariate"} >= {"z", "t", "knha"}
    text = _published_python_example(base, DEMO_SLUG)
    example: dict[str, Any] = {"__name__": "reproduce_cell"}  # run as a module: its command line stays out
    exec(text, example)  # the documented example, as a reader copies it
    mismatches = []
    for cell in cells:
        found = example["reproduce_cell"](cell)
        mismatches += [
            f"{cell['map']} {cell['intervention_id']}/{cell['outcome_id']} ({cell['model']}, {cell['method']}, "
            f"{cell['test']}): {name} {cell[name]!r} vs {found[name]!r}"
            for name in PYTHON_COMPARED if not _close(cell[name], found[name])
        ]
    assert not mismatches, "\n".join(mismatches)

    # As a script, it takes a cell's URL and prints each number next to the API's.
    che = next(c for c in cells if c["model"] == "CHE")
    script = tmp_path / "reproduce_cell.py"
    script.write_text(text)
    url = f"{base}/api/v1/maps/{che['map']}/cells/{che['intervention_id']}/{che['outcome_id']}/"
    run = subprocess.run([sys.executable, str(script), url], capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    printed = {line.split()[0]: line.split() for line in run.stdout.splitlines()}
    assert set(printed) == set(PYTHON_COMPARED)
    assert _close(float(printed["omega2"][2]), che["omega2"]) and _close(float(printed["df"][2]), che["df"])


def test_python_example_needs_no_portal_code() -> None:
    """Partners do not have the portal: the example imports only the standard library, numpy and scipy."""
    text = python_example("https://example.org/api/v1/maps/m/cells/1/2/")
    imported = {line.split()[1].split(".")[0] for line in text.splitlines() if line.startswith(("import ", "from "))}
    assert imported == {"json", "sys", "urllib", "numpy", "scipy"}
