"""The map as one self-contained HTML file: its scripts linked into one classic script, its
styles inlined, and a Content-Security-Policy that allows exactly those two blocks.

The map's script is a set of native ES modules (portal/static/portal/js/map.js and map/),
which a file opened from disk cannot import (a file:// page has an opaque origin) and which a
hash-based policy could not allow one by one. `link_modules` puts them into one script, each
module in its own function scope, in the order their imports need: the same code the portal
serves, not a second renderer. It reads only the module syntax our scripts use (named imports
from a relative path, `export` before a function, class or const) and refuses anything else by
file and line, so that a new construct fails the tests instead of the download.

Nothing here renders a page: portal.views builds the file from portal/templates/portal/standalone.html.
"""

from __future__ import annotations

import base64
import hashlib
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path

from django.contrib.staticfiles import finders

# The map page's script and style, by their static paths.
MAP_SCRIPT = "portal/js/map.js"
MAP_STYLE = "portal/css/portal.css"

_IMPORT = re.compile(r'^import\s*\{(?P<names>[^}]*)\}\s*from\s*"(?P<path>\.{1,2}/[^"]+\.js)";?[ \t]*$')
_EXPORT = re.compile(r"^export\s+(?:async\s+)?(?:function\*?|class|const)\s+(?P<name>[A-Za-z_$][\w$]*)")
_NAME = re.compile(r"^[A-Za-z_$][\w$]*$")


class ModuleSyntaxError(ValueError):
    """A module uses syntax `link_modules` does not read."""


@dataclass(frozen=True)
class _Module:
    path: str  # static path, e.g. "portal/js/map/dom.js"
    imports: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]  # (module path, ((name, local), ...))
    exports: tuple[str, ...]
    body: str  # the source without its import lines and with `export ` removed


def _static_source(path: str) -> str:
    found = finders.find(path)
    if not found:
        raise FileNotFoundError(f"Static file {path} not found.")
    return Path(str(found)).read_text(encoding="utf-8")


def _import_names(text: str, where: str) -> tuple[tuple[str, str], ...]:
    names = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, _, local = part.partition(" as ")
        name, local = name.strip(), (local.strip() or name.strip())
        if not (_NAME.match(name) and _NAME.match(local)):
            raise ModuleSyntaxError(f"{where}: cannot read the import of “{part}”.")
        names.append((name, local))
    return tuple(names)


def _parse(path: str, source: str) -> _Module:
    imports: list[tuple[str, tuple[tuple[str, str], ...]]] = []
    exports: list[str] = []
    lines = []
    for number, line in enumerate(source.splitlines(), start=1):
        where = f"{path}, line {number}"
        if re.match(r"import\b", line):
            found = _IMPORT.match(line)
            if found is None:
                raise ModuleSyntaxError(f"{where}: only `import {{ names }} from \"./file.js\";` is supported.")
            target = posixpath.normpath(posixpath.join(posixpath.dirname(path), found["path"]))
            imports.append((target, _import_names(found["names"], where)))
            lines.append("")  # keeps the line numbers of the rest
            continue
        if re.match(r"export\b", line):
            found = _EXPORT.match(line)
            if found is None:
                raise ModuleSyntaxError(f"{where}: only `export` before a function, class or const is supported.")
            exports.append(found["name"])
            line = line.removeprefix("export").lstrip()
        if "import.meta" in line or re.search(r"\bimport\s*\(", line):
            raise ModuleSyntaxError(f"{where}: import.meta and dynamic import() are not supported.")
        lines.append(line)
    return _Module(path, tuple(imports), tuple(exports), "\n".join(lines))


def _in_order(entry: str) -> list[_Module]:
    """The entry and every module it imports, each after the modules it imports."""
    ordered: list[_Module] = []
    done: set[str] = set()
    active: list[str] = []

    def visit(path: str) -> None:
        if path in done:
            return
        if path in active:
            cycle = " → ".join([*active[active.index(path):], path])
            raise ModuleSyntaxError(f"Circular imports cannot be linked: {cycle}.")
        active.append(path)
        module = _parse(path, _static_source(path))
        for target, _ in module.imports:
            visit(target)
        active.pop()
        done.add(path)
        ordered.append(module)

    visit(entry)
    return ordered


_NO_CATALOGUE = """\
const gettext = globalThis.gettext || ((text) => text);
const ngettext = globalThis.ngettext || ((one, many, n) => (n === 1 ? one : many));
const interpolate = globalThis.interpolate || ((text, values, named) => (named
  ? text.replace(/%\\(\\w+\\)s/g, (match) => String(values[match.slice(2, -2)]))
  : text.replace(/%s/g, () => String(values.shift()))));"""


def link_modules(entry: str = MAP_SCRIPT) -> str:
    """The entry module and its imports as one classic script (strict mode, like a module)."""
    modules = _in_order(entry)
    variables = {m.path: f"module{index}" for index, m in enumerate(modules)}
    exported = {m.path: set(m.exports) for m in modules}
    # The map's scripts take their words from Django's JavaScript catalogue (/jsi18n/), which a
    # file opened from disk does not have: there, its words stay as written (English).
    parts = ['"use strict";', _NO_CATALOGUE]
    for module in modules:
        head = []
        for target, names in module.imports:
            missing = [name for name, _ in names if name not in exported[target]]
            if missing:
                raise ModuleSyntaxError(f"{module.path} imports {', '.join(missing)}, which {target} does not export.")
            fields = ", ".join(name if name == local else f"{name}: {local}" for name, local in names)
            head.append(f"const {{ {fields} }} = {variables[target]};")
        parts.append(
            f"// {module.path}\nconst {variables[module.path]} = (() => {{\n"
            + "\n".join(head) + "\n" + module.body
            + f"\nreturn {{ {', '.join(module.exports)} }};\n}})();"
        )
    return "(() => {\n" + "\n".join(parts) + "\n})();\n"


def map_style() -> str:
    return _static_source(MAP_STYLE)


def csp_hash(text: str) -> str:
    """The CSP source expression that allows an inline block with exactly this text."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def inline_safe(text: str, tag: str) -> str:
    """The text, checked that it cannot end its <script> or <style> element early."""
    if re.search(rf"</{tag}|<!--", text, re.IGNORECASE):
        raise ValueError(f"The inlined {tag} holds “</{tag}” or “<!--”, which would end it early.")
    return text


def standalone_policy(*, script: str, style: str) -> str:
    """The file's own policy: nothing but its one script and one style block (and the tooltip's
    CSSOM placement, which no policy restricts); no network at all."""
    return "; ".join([
        "default-src 'none'",
        f"script-src {csp_hash(script)}",
        f"style-src {csp_hash(style)}",
        "img-src data:",
        "base-uri 'none'",
        "form-action 'none'",
    ])
