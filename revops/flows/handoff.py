"""MQL -> route -> handoff (owned by the routing issue)."""


def lead_handoff(*, lead, at, trigger: str, actor=None):
    """Route a lead that just became MQL and start its handoff. Implemented by the routing issue."""
    raise NotImplementedError
