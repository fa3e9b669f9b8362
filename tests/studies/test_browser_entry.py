"""Entering an effect size in the admin, in Debian's headless Chromium (Playwright): a reviewer
logs in, sees only the chosen input kind's boxes, and Hedges' g as soon as the inputs are valid;
without script every box shows and the form saves all the same."""

from __future__ import annotations

from typing import Any

import pytest

from evidence.models import MapMembership, Role
from studies.effect_sizes.registry import INPUT_FIELDS, compute_effect
from studies.models import EffectSize
from tests.factories import InterventionFactory, OutcomeFactory, StudyFactory, UserFactory
from tests.portal import test_browser as shared
from tests.portal.test_browser import Console, expect

pytestmark = pytest.mark.browser

# Debian's Chromium, launched as the portal's browser tests launch it (skipped without it).
browser = shared.browser

PASSWORD = "pw-for-tests"  # tests.factories.UserFactory's
MEANS = {"mean_1": "10", "sd_1": "2", "n_1": "30", "mean_2": "9", "sd_2": "2.5", "n_2": "32"}


@pytest.fixture
def study(transactional_db: Any) -> Any:
    study = StudyFactory()
    InterventionFactory(evidence_map=study.evidence_map, name="Training")
    OutcomeFactory(evidence_map=study.evidence_map, name="Turnout")
    return study


@pytest.fixture
def reviewer(study: Any) -> Any:
    user = UserFactory(username="entering-reviewer", is_staff=True)
    MapMembership.objects.create(evidence_map=study.evidence_map, user=user, role=Role.REVIEWER)
    return user


def _open(browser: Any, live_server: Any, reviewer: Any, *, script: bool = True) -> Any:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, java_script_enabled=script)
    context.set_default_timeout(10_000)
    tab = context.new_page()
    console = Console()

    def record(msg: Any) -> None:
        # The browser asks for /favicon.ico, which the admin does not serve; nothing else may fail.
        if msg.type == "error" and not msg.location.get("url", "").endswith("/favicon.ico"):
            console.errors.append(msg.text)

    tab.on("console", record)
    tab.on("pageerror", lambda exc: console.errors.append(f"uncaught: {exc}"))
    tab.console = console
    tab.goto(live_server.url + "/admin/login/")
    tab.fill("#id_username", reviewer.username)
    tab.fill("#id_password", PASSWORD)
    tab.click("input[type=submit]")
    tab.wait_for_url(live_server.url + "/admin/")
    return tab


def _box(tab: Any, name: str, prefix: str = "") -> Any:
    return tab.locator(f"#id_{prefix}{name}")


def _shown(tab: Any, prefix: str = "") -> list[str]:
    return [name for name in INPUT_FIELDS if _box(tab, name, prefix).is_visible()]


def test_the_form_shows_the_kinds_boxes_and_the_live_g(browser: Any, live_server: Any, study: Any, reviewer: Any) -> None:
    intervention, outcome = study.evidence_map.interventions.get(), study.evidence_map.outcomes.get()
    tab = _open(browser, live_server, reviewer)
    tab.goto(f"{live_server.url}/admin/studies/effectsize/add/?study={study.pk}"
             f"&intervention={intervention.pk}&outcome={outcome.pk}")
    # No kind chosen yet: no input box, and a hint to choose one.
    expect(tab.locator(".es-inputs .es-hint")).to_be_visible()
    assert _shown(tab) == []

    tab.select_option("#id_input_kind", "means")
    assert _shown(tab) == list(MEANS)
    expect(tab.locator(".es-inputs .es-hint")).to_be_hidden()
    tab.select_option("#id_input_kind", "odds_ratio_ci")
    assert _shown(tab) == ["n_1", "n_2", "ratio", "ci_low", "ci_high", "ci_level"]
    expect(tab.locator(".fieldBox.field-ci_level label")).to_contain_text("(optional)")
    tab.select_option("#id_input_kind", "es_se")
    assert _shown(tab) == ["es_value", "es_se"]

    tab.select_option("#id_input_kind", "means")
    for name, value in list(MEANS.items())[:-1]:
        _box(tab, name).fill(value)
    status = tab.locator(".es-computed .es-live")
    expect(status).to_contain_text("once these are filled: N 2")
    _box(tab, "n_2").fill(MEANS["n_2"])
    expected = compute_effect("means", {k: float(v) for k, v in MEANS.items()})
    g = tab.locator(".es-computed .fieldBox.field-g_display .readonly")
    expect(g).to_have_text(f"{expected.g:.3f}")
    expect(tab.locator(".es-computed .fieldBox.field-se_g_display .readonly")).to_have_text(f"{expected.se_g:.3f}")
    low, high = expected.ci(0.95)
    expect(tab.locator(".es-computed .fieldBox.field-ci_display .readonly")).to_have_text(f"[{low:.3f}, {high:.3f}]")
    expect(status).to_contain_text(f"g = {expected.g:.3f}")

    # An invalid input: the message names its box, and the stale g is gone.
    _box(tab, "sd_1").fill("-1")
    expect(status).to_contain_text("SD 1:")
    expect(status).to_contain_text("greater than 0")
    expect(g).to_have_text("computed on save")
    assert _box(tab, "sd_1").get_attribute("aria-invalid") == "true"
    _box(tab, "sd_1").fill(MEANS["sd_1"])
    expect(g).to_have_text(f"{expected.g:.3f}")

    # A box filled under another kind is not sent once hidden; the save stores what was shown.
    tab.select_option("#id_input_kind", "es_se")
    _box(tab, "es_value").fill("0.3")
    _box(tab, "es_se").fill("0.1")
    expect(g).to_have_text("0.300")
    tab.select_option("#id_input_kind", "means")
    expect(g).to_have_text(f"{expected.g:.3f}")
    tab.fill("#id_label", "Training vs none")
    tab.click("input[name=_save]")
    tab.wait_for_url("**/admin/studies/effectsize/")
    saved = EffectSize.objects.get(label="Training vs none")
    assert saved.g == pytest.approx(expected.g) and saved.es_value is None
    assert saved.history.first().history_user == reviewer
    assert tab.console.errors == []


