"""Serve a real-sized map with the production server and measure what readers wait for.

    .venv/bin/python bench/portal.py [--studies 20000] [--effect-sizes 100000] [--growth]

Builds the map with `manage.py generate_map` on PostgreSQL (or reuses it), starts gunicorn
with gunicorn.conf.py and the shared cache (Redis when it runs on 127.0.0.1:6379), and prints
first, after-a-change and warm timings of data.json, filtered data.json, cell pages and the
API, bytes on the wire, throughput under concurrent clients (wrk, from Debian's package),
worker memory and the time Chromium takes to draw the first cell. `--growth` repeats the cold
data.json timing for 10,000, 100,000 and 500,000 effect sizes. Run by hand, never in tests.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
GOALS = {
    "data.json, cached": "<= 20 ms",
    "data.json, after a change": "<= 0.5 s",
    "data.json, years 2010-2020": "<= 0.5 s",
    "data.json, text 'cash transfer'": "<= 0.5 s",
    "cell page, 5 effect sizes": "<= 100 ms",
    "cell page, busiest leaf": "<= 300 ms, <= 300 KB",
    "cell page, its aggregate": "<= 500 ms, <= 300 KB",
    "API cells, cached": "<= 300 ms",
    "API cell detail, busiest": "<= 300 ms",
}


def redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fetch(url: str, *, gzip_ok: bool = False) -> tuple[float, int, int, bytes]:
    """(seconds, status, bytes on the wire, body) of one GET."""
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"} if gzip_ok else {})
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=600) as response:
        raw = response.read()
        status = response.status
        encoding = response.headers.get("Content-Encoding", "")
    seconds = time.perf_counter() - start
    body = gzip.decompress(raw) if encoding == "gzip" else raw
    return seconds, status, len(raw), body


def warm(url: str, n: int = 15) -> tuple[float, float]:
    times = [fetch(url)[0] for _ in range(n)]
    return statistics.median(times), max(times)


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def ensure_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    found = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-tAc",
                            f"SELECT 1 FROM pg_database WHERE datname = '{name}'"], capture_output=True, text=True)
    if found.stdout.strip() != "1":
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"CREATE DATABASE {name}"], check=True)


def ensure_map(env: dict[str, str], slug: str, studies: int, effects: int) -> float:
    """Generate the map unless it exists; the seconds generation took (0 when reused)."""
    exists = manage(env, "shell", "-c", f"from evidence.models import EvidenceMap; "
                    f"print(EvidenceMap.objects.filter(slug='{slug}').exists())").split()
    if exists[-1:] == ["True"]:
        return 0.0
    start = time.perf_counter()
    print(manage(env, "generate_map", slug, "--studies", str(studies), "--effect-sizes", str(effects)).strip())
    return time.perf_counter() - start


class Server:
    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [str(Path(PYTHON).parent / "gunicorn"), "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{self.port}",
             "--access-logfile", "/dev/null"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                fetch(self.url + "/")
                return
            except OSError:
                time.sleep(0.3)
        raise SystemExit("gunicorn did not start")

    def worker_memory_mb(self) -> list[float]:
        children = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True).stdout.split()
        sizes = []
        for pid in children:
            status = Path(f"/proc/{pid}/status").read_text()
            match = re.search(r"VmRSS:\s+(\d+) kB", status)
            if match:
                sizes.append(int(match.group(1)) / 1024)
        return sizes

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)


def load(url: str, clients: int, seconds: int) -> dict[str, Any]:
    """Requests per second and latency percentiles of `clients` concurrent clients (wrk)."""
    if shutil.which("wrk") is None:
        return {"note": "wrk is not installed (apt-get install wrk)"}
    # As browsers do, the clients accept gzip.
    out = subprocess.run(["wrk", "-t2", f"-c{clients}", f"-d{seconds}s", "--latency", "-H", "Accept-Encoding: gzip", url],
                         capture_output=True, text=True, check=True).stdout
    result: dict[str, Any] = {}
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    result["req/s"] = float(rps.group(1)) if rps else None
    for pct in ("50", "90", "99"):
        match = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)", out)
        if match:
            value, unit = float(match.group(1)), match.group(2)
            result[f"p{pct} ms"] = value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    result["errors"] = (int(errors.group(1)) if errors else 0, socket_errors.group(1) if socket_errors else "none")
    return result


def first_cell_seconds(url: str) -> float | None:
    """Seconds from navigation to the first drawn cell in Debian's Chromium (Playwright)."""
    if not Path("/usr/bin/chromium").exists():
        return None
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        start = time.perf_counter()
        page.goto(url, timeout=120_000)
        page.wait_for_selector("#map-grid td.cell", timeout=120_000)
        seconds = time.perf_counter() - start
        browser.close()
    return seconds


def change_something(env: dict[str, str], slug: str) -> None:
    """A write readers see: unpublish then publish one study (bumps the map's version)."""
    manage(env, "shell", "-c", (
        "from studies import services; from studies.models import Study; "
        f"s = Study.objects.filter(evidence_map__slug='{slug}', status='published').order_by('pk').first(); "
        "services.studies_set_status(studies=[s], status='draft', user=None); "
        "services.studies_set_status(studies=[s], status='published', user=None)"
    ))


