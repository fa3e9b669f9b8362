"""Production static files: hashed, compressed copies, ES module imports included."""

from __future__ import annotations

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    """WhiteNoise's hashed and compressed storage that also rewrites JavaScript module imports.

    portal/js/map.js loads its parts with `import { ... } from "./map/grid.js";`. Without this
    flag collectstatic leaves those paths unhashed, so a cached map.<hash>.js could meet newer
    modules after a deploy. With it, every relative import names the hashed file. Imports
    must end with a semicolon for Django to see them.
    """

    support_js_module_import_aggregation = True
