"""A RIS file into a map, from bytes to rows: read, leave out duplicates, plan, write."""

from __future__ import annotations

from django.db import transaction

from evidence.models import EvidenceMap
from interchange.eppi.read import Unreadable
from interchange.importing.plan import Progress, no_progress
from interchange.importing.report import Report
from interchange.importing.run import ImportResult, import_map
from interchange.ris.convert import Existing, normalise_title, read_citations, to_map_record
from studies.models import Study
from studies.services import User


def existing_studies(evidence_map: EvidenceMap) -> list[Existing]:
    """The map's studies (drafts too), as de-duplication compares them."""
    return [
        Existing(
            citation=f"the map's study {s.short_citation} (id {s.pk})",
            doi=s.doi,
            title_year=(normalise_title(s.title), s.year),
            external_id=s.external_id,
        )
        for s in Study.objects.filter(evidence_map=evidence_map).only(
            "pk", "title", "year", "doi", "authors", "external_id", "evidence_map"
        )
    ]


def import_ris(
    data: bytes,
    *,
    slug: str,
    user: User,
    dry_run: bool = False,
    source_name: str = "RIS file",
    progress: Progress = no_progress,
) -> ImportResult:
    """Import a RIS file's citations into the map `slug` as draft studies, leaving out those it
    has already; nothing is written if the report has an error, or on a dry run."""
    report = Report()
    progress("Reading the file", 0, 1)
    try:
        citations = read_citations(data, report)
    except Unreadable:
        return ImportResult(report=report, plan=None, written=False)
    # The map is locked before it is read for duplicates, so that two imports of one file run
    # one after the other and the second finds the first's studies.
    with transaction.atomic():
        evidence_map = EvidenceMap.objects.select_for_update().filter(slug=slug).first()
        existing = existing_studies(evidence_map) if evidence_map is not None else []
        record = to_map_record(citations, report, existing=existing)
        return import_map(
            record,
            report,
            slug=slug,
            user=user,
            dry_run=dry_run,
            reason=f"Imported from {source_name}",
            progress=progress,
        )
