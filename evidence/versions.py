"""Map versions and the results cached under them.

Every write that can change what a reader sees bumps its map's `version` (and
`members_version`); a write that only reviewers can see (a draft study, its effect sizes and
appraisal) bumps `members_version` alone, so anonymous validators never move for a draft.
The bump is an UPDATE in the same transaction as the write, driven by the models' signals, so
it holds for the services, the admin, the API, importers and the shell alike (bulk
operations that send no signals call `bump()` themselves).

Results computed from a map (its data.json, the API's cells) are cached in the shared cache
under the map's version and the normalised filters; the first request after a change
computes, concurrent requests for the same key wait for it instead of computing again.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache import cache
from django.db.models import F, Model
from django.db.models.functions import Now
from django.db.models.signals import m2m_changed, post_delete, post_init, post_save
from django.utils.translation import get_language

from evidence.filters import StudyFilters
from evidence.models import CellSummary, Code, CodeSet, EvidenceMap, Intervention, Outcome
from evidence.releases.context import cache_scope
from evidence.synthesis import CellKey, MapEvidence, map_evidence
from evidence.synthesis.pooling import code_release
from studies.models import AppraisalItem, EffectSize, Status, Study

T = TypeVar("T")

# How long a computed result is kept, and how long others wait for the one computing it.
CACHE_SECONDS = 24 * 3600
LOCK_SECONDS = 120
WAIT_STEP = 0.05


def bump(map_id: int | None, *, public: bool = True) -> None:
    """Mark a map as changed: for every reader (`public`) or for its reviewers only."""
    if map_id is None:
        return
    changes: dict[str, Any] = {"members_version": F("members_version") + 1, "members_changed_at": Now()}
    if public:
        changes.update(version=F("version") + 1, changed_at=Now())
    EvidenceMap.objects.filter(pk=map_id).update(**changes)


def _study_is_public(study: Study) -> bool:
    """Whether readers see (or saw, before this write) the study."""
    before = getattr(study, "_status_before", None)
    return Status.PUBLISHED in (study.status, before)


def _remember_status(sender: type[Model], instance: Study, **kwargs: Any) -> None:
    """Note the status a study was loaded with, so that unpublishing counts as public."""
    instance._status_before = instance.status  # type: ignore[attr-defined]


def _study_changed(sender: type[Model], instance: Study, **kwargs: Any) -> None:
    bump(instance.evidence_map_id, public=_study_is_public(instance))
    instance._status_before = instance.status  # type: ignore[attr-defined]


def _child_changed(sender: type[Model], instance: EffectSize | AppraisalItem, **kwargs: Any) -> None:
    # In a cascade the study's row is still there: its children are deleted first.
    study = Study.objects.filter(pk=instance.study_id).values("evidence_map_id", "status").first()
    if study is not None:
        bump(study["evidence_map_id"], public=study["status"] == Status.PUBLISHED)


def _framework_changed(
    sender: type[Model], instance: Intervention | Outcome | CellSummary | CodeSet, **kwargs: Any
) -> None:
    bump(instance.evidence_map_id)


def _map_of_code(code: Code) -> int | None:
    """The map of a code's set (the set is usually loaded with the code: no query then)."""
    if Code.code_set.is_cached(code):
        return code.code_set.evidence_map_id
    # In a cascade the set's row is still there: its codes are deleted first.
    found: int | None = CodeSet.objects.filter(pk=code.code_set_id).values_list("evidence_map_id", flat=True).first()
    return found


def _code_changed(sender: type[Model], instance: Code, **kwargs: Any) -> None:
    bump(_map_of_code(instance))


def _map_changed(sender: type[Model], instance: EvidenceMap, created: bool = False, **kwargs: Any) -> None:
    if not created and kwargs.get("signal") is not post_delete:
        bump(instance.pk)


def _coding_changed(sender: type[Model], instance: Any, action: str, reverse: bool, **kwargs: Any) -> None:
    if not action.startswith("post_"):
        return
    if isinstance(instance, Study):
        bump(instance.evidence_map_id, public=_study_is_public(instance))
    elif isinstance(instance, Code):  # a code's studies changed from the code's side
        bump(_map_of_code(instance))
    else:  # a node's studies changed from the node's side
        bump(instance.evidence_map_id)