def test_a_studys_effect_sizes_switch_boxes_one_by_one(browser: Any, live_server: Any, study: Any, reviewer: Any) -> None:
    intervention, outcome = study.evidence_map.interventions.get(), study.evidence_map.outcomes.get()
    _stored(study, intervention, outcome)
    tab = _open(browser, live_server, reviewer)
    tab.goto(f"{live_server.url}/admin/studies/study/{study.pk}/change/")
    assert _shown(tab, "effect_sizes-0-") == ["r_value", "n_total"]
    tab.click("#effect_sizes-group .add-row a")
    tab.select_option("#id_effect_sizes-1-input_kind", "es_ci")
    assert _shown(tab, "effect_sizes-1-") == ["ci_low", "ci_high", "ci_level", "es_value"]
    assert _shown(tab, "effect_sizes-0-") == ["r_value", "n_total"]  # the other one keeps its kind
    _box(tab, "es_value", "effect_sizes-1-").fill("0.2")
    _box(tab, "ci_low", "effect_sizes-1-").fill("0.0")
    _box(tab, "ci_high", "effect_sizes-1-").fill("0.4")
    expected = compute_effect("es_ci", {"es_value": 0.2, "ci_low": 0.0, "ci_high": 0.4})
    new_g = tab.locator("#effect_sizes-1 .es-computed .fieldBox.field-g_display .readonly")
    expect(new_g).to_have_text(f"{expected.g:.3f}")
    expect(tab.locator("#effect_sizes-1 .es-computed .fieldBox.field-se_g_display .readonly")).to_have_text(f"{expected.se_g:.3f}")
    assert tab.console.errors == []


def _stored(study: Any, intervention: Any, outcome: Any) -> EffectSize:
    """An effect size given as a correlation, converted as a save converts it."""
    es = EffectSize(study=study, intervention=intervention, outcome=outcome, label="stored",
                    input_kind="correlation", r_value=0.3, n_total=80)
    es.compute()
    es.save()
    return es


def test_without_script_every_box_shows_and_the_form_saves(browser: Any, live_server: Any, study: Any, reviewer: Any) -> None:
    intervention, outcome = study.evidence_map.interventions.get(), study.evidence_map.outcomes.get()
    tab = _open(browser, live_server, reviewer, script=False)
    tab.goto(f"{live_server.url}/admin/studies/effectsize/add/?study={study.pk}"
             f"&intervention={intervention.pk}&outcome={outcome.pk}")
    assert _shown(tab) == list(INPUT_FIELDS)
    tab.locator(".es-kind-guide summary").click()
    expect(tab.locator(".es-kind-guide")).to_contain_text("Means, SDs and group sizes: Mean 1, SD 1, N 1")
    tab.fill("#id_label", "no script")
    tab.select_option("#id_input_kind", "means")
    for name, value in MEANS.items():
        _box(tab, name).fill(value)
    _box(tab, "es_se").fill("0.1")  # a box of another kind: refused on that box
    tab.click("input[name=_save]")
    expect(tab.locator(".es-inputs .errorlist")).to_contain_text("Not used for")
    _box(tab, "es_se").fill("")
    tab.click("input[name=_save]")
    tab.wait_for_url("**/admin/studies/effectsize/")
    saved = EffectSize.objects.get(label="no script")
    expected = compute_effect("means", {k: float(v) for k, v in MEANS.items()})
    assert saved.g == pytest.approx(expected.g)
    assert tab.console.errors == []
