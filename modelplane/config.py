"""Where the store lives and who is acting, from the environment.

``MODELPLANE_STORE_URL`` (e.g. ``postgresql+psycopg://user@host/db``) selects PostgreSQL;
otherwise the store is one SQLite file under ``MODELPLANE_HOME`` (default ``~/.modelplane``).
``MODELPLANE_ACTOR`` overrides the OS user recorded as the actor of every event.
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path


def home() -> Path:
    return Path(os.environ.get("MODELPLANE_HOME") or Path.home() / ".modelplane").expanduser()


def store_url() -> str:
    url = os.environ.get("MODELPLANE_STORE_URL")
    if url:
        return url
    path = home()
    path.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path / 'modelplane.db'}"


def stale_run_seconds() -> float:
    """How long a running run may go without a sign of life before it is shown as stale."""
    return float(os.environ.get("MODELPLANE_STALE_RUN_SECONDS") or 3600)


def actor() -> str:
    explicit = os.environ.get("MODELPLANE_ACTOR")
    if explicit:
        return explicit
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}"