def connect() -> None:
    """Wire the bumps to the models' signals (EvidenceConfig.ready)."""
    post_init.connect(_remember_status, sender=Study, dispatch_uid="versions-study-init")
    for signal in (post_save, post_delete):
        name = "save" if signal is post_save else "delete"
        signal.connect(_study_changed, sender=Study, dispatch_uid=f"versions-study-{name}")
        for child in (EffectSize, AppraisalItem):
            signal.connect(_child_changed, sender=child, dispatch_uid=f"versions-{child.__name__}-{name}")
        for node in (Intervention, Outcome, CellSummary, CodeSet):
            signal.connect(_framework_changed, sender=node, dispatch_uid=f"versions-{node.__name__}-{name}")
        signal.connect(_code_changed, sender=Code, dispatch_uid=f"versions-code-{name}")
        signal.connect(_map_changed, sender=EvidenceMap, dispatch_uid=f"versions-map-{name}")
    for through in (Study.interventions.through, Study.outcomes.through, Study.codes.through):
        m2m_changed.connect(_coding_changed, sender=through, dispatch_uid=f"versions-{through.__name__}")


# --- Cache ----------------------------------------------------------------------------------


# Part of every key: a release of the portal that changes what it computes must not read what
# an older one cached (the shared cache outlives a deployment). Bump SHAPE when an output
# changes within one package version.
SHAPE = "4"  # 2: segments of a segmenting code set; 3: direction-harmonised cells; 4: cells carry their model


def cache_key(kind: str, evidence_map: EvidenceMap, query: str = "", *, members: bool = False) -> str:
    """A key for a result computed from the map's published data (with `members`: its drafts
    too) and the normalised filters; while a release is read, from that release's data
    (evidence.releases: a release's map keeps the version it had when it was made)."""
    digest = hashlib.sha256(query.encode()).hexdigest()[:24]
    version = f"m{evidence_map.members_version}" if members else evidence_map.version
    return f"egm:{code_release()}.{SHAPE}:{cache_scope()}{kind}:{evidence_map.pk}:{version}:{_language()}:{digest}"


def response_key(kind: str, map_id: int, version: int, query: str) -> str:
    """A key for a whole response built from a published map's data at `version`."""
    digest = hashlib.sha256(query.encode()).hexdigest()[:24]
    return f"egm:{code_release()}.{SHAPE}:{cache_scope()}response:{kind}:{map_id}:{version}:{_language()}:{digest}"


def _language() -> str:
    """Part of every key: the map's names and the texts computed with them are per language."""
    return get_language() or "-"


def etag(kind: str, evidence_map: EvidenceMap, query: str = "") -> str:
    digest = hashlib.sha256(cache_key(kind, evidence_map, query).encode()).hexdigest()
    return f'"{digest[:32]}"'


def cached(key: str, compute: Callable[[], T], *, wait: float = 30.0) -> T:
    """The cached value under `key`, computed once even when many ask at the same moment.

    The first caller takes a lock in the cache and computes; the others poll for the result
    and compute themselves only if it has not come within `wait` seconds.
    """
    missing = object()
    found: T = cache.get(key, missing)
    if found is not missing:
        return found
    lock = f"{key}:lock"
    if cache.add(lock, 1, LOCK_SECONDS):
        try:
            value = compute()
            cache.set(key, value, CACHE_SECONDS)
            return value
        finally:
            cache.delete(lock)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        time.sleep(WAIT_STEP)
        found = cache.get(key, missing)
        if found is not missing:
            return found
        if cache.get(lock) is None:  # the other computation failed: try ourselves
            break
    value = compute()
    cache.set(key, value, CACHE_SECONDS)
    return value


def cell_evidence(evidence_map: EvidenceMap, filters: StudyFilters, key: CellKey) -> MapEvidence:
    """One cell of the map (with the framework), computed once per map version and filters."""
    cell_key = cache_key("cell", evidence_map, f"{filters.to_query()}|{key[0]}|{key[1]}")
    return cached(cell_key, lambda: map_evidence(evidence_map, filters, only=key))