def cells_of(server: Server, slug: str) -> dict[str, tuple[int, int, int]]:
    data = json.loads(fetch(f"{server.url}/api/v1/maps/{slug}/cells/")[3])["cells"]
    leaves = [c for c in data if not c["aggregate"]]
    five = min(leaves, key=lambda c: (abs(c["n_effects"] - 5), c["intervention_id"]))
    busiest = max(leaves, key=lambda c: c["n_effects"])
    aggregate = max((c for c in data if c["aggregate"]), key=lambda c: c["n_effects"])
    return {name: (c["intervention_id"], c["outcome_id"], c["n_effects"])
            for name, c in (("five", five), ("busiest", busiest), ("aggregate", aggregate))}


def row(name: str, value: str) -> None:
    print(f"  {name:<40} {value:<34} {GOALS.get(name, '')}")


def measure(env: dict[str, str], slug: str, args: argparse.Namespace) -> None:
    server = Server(env)
    try:
        base = f"{server.url}/maps/{slug}"
        change_something(env, slug)
        cold, status, wire, _ = fetch(base + "/data.json")
        assert status == 200
        row("data.json, first request", f"{cold:.3f} s")
        median, worst = warm(base + "/data.json")
        row("data.json, cached", f"median {median * 1000:.1f} ms, max {worst * 1000:.1f} ms")
        change_something(env, slug)
        row("data.json, after a change", f"{fetch(base + '/data.json')[0]:.3f} s")
        gz = fetch(base + "/data.json", gzip_ok=True)[2]
        row("data.json bytes", f"{wire / 1024:.0f} KB raw, {gz / 1024:.0f} KB gzip")
        for name, query in (("data.json, years 2010-2020", "?year_min=2010&year_max=2020"),
                            ("data.json, text 'cash transfer'", "?q=cash+transfer")):
            first = fetch(base + "/data.json" + query)[0]
            row(name, f"first {first:.3f} s, cached {warm(base + '/data.json' + query, 5)[0] * 1000:.1f} ms")
        cells = cells_of(server, slug)
        for label, key in (("cell page, 5 effect sizes", "five"), ("cell page, busiest leaf", "busiest"),
                           ("cell page, its aggregate", "aggregate")):
            i, o, k = cells[key]
            seconds, _, size, _ = fetch(f"{base}/cells/{i}/{o}/")
            again = warm(f"{base}/cells/{i}/{o}/", 5)[0]
            row(label, f"{seconds:.3f} s, cached {again:.3f} s, {size / 1024:.0f} KB ({k} ES)")
        api = f"{server.url}/api/v1/maps/{slug}/cells/"
        row("API cells, first request", f"{fetch(api)[0]:.3f} s")
        row("API cells, cached", f"median {warm(api, 5)[0] * 1000:.1f} ms")
        i, o, _ = cells["busiest"]
        row("API cell detail, busiest", f"{fetch(f'{api}{i}/{o}/')[0]:.3f} s")
        for label, url in (("20 clients, data.json", base + "/data.json"), ("20 clients, map page", base + "/")):
            result = load(url, args.clients, args.seconds)
            row(label, ", ".join(f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}" for k, v in result.items()))
        memory = server.worker_memory_mb()
        row("worker memory", f"max {max(memory):.0f} MB over {len(memory)} workers" if memory else "n/a")
        seconds_to_cell = first_cell_seconds(base + "/")
        row("Chromium, first cell drawn", f"{seconds_to_cell:.2f} s" if seconds_to_cell else "no chromium")
    finally:
        server.stop()


def cold_data_json(env: dict[str, str], slug: str) -> float:
    server = Server(env)
    try:
        change_something(env, slug)
        return fetch(f"{server.url}/maps/{slug}/data.json")[0]
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=20_000)
    parser.add_argument("--effect-sizes", type=int, default=100_000)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/egm_bench")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--growth", action="store_true", help="also 10,000 / 100,000 / 500,000 effect sizes")
    args = parser.parse_args()

    ensure_database(args.database_url)
    env = {**os.environ, "DATABASE_URL": args.database_url, "SECRET_KEY": "bench-only-not-secret",
           "ALLOWED_HOSTS": "127.0.0.1,localhost", "SECURE_SSL_REDIRECT": "0", "DEBUG": "0",
           "CACHE_URL": "redis://127.0.0.1:6379/14" if redis_up() else "", "LOG_LEVEL": "WARNING"}
    manage({**env, "DEBUG": "1"}, "migrate", "--noinput")
    manage(env, "collectstatic", "--noinput")  # the manifest the production storage reads
    slug = f"bench-{args.studies}-{args.effect_sizes}"
    built = ensure_map({**env, "DEBUG": "1"}, slug, args.studies, args.effect_sizes)
    print(f"map {slug}: {args.studies:,} studies, {args.effect_sizes:,} effect sizes"
          f"{f', generated in {built:.0f} s' if built else ' (reused)'}; cache {env['CACHE_URL'] or 'local memory'}")
    print(f"  {'request':<40} {'measured':<34} goal")
    measure(env, slug, args)

    if args.growth:
        print("\ngrowth of a cold data.json (first request after a change):")
        previous: tuple[int, float] | None = None
        for effects in (10_000, 100_000, 500_000):
            studies = effects // 5
            growth_slug = f"bench-{studies}-{effects}"
            ensure_map({**env, "DEBUG": "1"}, growth_slug, studies, effects)
            seconds = cold_data_json(env, growth_slug)
            ratio = f", x{seconds / previous[1]:.1f} for x{effects // previous[0]} data" if previous else ""
            print(f"  {effects:>9,} effect sizes: {seconds:.3f} s{ratio}")
            previous = (effects, seconds)


if __name__ == "__main__":
    main()
