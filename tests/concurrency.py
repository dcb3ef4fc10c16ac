"""Run several workers at the same moment, each on its own database connection (PostgreSQL tests)."""

import threading

from django.db import connections


def run_threads(target, n: int) -> list[str]:
    """Start ``n`` threads calling ``target(i)`` together (a barrier); return the errors they raised."""
    errors, barrier = [], threading.Barrier(n)

    def wrapped(i):
        try:
            barrier.wait()
            target(i)
        except Exception as exc:  # noqa: BLE001 - returned to the test, which asserts on it
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=wrapped, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors
