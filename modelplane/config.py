"""Where the store lives and who is acting, from the environment.

``MODELPLANE_STORE_URL`` (e.g. ``postgresql+psycopg://user@host/db``) selects PostgreSQL;
otherwise the store is one SQLite file under ``MODELPLANE_HOME`` (default ``~/.modelplane``).
``MODELPLANE_ACTOR`` overrides the OS user recorded as the actor of every event.

A setting that cannot work (a home that is a file, or lies under one, or cannot be written; an
actor no store can record) is a ``ConfigError`` naming the variable, raised before anything is
written, rather than the ``OSError`` or database error it would otherwise become.
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path

from modelplane.domain.errors import ValidationError
from modelplane.domain.validation import check_actor


class ConfigError(ValidationError):
    """Raised when a setting (``MODELPLANE_HOME``, ``MODELPLANE_ACTOR``) cannot work."""


def home() -> Path:
    """The folder holding the SQLite store and the artifacts; refused if it cannot be one."""
    raw = os.environ.get("MODELPLANE_HOME")
    path = Path(raw or Path.home() / ".modelplane").expanduser()
    variable = "MODELPLANE_HOME" if raw else "The default home"
    try:
        if path.exists() and not path.is_dir():
            raise ConfigError(f"{variable} {str(path)!r} is a file, not a folder.")
        for parent in path.parents:
            if parent.exists():
                if not parent.is_dir():
                    msg = f"{variable} {str(path)!r} lies under {str(parent)!r}, which is a file."
                    raise ConfigError(msg)
                break
    except OSError as error:  # a name too long, a parent that cannot be searched
        msg = f"{variable} {str(path)!r} cannot be used: {error.strerror or error}."
        raise ConfigError(msg) from None
    return path


def writable_home() -> Path:
    """``home()``, created if missing and checked writable (the SQLite store writes there)."""
    return writable_folder(home(), "MODELPLANE_HOME")


def writable_folder(path: Path, what: str) -> Path:
    """``path``, created if missing; a ``ConfigError`` naming ``what`` if it cannot be used."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        msg = f"{what} {str(path)!r} cannot be created: {error.strerror or error}."
        raise ConfigError(msg) from None
    if not os.access(path, os.W_OK | os.X_OK):
        msg = f"{what} {str(path)!r} is not writable by this user."
        raise ConfigError(msg)
    return path


def store_url() -> str:
    url = os.environ.get("MODELPLANE_STORE_URL")
    if url:
        return url
    return f"sqlite:///{writable_home() / 'modelplane.db'}"


def stale_run_seconds() -> float:
    """How long a running run may go without a sign of life before it is shown as stale."""
    return float(os.environ.get("MODELPLANE_STALE_RUN_SECONDS") or 3600)


def actor() -> str:
    """Who is acting: ``MODELPLANE_ACTOR``, else the OS user (else ``uid:N``).

    Checked on every call, so a command with an actor no store can record (over 255
    characters, control characters, not UTF-8) is refused before it appends anything.
    """
    explicit = os.environ.get("MODELPLANE_ACTOR")
    if explicit:
        try:
            return check_actor(explicit)
        except ValidationError as error:
            raise ConfigError(str(error)) from None
    try:
        return check_actor(getpass.getuser())
    except (KeyError, OSError, ValidationError):
        return f"uid:{os.getuid()}"
