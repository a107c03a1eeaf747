"""Replaying the log into read tables: the live ones, or a separate SQLite file to inspect.

A replay ``into`` a path writes a file, and a file path is where a user's data may already
be: the live store itself (under another spelling, through a symlink or a hard link), another
store, or anything else. A replay therefore only ever replaces what a replay wrote: its
output is recognisable (a SQLite file holding only read tables plus the ``mp_replay`` marker
table), and everything else at the path is refused. Replacing even a replay output needs
``overwrite``. The new file is built beside the target under a temporary name and renamed
onto it at the end, so an error or a crash mid-replay leaves the old output as it was.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    Table,
    Text,
    create_engine,
    event,
    insert,
)
from sqlalchemy.engine import make_url

from modelplane.domain.errors import ValidationError
from modelplane.projections.clock import set_clock
from modelplane.projections.generations import builds_online, rebuild_online
from modelplane.projections.queries.time_travel import position_at
from modelplane.projections.runner import create_tables, rebuild
from modelplane.projections.tables import read_tables

from .responses import ReplayResult
from .store_handle import Store

#: The marker table that makes a file recognisable as a replay output (one row: what built it).
MARKER = "mp_replay"
_marker_metadata = MetaData()
marker = Table(
    MARKER,
    _marker_metadata,
    Column("source", Text, nullable=False),  # the store's URL, without its password
    Column("until", Integer, nullable=True),  # the position asked for (None: the whole log)
    Column("position", Integer, nullable=False),  # the position reached
    Column("events", Integer, nullable=False),
    Column("built_at", DateTime(timezone=True), nullable=False),
)

_SQLITE_HEADER = b"SQLite format 3\x00"
_SIDE_FILES = ("-wal", "-shm", "-journal")
#: The event log's table, as the event-sourcing library names it (and its default name).
_LOG_TABLES = {"modelplane_events", "stored_events"}


def replay(
    store: Store,
    *,
    until: int | datetime | None = None,
    into: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    overwrite: bool = False,
) -> ReplayResult:
    """Fold the log (up to ``until``) into fresh tables and report how fast it went.

    Into the live tables (always the whole log), the new tables are built beside the live
    ones and swapped in (``projections.generations``): readers see the old tables until the
    swap, and writers wait only for the swap.
    ``into`` a path builds a separate SQLite file holding only the read tables, up to
    ``until`` if given, which leaves the live store untouched. The path must be new, or a
    previous replay output and ``overwrite`` set; the live store, a directory and any other
    file are refused (a ``ValidationError``, before anything is written).
    """
    if into is None and until is not None:
        msg = (
            "Replaying the live read tables up to a past point would make them disagree with "
            "the log (and later writes would act on the past); build the past into a separate "
            "file instead: --into PATH (into= in the SDK)."
        )
        raise ValidationError(msg)
    registry = store.registry
    log = registry.event_log
    with registry.engine.connect() as conn:
        limit = None if until is None else position_at(conn, until)
    target = None if into is None else check_target(store, Path(into), overwrite)
    started = time.perf_counter()
    if target is None and builds_online(registry.engine):
        built = rebuild_online(registry.engine, log, registry.lock_log, progress)
        count, head = built.events, built.position
        shown = "live read tables"
    elif target is None:  # an in-memory store: in place, in one transaction
        with registry.transaction(commit=True) as session:
            registry.lock_log(session)
            count = rebuild(session, log, limit, progress)
            head = _head(log, session, limit)
        shown = "live read tables"
    else:
        count, head = build_file(store, Path(str(into)), target, limit, progress, overwrite)
        shown = str(into)
    return ReplayResult(count, head, time.perf_counter() - started, shown)


def check_target(store: Store, path: Path, overwrite: bool) -> Path:
    """Where a replay may write ``path`` (symlinks resolved), or a ValidationError why not."""
    shown = str(path)
    try:
        target = Path(os.path.realpath(path.expanduser()))
    except (OSError, ValueError) as error:  # a loop of symlinks, a NUL in the path
        raise ValidationError(f"--into {shown!r} is not a usable path: {error}") from None
    live = _live_file(store)
    if live is not None and _same_file_or_sibling(target, live):
        msg = (
            f"--into {shown} is the live store ({live}); replay never writes over the log. "
            "Choose a new file."
        )
        raise ValidationError(msg)
    _check_parent(shown, target.parent)
    if target.is_dir():
        raise ValidationError(f"--into must be a file path, and {shown} is a directory.")
    if target.exists() or target.is_symlink():
        kind = _what_is_there(target)
        if kind == "replay":
            if not overwrite:
                msg = (
                    f"--into {shown} already holds a replay output; pass --overwrite "
                    "(overwrite=True in the SDK) to replace it."
                )
                raise ValidationError(msg)
        elif kind == "empty":
            if not overwrite:
                msg = (
                    f"--into {shown} exists (an empty file); pass --overwrite "
                    "(overwrite=True in the SDK) to replace it."
                )
                raise ValidationError(msg)
        elif kind == "store":
            msg = (
                f"--into {shown} is a modelplane store (it holds an event log); replay never "
                "writes over one, not even with --overwrite. Choose a new file."
            )
            raise ValidationError(msg)
        else:
            msg = (
                f"--into {shown} exists and is not a replay output; replay only replaces its "
                "own outputs, not even with --overwrite. Choose a new file, or remove it first."
            )
            raise ValidationError(msg)
    return target


def _live_file(store: Store) -> Path | None:
    """The live store's SQLite file, resolved (None on PostgreSQL or an in-memory store)."""
    url = make_url(store.url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    database = url.database
    if database.startswith("file:"):  # a URI filename
        database = database[5:].split("?", 1)[0]
    return Path(os.path.realpath(database))


def _same_file_or_sibling(target: Path, live: Path) -> bool:
    """Whether ``target`` is the live database or one of its -wal/-shm/-journal files.

    By path (resolved, so other spellings and symlinks compare equal) and by identity
    (device and inode: a hard link, or a path the resolution could not see through).
    """
    for candidate in (live, *(Path(f"{live}{side}") for side in _SIDE_FILES)):
        if target == candidate:
            return True
        with contextlib.suppress(OSError):
            if target.exists() and candidate.exists() and os.path.samefile(target, candidate):
                return True
    return False


def _check_parent(shown: str, parent: Path) -> None:
    """The directory the output goes into: made if missing, refused if it cannot be."""
    existing = parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        msg = f"--into {shown} cannot be created: {existing} is a file, not a directory."
        raise ValidationError(msg)
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        msg = f"--into {shown} cannot be created: {error.strerror or error} ({parent})."
        raise ValidationError(msg) from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValidationError(f"--into {shown} cannot be written: {parent} is not writable.")


def _what_is_there(path: Path) -> str:
    """What a file at ``path`` is, to a replay about to replace it.

    "replay" (a replay output), "store" (a SQLite file with an event log), "empty", or
    "other" (anything else, including files that cannot be read as SQLite).
    """
    try:
        with open(path, "rb") as handle:
            header = handle.read(len(_SQLITE_HEADER))
    except OSError:
        return "other"
    if not header:
        return "empty"
    if header != _SQLITE_HEADER:
        return "other"
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return "other"
    try:
        names = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
    except sqlite3.Error:
        return "other"
    finally:
        conn.close()
    if names & _LOG_TABLES:
        return "store"
    if MARKER in names and names <= set(read_tables.tables) | {MARKER}:
        return "replay"
    return "other"


def build_file(
    store: Store,
    shown: Path,
    target: Path,
    limit: int | None,
    progress: Callable[[int, int], None] | None,
    overwrite: bool,
) -> tuple[int, int]:
    """Build the output under a temporary name beside ``target``, then rename it onto it.

    The temporary file is nobody's until the rename, so it is built without a journal and
    synced once at the end; on any error it is removed and ``target`` is untouched.
    """
    registry = store.registry
    log = registry.event_log
    temp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.replay-tmp")
    try:
        try:
            os.close(os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        except OSError as error:
            msg = f"--into {shown} cannot be written: {error.strerror or error} ({temp.parent})."
            raise ValidationError(msg) from None
        engine = create_engine(f"sqlite:///{temp}")
        event.listen(engine, "connect", _unjournaled)
        try:
            with engine.begin() as out, registry.engine.connect() as source:
                create_tables(out)
                _marker_metadata.create_all(out)
                count = rebuild(out, log, limit, progress, source=source)
                set_clock(out)  # the clock as it stood then: the newest event's time
                head = _head(log, source, limit)
                row = {
                    "source": _public_url(store.url),
                    "until": limit,
                    "position": head,
                    "events": count,
                    "built_at": datetime.now(UTC),
                }
                out.execute(insert(marker), row)
        finally:
            engine.dispose()
        _sync(temp)
        # the path may have changed while the log was folded: check again right before
        check_target(store, shown, overwrite)
        for side in _SIDE_FILES:  # the old output's, which must not be applied to the new one
            Path(f"{target}{side}").unlink(missing_ok=True)
        try:
            os.replace(temp, target)
        except OSError as error:
            msg = f"--into {shown} cannot be written: {error.strerror or error}."
            raise ValidationError(msg) from None
        _sync(target.parent)
    finally:
        for leftover in (temp, *(Path(f"{temp}{side}") for side in _SIDE_FILES)):
            with contextlib.suppress(OSError):
                leftover.unlink()
    return count, head


def _unjournaled(dbapi_connection: Any, _record: Any) -> None:
    """No journal, no syncs while building a file that is discarded on any failure."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=OFF")
    cursor.execute("PRAGMA synchronous=OFF")
    cursor.close()


def _public_url(url: str) -> str:
    """The store URL as recorded in an output: without the password."""
    parsed = make_url(url)
    return parsed.set(password=None).render_as_string(hide_password=False)


def _sync(path: Path) -> None:
    """Flush a file, or a directory after a rename into it, to disk."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _head(log: object, conn: object, limit: int | None) -> int:
    head = log.head(conn)  # type: ignore[attr-defined]
    return head if limit is None else min(head, limit)
