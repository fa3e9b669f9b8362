"""Public pages: thin views over selectors and the synthesis layer."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from evidence import selectors


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "evidence/home.html", {"maps": selectors.published_maps()})


def map_page(request: HttpRequest, slug: str) -> HttpResponse:
    evidence_map = selectors.published_map(slug)
    return render(request, "evidence/map.html", {"map": evidence_map})


def study_page(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    evidence_map = selectors.published_map(slug)
    study = selectors.published_study(evidence_map, pk)
    return render(request, "evidence/study.html", {"map": evidence_map, "study": study})
