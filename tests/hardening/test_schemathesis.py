"""A bounded schemathesis run of the writes with a reviewer's token: generated bodies for POST,
PATCH and DELETE of studies and effect sizes never get a 5xx, every stored effect size stays
within the bounds, and the map and its API still answer afterwards."""

from __future__ import annotations

import time

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client

from api import tokens
from interchange.demo import DEMO_SLUG
from studies.effect_sizes import G_BOUND, VAR_G_MAX, VAR_G_MIN
from studies.models import EffectSize
from tests.api.test_schema import _run_schemathesis

pytestmark = pytest.mark.django_db

EXAMPLES_PER_OPERATION = 20


def test_generated_writes_find_no_server_error_and_keep_the_map_whole(demo_map, reviewer) -> None:  # type: ignore[no-untyped-def]
    _, key = tokens.issue(user=reviewer, name="tests")
    started = time.monotonic()
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        _run_schemathesis(["POST", "PATCH", "DELETE"], {"Authorization": f"Token {key}"}, EXAMPLES_PER_OPERATION)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    assert time.monotonic() - started < 60
    for g, var_g in EffectSize.objects.values_list("g", "var_g"):
        assert -G_BOUND <= g <= G_BOUND and VAR_G_MIN <= var_g <= VAR_G_MAX
    client = Client()
    for url in (f"/maps/{DEMO_SLUG}/data.json", f"/maps/{DEMO_SLUG}/", f"/api/v1/maps/{DEMO_SLUG}/cells/"):
        assert client.get(url).status_code == 200, url
