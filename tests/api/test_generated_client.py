"""A client generated from the schema by openapi-python-client works against the demo.

The schema is fetched from a live server, the client generated into a temporary directory
(with no warning: formatting with ruff is the generator's only optional step, and ruff is
installed), imported, and used as a partner would: list the maps, list a map's cells with a
filter, page through studies, and with a reviewer's token create and delete an effect size.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from api import tokens
from interchange.demo import DEMO_SLUG, load_demo

pytestmark = pytest.mark.django_db(transaction=True)

PACKAGE = "egm_portal_client"


@pytest.fixture
def generated(live_server, tmp_path: Path) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    """The generated package, importable as PACKAGE."""
    bin_dir = str(Path(sys.executable).parent)
    run = subprocess.run(
        [
            str(Path(bin_dir) / "openapi-python-client"), "generate", "--meta", "none",
            "--url", f"{live_server.url}/api/v1/schema/?format=json", "--output-path", str(tmp_path / PACKAGE),
        ],
        capture_output=True, text=True, check=False, timeout=300,
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"},
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "warning" not in output.lower() and "error" not in output.lower(), output
    sys.path.insert(0, str(tmp_path))
    try:
        yield lambda name: importlib.import_module(f"{PACKAGE}.{name}")
    finally:
        sys.path.remove(str(tmp_path))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def test_generated_client_reads_and_writes(generated, live_server, reviewer) -> None:  # type: ignore[no-untyped-def]
    load_demo()
    package: ModuleType = generated("client")
    # Reads need no token: a plain client is enough.
    with package.Client(base_url=live_server.url, raise_on_unexpected_status=True) as public:
        _read_and_write(public, package, generated, reviewer, live_server.url)


def _read_and_write(public: Any, package: ModuleType, generated: Any, reviewer: Any, base_url: str) -> None:
    models = generated("models")
    maps_list, cells_list = generated("api.maps.maps_list"), generated("api.maps.cells_list")
    studies_list = generated("api.studies.studies_list")
    create, destroy = generated("api.effect_sizes.effect_sizes_create"), generated("api.effect_sizes.effect_sizes_destroy")
    retrieve = generated("api.effect_sizes.effect_sizes_retrieve")

    maps = maps_list.sync(client=public)
    assert [m.slug for m in maps] == [DEMO_SLUG]
    assert maps[0].pooling_test == models.PoolingTest.Z

    everything = cells_list.sync(DEMO_SLUG, client=public)
    rcts = cells_list.sync(DEMO_SLUG, client=public, design=[models.StudyDesign.RCT])
    assert rcts.filters == "design=rct" and 0 < rcts.n_studies < everything.n_studies
    pooled = [c for c in everything.cells if c.k]
    assert {c.model for c in pooled} == {models.CellModel.CHE, models.CellModel.UNIVARIATE}
    assert all(isinstance(c.confidence.level, models.ConfidenceLevel) for c in pooled)

    first = studies_list.sync(client=public, map_=DEMO_SLUG, page_size=10)
    seen = [s.id for s in first.results]
    page = 1
    while len(seen) < first.count:
        page += 1
        more = studies_list.sync(client=public, map_=DEMO_SLUG, page=page, page_size=10)
        seen += [s.id for s in more.results]
    assert page == 3 and len(set(seen)) == first.count > 20

    # Writes with a reviewer's token.
    _, key = tokens.issue(user=reviewer, name="tests")
    study = first.results[0]
    body = models.EffectSizeCreateInput(
        study=study.id, intervention=study.intervention_ids[0], outcome=study.outcome_ids[0],
        label="added by a generated client", input_kind="es_se", es_value=0.25, es_se=0.1,
    )
    with package.AuthenticatedClient(
        base_url=base_url, token=key, prefix="Token", raise_on_unexpected_status=True
    ) as writer:
        created = create.sync(client=writer, body=body)
        assert isinstance(created, models.EffectSizeOutput), created
        assert created.g == pytest.approx(0.25) and created.study_id == study.id
        assert retrieve.sync(created.id, client=public).label == "added by a generated client"
        assert destroy.sync_detailed(created.id, client=writer).status_code == 204
    assert retrieve.sync_detailed(created.id, client=public).status_code == 404
