import pytest

from tests import factories


@pytest.fixture
def manager(db):
    team = factories.TeamFactory()
    return factories.RepFactory(role="manager", team=team)


@pytest.fixture
def ae(manager):
    return factories.RepFactory(role="ae", team=manager.team, manager=manager)
