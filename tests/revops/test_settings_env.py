"""Settings come from the environment: SECRET_KEY is required to serve when DEBUG is off."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(code: str, **env):
    cleared = ("SECRET_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE", "DATABASE_URL")
    environ = {k: v for k, v in os.environ.items() if k not in cleared}
    environ.update({"DJANGO_SETTINGS_MODULE": "revops.settings", **env})
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environ, capture_output=True, text=True)


def test_serving_without_secret_key_is_refused_when_debug_is_off():
    result = run("import revops.wsgi")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_debug_has_a_development_key_and_production_uses_the_given_one():
    shown = ("import django; django.setup(); from django.conf import settings; "
             "print(settings.DEBUG, settings.SECRET_KEY)")
    assert run(shown, DEBUG="1").stdout.split() == ["True", "dev-only-insecure-key-do-not-use-in-production"]
    assert run(shown, SECRET_KEY="s3cret-from-env").stdout.split() == ["False", "s3cret-from-env"]


def test_database_url_switches_the_engine():
    shown = ("import django; django.setup(); from django.conf import settings; "
             "print(settings.DATABASES['default']['ENGINE'])")
    assert run(shown, DEBUG="1").stdout.strip() == "django.db.backends.sqlite3"
    assert run(shown, DEBUG="1", DATABASE_URL="postgres://u@h:5432/db").stdout.strip() == (
        "django.db.backends.postgresql")
