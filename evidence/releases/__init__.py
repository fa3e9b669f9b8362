"""Releases: numbered, immutable snapshots of a map (snapshot: the document; services: making
one; store: materialising one for reading; router and context: sending reads to it)."""
