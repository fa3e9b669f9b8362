"""Two server processes sharing PostgreSQL and Redis: a write is seen at once through both, so
a cached map is never served stale by another process (the key carries the map's version)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from studies import services
from studies.models import Status, Study

pytestmark = pytest.mark.postgres

REDIS = ("127.0.0.1", 6379)
CACHE_URL = "redis://127.0.0.1:6379/15"
SLUG = "human-rights-diplomacy"


def redis_is_up() -> bool:
    try:
        with socket.create_connection(REDIS, timeout=1):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return int(response.status), bytes(response.read())


@pytest.fixture
def servers(transactional_db: Any) -> Iterator[list[str]]:
    if not redis_is_up():
        if os.environ.get("CI"):
            pytest.fail("Redis is not running on 127.0.0.1:6379")
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CACHE_URL": CACHE_URL,
        "DEBUG": "1",
        "TESTING": "0",
    }
    import redis

    redis.Redis.from_url(CACHE_URL).flushdb()
    processes, urls = [], []
    for _ in range(2):
        port = free_port()
        processes.append(subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload", "--skip-checks"],
            cwd=Path(settings.BASE_DIR), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))
        urls.append(f"http://127.0.0.1:{port}")
    try:
        for url in urls:
            deadline = time.monotonic() + 30
            while True:
                try:
                    get(url + "/")
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
        yield urls
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)
        redis.Redis.from_url(CACHE_URL).flushdb()


def test_a_write_is_seen_through_every_process(servers: list[str], demo_map: Any, reviewer: Any) -> None:
    import json

    first, second = servers
    path = f"/maps/{SLUG}/data.json"
    status, body = get(first + path)
    assert status == 200
    before = json.loads(body)["totals"]["studies"]
    import redis

    assert redis.Redis.from_url(CACHE_URL).keys("*:data.json:*")  # the first process cached it
    assert json.loads(get(second + path)[1])["totals"]["studies"] == before

    study = Study.objects.filter(evidence_map=demo_map, status=Status.PUBLISHED).first()
    assert study is not None
    services.studies_set_status(studies=[study], status=Status.DRAFT, user=reviewer)

    for url in (second, first):
        assert json.loads(get(url + path)[1])["totals"]["studies"] == before - 1
