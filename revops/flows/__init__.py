"""Flows that cross apps (SPEC §2), orchestrated here — the one level that knows every app.

``intake``: form / API / import -> upsert lead -> rescore -> MQL -> route -> handoff.
"""
