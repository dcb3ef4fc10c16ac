import pytest


@pytest.fixture(autouse=True)
def handoff_calls(monkeypatch):
    """Record ``lead_handoff`` calls instead of routing (another issue implements it)."""
    calls = []

    def recorder(*, lead, at, trigger, actor=None):
        calls.append({"lead": lead.pk, "at": at, "trigger": trigger})

    monkeypatch.setattr("revops.flows.handoff.lead_handoff", recorder)
    return calls
