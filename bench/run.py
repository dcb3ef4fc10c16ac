"""Run every benchmark under bench/ (``make bench``): ``ingest.py`` (issue 3: events on SQLite and
PostgreSQL), then every ``bench_*.py``; each prints its figures and ratios."""

import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent


def main() -> int:
    failures = 0
    for script in [HERE / "ingest.py", *sorted(HERE.glob("bench_*.py"))]:
        print(f"\n=== {script.name} ===", flush=True)
        failures += subprocess.call([sys.executable, str(script)], cwd=HERE.parent) != 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
