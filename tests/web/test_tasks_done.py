"""Completing a task: from My tasks and through the API, once, only one's own."""

import pytest
from rest_framework.test import APIClient

from pipeline.models import Task
from tests.web.conftest import login

pytestmark = pytest.mark.django_db


@pytest.fixture
def task(rep):
    return Task.objects.create(kind="follow_up", title="Call back Robin", owner=rep)


def test_rep_marks_a_task_done_from_my_tasks(rep, task):
    client = login(rep)
    assert b"Call back Robin" in client.get("/app/tasks/").content
    response = client.post(f"/app/tasks/{task.pk}/done/")
    assert response.status_code == 302 and response["Location"] == "/app/tasks/"
    task.refresh_from_db()
    first = task.completed_at
    assert first is not None
    page = client.get("/app/tasks/").content.decode()
    assert "Done: Call back Robin" in page and "No open tasks." in page
    client.post(f"/app/tasks/{task.pk}/done/")  # a second click changes nothing
    task.refresh_from_db()
    assert task.completed_at == first


def test_someone_elses_task_is_refused(other_rep, task):
    assert login(other_rep).post(f"/app/tasks/{task.pk}/done/").status_code == 403
    task.refresh_from_db()
    assert task.completed_at is None


def test_api_complete_task(rep, other_rep, task):
    api = APIClient()
    api.force_authenticate(other_rep)
    assert api.post(f"/api/v1/tasks/{task.pk}/complete/").status_code == 403
    assert api.post("/api/v1/tasks/99999/complete/").status_code == 404
    api.force_authenticate(rep)
    response = api.post(f"/api/v1/tasks/{task.pk}/complete/")
    assert response.status_code == 200
    assert response.json()["completed_at"] is not None
