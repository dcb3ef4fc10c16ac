from types import SimpleNamespace

import pytest


@pytest.fixture(autouse=True)
def handoff_calls(monkeypatch):
    """Record ``lead_handoff`` calls instead of routing: scoring tests stay about scoring."""
    calls = []

    def recorder(*, lead, at, trigger, actor=None):
        calls.append({"lead": lead.pk, "at": at, "trigger": trigger})
        return SimpleNamespace(rep_id=lead.owner_id)  # the Assignment's interface: who owns it now

    monkeypatch.setattr("revops.flows.handoff.lead_handoff", recorder)
    return calls
