"""The README's lines for pulling a map into pandas (and into R, where Rscript is installed) work as written."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.api.conftest import World

README = Path(__file__).resolve().parents[2] / "README.md"


def pandas_lines() -> str:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("A map into pandas"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]


@pytest.mark.django_db(transaction=True)
def test_the_readme_pulls_a_map_into_pandas(live_server, world: World) -> None:  # type: ignore[no-untyped-def]
    code = pandas_lines().replace(
        "http://127.0.0.1:8000/api/v1/maps/human-rights-diplomacy", f"{live_server.url}/api/v1/maps/open-map"
    )
    assert "open-map" in code
    names: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), names)  # the README's own lines
    studies, effect_sizes, cells = names["studies"], names["effect_sizes"], names["cells"]
    assert sorted(studies["title"]) == ["Clinics in Peru", "Markets in India", "Schools in Kenya"]  # type: ignore[index]
    assert set(effect_sizes["var_g"]) == {world.es_kenya.var_g, world.es_peru.var_g, world.es_india.var_g}  # type: ignore[index]
    assert "label.text" in cells.columns and "label" not in cells.columns  # type: ignore[attr-defined]
    assert sorted(map(tuple, names["countries"])) == [("IN",), ("KE",), ("PE",)]  # type: ignore[call-overload]


def r_lines() -> str:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("And into R"):]
    return re.search(r"```r\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]


def has_jsonlite() -> bool:
    if shutil.which("Rscript") is None:
        return False
    return subprocess.run(["Rscript", "-e", "library(jsonlite)"], capture_output=True).returncode == 0


@pytest.mark.skipif(not has_jsonlite(), reason="needs Rscript with jsonlite (apt-get install r-cran-jsonlite)")
@pytest.mark.django_db(transaction=True)
def test_the_readme_pulls_a_map_into_r(live_server, world: World, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code = r_lines().replace(
        "http://127.0.0.1:8000/api/v1/maps/human-rights-diplomacy", f"{live_server.url}/api/v1/maps/open-map"
    )
    script = tmp_path / "pull.R"
    script.write_text(code + 'cat(nrow(studies), nrow(effect_sizes), "label.text" %in% names(cells), "\\n")\n')
    result = subprocess.run(["Rscript", str(script)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-3:] == ["3", "3", "TRUE"]
