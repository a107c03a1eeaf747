"""Processes for the online-upgrade tests: ``python -m tests.resilience.workers ROLE ...``.

``read STOPFILE`` and ``write MODEL STOPFILE`` open the store first (as a process that was
running before the read tables went stale would have), print ``ready``, then read or write
until STOPFILE exists, printing one JSON line per call: when it started and ended
(``time.time()``), and what it saw or wrote, or the error. ``build`` folds the log into a new
generation and swaps it in, printing the ``BuildResult`` as JSON (``MODELPLANE_TEST_PAGE``
sets the events per page, to make a build last long enough to be killed part-way).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from pathlib import Path
from typing import Any


def _emit(record: dict[str, Any]) -> None:
    print(json.dumps(record), flush=True)


def read(stop: str) -> None:
    from modelplane.client import Client

    client = Client()
    client.list_models(size=1)  # the read engine checks the fingerprint once, now
    print("ready", flush=True)
    while not Path(stop).exists():
        started = time.time()
        try:
            models = client.list_models(size=5)
            first = models.items[0].name if models.items else None
            total = models.total
            production = client.get_model_version("seeded00000", "production").number
        except Exception as error:  # reported, and the test fails on it
            _emit({"t0": started, "t1": time.time(), "error": repr(error)})
        else:
            record = {"first": first, "total": total, "production": production}
            _emit({"t0": started, "t1": time.time(), **record})
        time.sleep(0.005)


def write(model: str, stop: str) -> None:
    from modelplane.client import Client
    from modelplane.store_handle import Store

    client = Client()
    _ = Store.current().registry  # the write side is open before the tables go stale
    client.create_model(model)
    print("ready", flush=True)
    while not Path(stop).exists():
        started = time.time()
        try:
            number = client.create_model_version(model).number
        except Exception as error:
            _emit({"t0": started, "t1": time.time(), "error": repr(error)})
        else:
            _emit({"t0": started, "t1": time.time(), "number": number})


def build() -> None:
    from modelplane.projections import generations
    from modelplane.projections.projected_registry import ProjectedRegistry
    from modelplane.store_handle import Store

    page = os.environ.get("MODELPLANE_TEST_PAGE")
    if page:  # every page that size
        generations.BUILD_PAGE_SIZE = generations.MAX_BUILD_PAGE_SIZE = int(page)

    class Opened(ProjectedRegistry):
        """The registry without its own upgrade on open: this process runs it itself."""

        name = ProjectedRegistry.name  # the log's tables are named after the application

        def _upgrade_read_tables(self) -> None:
            pass

    url = Store.current().url
    registry = Opened(
        {
            "PERSISTENCE_MODULE": "modelplane.projections.persistence:Factory",
            "SQLALCHEMY_URL": url,
        }
    )
    print("ready", flush=True)
    result = generations.upgrade_online(registry.engine, registry.event_log, registry.lock_log)
    _emit({"result": None if result is None else dataclasses.asdict(result)})


if __name__ == "__main__":
    role, args = sys.argv[1], sys.argv[2:]
    if role == "read":
        read(*args)
    elif role == "write":
        write(*args)
    elif role == "build":
        build()
    else:
        raise SystemExit(f"unknown worker {role!r}")
