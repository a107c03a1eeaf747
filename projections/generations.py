"""Rebuilding the read tables beside the live ones, then swapping them in.

When this code's read tables differ from a store's (``projections.tables.FINGERPRINT``), or a
live replay is asked for, the next *generation* of read tables is built under shadow names
(every table, index and named constraint with the suffix ``__<tag>``, eight hex digits) while
the live generation goes on serving: the log is folded a page at a time, each page in a short
transaction of its own that also moves the shadow tracking rows, so a builder that dies
leaves a consistent, resumable shadow and the live tables untouched. Readers never wait for
the build, and writers (processes that opened the store before) go on appending and folding
into the live tables. Once the build has caught up with the log, one short transaction takes
the log's write lock, folds the few events appended meanwhile, puts the shadow tables in
place of the live ones (``ALTER TABLE ... RENAME``) and commits: writers wait for that (about
0.1 s, whatever the size of the log). On PostgreSQL that is all they wait for. SQLite has a
single writer, so there a writer also waits out the page being written when it comes (pages
are sized to hold the lock about :data:`PAGE_HOLD_SECONDS`) and, at the end, each deferred
index being created (:attr:`Generation.deferred`; about 0.5 s each at a million events).

A page ends where a transaction of the log does (``EventLog.page``): the events of one
transaction are folded together, as they were when written.

One process builds at a time (the *claim*): on PostgreSQL a session advisory lock, freed
when the builder's connection closes; on SQLite, which has none, a lease in the
``mp_generation_build`` row, renewed with every page and taken over when it is older than
:data:`LEASE_SECONDS` or its holder's process is gone from this host. The pages are
compare-and-set on the shadow tracking rows besides, so even two builders could not fold an
event twice. A process that needs the new tables while another builds them waits for the
swap (it has nothing to read: the live tables are another version's), saying so once on the
``modelplane.projections`` logger, and takes the build over where it stopped if the builder
dies. It does not fold pages alongside: SQLite has one writer, so a second builder would
only contend for the write lock with the store's own writers.

Names after a swap: PostgreSQL renames the indexes and constraints back to what a fresh
``create_all`` names them. SQLite cannot rename an index, so there the indexes of a rebuilt
table keep their ``__<tag>`` suffix (the planner does not care; nothing refers to an index by
name). PostgreSQL's statistics are refreshed after every swap (:func:`analyze`).
"""

from __future__ import annotations

import gc
import logging
import os
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    func,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.sql.elements import quoted_name

from .bulk import BulkWriter, Renamer
from .clock import set_clock
from .engine import schema_transaction
from .folding import Batch, Projection
from .log import EventLog
from .runner import PROJECTIONS, queue
from .tables import FINGERPRINT, READ_LAST, clock, read_tables, schema, tracking

logger = logging.getLogger("modelplane.projections")

#: Seconds without a renewed lease after which another process takes a SQLite build over.
LEASE_SECONDS = 30.0
#: Seconds between two looks of a process waiting for another's build.
POLL_SECONDS = 0.25
#: Key of the PostgreSQL session advisory lock held by the one builder ("mpbuild").
BUILD_LOCK_KEY = 0x6D70_6275_696C_64
#: A swap that waits longer than this for a lock (a long query on a live table) gives way,
#: folds what came meanwhile and tries again, instead of queueing every reader behind it.
SWAP_LOCK_TIMEOUT_MS = 2_000
SWAP_ATTEMPTS = 5
#: SQLite page cache of the builder's connection (KiB): the shadow indexes' B-trees stay in
#: memory instead of being re-read from the OS for every insert.
BUILD_CACHE_KIB = 32 * 1024

#: Events in a build's first page, and at most in any: each page is one transaction, which
#: on SQLite holds the write lock for its statements (writers wait it out); the pages after
#: the first are sized to hold it for about PAGE_HOLD_SECONDS.
BUILD_PAGE_SIZE = 5_000
MAX_BUILD_PAGE_SIZE = 20_000
PAGE_HOLD_SECONDS = 0.25

Progress = Callable[[int, int], None]

_TAG = re.compile(r"__([0-9a-f]{8})$")
_build_metadata = MetaData()
#: The build in progress, if any (one row, id 1): which generation, for which tables, and
#: (SQLite) who holds the claim, renewed at ``heartbeat`` (microseconds since the epoch).
builds = Table(
    "mp_generation_build",
    _build_metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("fingerprint", String(64), nullable=True),
    Column("tag", String(8), nullable=True),
    Column("owner", String(255), nullable=True),
    Column("heartbeat", BigInteger, nullable=False),
)


class LostClaim(Exception):
    """Another process took the build over (this one stalled past the lease)."""


@dataclass(frozen=True)
class BuildResult:
    """What a build did: events folded by this process, the position the new tables reached,
    the position it resumed from (0: a fresh build), and the longest time it kept the store's
    writers waiting: one page's transaction, and the swap's."""

    events: int
    position: int
    resumed_from: int
    longest_page_seconds: float
    swap_seconds: float


class Generation:
    """The read tables under the names of one generation (``mp_models__1a2b3c4d``, ...)."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.metadata = MetaData(naming_convention=read_tables.naming_convention)
        names: dict[str, str] = {}
        self.tables: dict[str, Table] = {}
        for table in read_tables.sorted_tables:
            copy = table.to_metadata(self.metadata, name=self.shadow(table.name))
            names[table.name] = copy.name
            for index in copy.indexes:
                if isinstance(index.name, str):
                    shadow_name = self.shadow(index.name)
                    names[index.name] = shadow_name
                    index.name = quoted_name(shadow_name, None)
            for constraint in copy.constraints:
                if isinstance(constraint.name, str) and constraint.name:
                    shadow_name = self.shadow(constraint.name)
                    names[constraint.name] = shadow_name
                    constraint.name = quoted_name(shadow_name, None)
            self.tables[table.name] = copy
        self.renamer = Renamer(names)
        self.tracking = self.tables[tracking.name]
        self.schema = self.tables[schema.name]
        #: Indexes created once the bulk of the log is folded (by sorting, several times
        #: faster than keeping them up to date row by row), keyed by shadow table: the
        #: non-unique ones (unique ones enforce their constraint from the first row). A
        #: statement other than a plain INSERT may need them to find its rows: its tables
        #: get theirs before it runs (:meth:`prepare`).
        self.deferred: dict[str, list[Index]] = {}
        for copy in self.tables.values():
            later = sorted((i for i in copy.indexes if not i.unique), key=lambda i: str(i.name))
            for index in later:
                copy.indexes.discard(index)
            if later:
                self.deferred[copy.name] = later
        shadows = "|".join(re.escape(t.name) for t in self.tables.values())
        self._mentions = re.compile(rf"(?<![\w$])({shadows})(?![\w$])")
        self._needs: dict[str, tuple[str, ...]] = {}

    def created(self, existing: dict[str, set[str]]) -> None:
        """Forget the deferred indexes that exist already (``{table: {index names}}``): a
        resumed build, or one whose statements needed them."""
        for table_name in list(self.deferred):
            there = existing.get(table_name, set())
            left = [ix for ix in self.deferred[table_name] if ix.name not in there]
            if left:
                self.deferred[table_name] = left
            else:
                del self.deferred[table_name]

    def prepare(self, conn: Connection) -> Callable[[str], None]:
        """The ``BulkWriter`` hook that creates the deferred indexes of the tables a
        statement reads (anything but ``INSERT ... VALUES``) before it runs."""

        def before(sql: str) -> None:
            if not self.deferred:
                return
            tables = self._needs.get(sql)
            if tables is None:
                words = sql.upper()
                plain_insert = words.lstrip().startswith("INSERT") and "SELECT" not in words
                tables = () if plain_insert else tuple(set(self._mentions.findall(sql)))
                self._needs[sql] = tables
            for table_name in tables:
                for index in self.deferred.pop(table_name, ()):
                    index.create(conn)

        return before

    @classmethod
    def fresh(cls, taken: set[str]) -> Generation:
        """A generation whose tag no table or index in the database carries."""
        while True:
            tag = secrets.token_hex(4)
            if not any(name.endswith(f"__{tag}") for name in taken):
                return cls(tag)

    def shadow(self, name: str) -> str:
        return f"{name}__{self.tag}"

    def unshadow(self, name: str) -> str:
        """The name a fresh ``create_all`` gives what PostgreSQL named after a shadow table."""
        return name.replace(f"__{self.tag}", "")


# --------------------------------------------------------------------- entry points


def builds_online(engine: Engine) -> bool:
    """Whether a store can be rebuilt beside its live tables: not an in-memory SQLite
    database (one connection, shared: nothing runs beside it)."""
    if engine.dialect.name != "sqlite":
        return True
    database = engine.url.database or ""
    return database not in ("", ":memory:") and "mode=memory" not in database


def upgrade_online(
    engine: Engine,
    log: EventLog,
    lock_log: Callable[[Any], None],
    progress: Progress | None = None,
) -> BuildResult | None:
    """Make the live read tables this code's, building them beside the old ones.

    Returns when the live fingerprint is this code's: after this process swapped them in
    (the result) or another did (None).
    """
    return _run(engine, log, lock_log, force=False, progress=progress)


def rebuild_online(
    engine: Engine,
    log: EventLog,
    lock_log: Callable[[Any], None],
    progress: Progress | None = None,
) -> BuildResult:
    """Refold the whole log into a new generation and swap it in (a live replay)."""
    result = _run(engine, log, lock_log, force=True, progress=progress)
    assert result is not None
    return result


def _run(
    engine: Engine,
    log: EventLog,
    lock_log: Callable[[Any], None],
    *,
    force: bool,
    progress: Progress | None,
) -> BuildResult | None:
    _create_build_table(engine)
    owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
    waiting_since: float | None = None
    while True:
        if not force and _live_fingerprint(engine) == FINGERPRINT:
            return None
        with _builder_connection(engine) as conn:
            claim = _Claim(conn, owner)
            if claim.acquire():
                try:
                    return _build(engine, conn, claim, log, lock_log, force, progress)
                except LostClaim:
                    logger.warning("modelplane: another process took over the read-table build")
                finally:
                    claim.release()
        if waiting_since is None:
            waiting_since = time.monotonic()
            logger.warning(
                "modelplane: another process is rebuilding the read tables (%s); waiting "
                "for it to finish (taking over if it stops)",
                _build_status(engine, log),
            )
        time.sleep(POLL_SECONDS)


# -------------------------------------------------------------------------- claim


class _Claim:
    """The right to build: one process at a time (see the module)."""

    def __init__(self, conn: Connection, owner: str) -> None:
        self.conn = conn
        self.owner = owner
        self.postgres = conn.dialect.name == "postgresql"
        self.held = False

    def acquire(self) -> bool:
        conn = self.conn
        if self.postgres:
            key = {"key": BUILD_LOCK_KEY}
            if not conn.execute(text("SELECT pg_try_advisory_lock(:key)"), key).scalar():
                conn.rollback()
                return False
            self.held = True
            self._take()
            return True
        with _write_transaction(conn):
            row = conn.execute(select(builds.c.owner, builds.c.heartbeat)).first()
            if row is not None and row.owner is not None and not _abandoned(*row):
                return False
            self._take()
        self.held = True
        return True

    def _take(self) -> None:
        conn = self.conn
        now = _micros()
        if conn.execute(select(builds.c.id)).first() is None:
            conn.execute(insert(builds), {"id": 1, "owner": self.owner, "heartbeat": now})
        else:
            conn.execute(update(builds).values(owner=self.owner, heartbeat=now))
        if self.postgres:
            conn.commit()

    def renew(self) -> None:
        """In a page's transaction: still ours? (A SQLite lease may have been taken over.)"""
        result = self.conn.execute(
            update(builds).where(builds.c.owner == self.owner).values(heartbeat=_micros())
        )
        if result.rowcount != 1:
            raise LostClaim

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        conn = self.conn
        try:
            if conn.in_transaction():  # what an error left half done (pages commit whole)
                conn.rollback()
            with _write_transaction(conn):
                conn.execute(update(builds).where(builds.c.owner == self.owner).values(owner=None))
            if self.postgres:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": BUILD_LOCK_KEY})
                conn.commit()
        except DBAPIError:
            conn.invalidate()  # closing the connection frees the advisory lock


def _abandoned(owner: str, heartbeat: int) -> bool:
    """Whether a SQLite build's holder has stopped: no renewal for the lease, or its
    process is gone from this host."""
    if _micros() - int(heartbeat) > LEASE_SECONDS * 1_000_000:
        return True
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _micros() -> int:
    return time.time_ns() // 1_000


# -------------------------------------------------------------------------- build


def _build(
    engine: Engine,
    conn: Connection,
    claim: _Claim,
    log: EventLog,
    lock_log: Callable[[Any], None],
    force: bool,
    progress: Progress | None,
) -> BuildResult | None:
    """With the claim held: resume or start the shadow build, fold the log, swap."""
    if not force and _live_fingerprint(engine) == FINGERPRINT:
        return None  # someone finished while we waited for the claim
    generation, resumed_from = _shadow(engine, conn, force)
    position = resumed_from
    done = 0
    longest = 0.0
    collecting = gc.isenabled()
    gc.disable()  # millions of short-lived acyclic objects: reference counting frees them
    try:
        with _bulk_settings(conn) as checkpoint:
            # progress in log positions, not counts: a count scans the whole log
            total = log.head(conn)
            _commit_reads(conn)
            if progress:
                progress(position, total)
            writer = BulkWriter(conn, generation.renamer, generation.prepare(conn))
            size = BUILD_PAGE_SIZE
            while True:
                # read and decoded before the transaction: writers wait only for the flush
                page = log.page(conn, position, limit=size)
                _commit_reads(conn)
                if not page:
                    break
                with _write_transaction(conn, durable=False):
                    locked = time.perf_counter()  # SQLite: writers wait from here to commit
                    claim.renew()
                    _fold_page(conn, writer, generation, page, position)
                held = time.perf_counter() - locked
                longest = max(longest, held)
                checkpoint()
                position = page[-1][0]
                done += len(page)
                if progress:
                    progress(position, max(total, position))
                if len(page) < size:
                    break  # caught up: the rest is folded under the lock, in the swap
                size = _next_page_size(conn, size, len(page), held)
            _create_deferred_indexes(conn, generation, claim, checkpoint)
        tail, head, swap_seconds = _swap(engine, generation, log, lock_log, claim)
    finally:
        if collecting:
            gc.enable()
    done += tail
    if progress:
        progress(head, head)
    analyze(engine)
    _drop_leftovers(conn)
    return BuildResult(done, head, resumed_from, longest, swap_seconds)


def _next_page_size(conn: Connection, size: int, folded: int, held: float) -> int:
    """Events to read for the next page: on SQLite, as many as fold in about
    :data:`PAGE_HOLD_SECONDS` (the wait a writer may have behind a page; fewer, larger
    commits rewrite fewer pages of the indexes); PostgreSQL's pages keep no writer waiting."""
    if conn.dialect.name != "sqlite":
        return MAX_BUILD_PAGE_SIZE
    fitting = int(folded * PAGE_HOLD_SECONDS / max(held, 1e-3))
    return max(min(BUILD_PAGE_SIZE, 1_000), min(MAX_BUILD_PAGE_SIZE, fitting, 2 * size))


def _fold_page(
    conn: Connection,
    writer: BulkWriter,
    generation: Generation,
    page: Sequence[tuple[int, object]],
    position: int,
    projections: Sequence[Projection] = PROJECTIONS,
) -> None:
    """Fold one page into the shadow tables and move their tracking rows from ``position``."""
    batch = Batch()
    queue(batch, projections, dict.fromkeys((p.name for p in projections), position), page)
    batch.flush(cast(Connection, writer))  # the writer runs what a session would
    shadow_tracking = generation.tracking
    moved = conn.execute(
        update(shadow_tracking)
        .where(shadow_tracking.c.position == position)
        .values(position=page[-1][0])
    )
    if moved.rowcount != len(projections):
        raise LostClaim  # another builder folded these events: leave them to it


def _create_deferred_indexes(
    conn: Connection, generation: Generation, claim: _Claim, checkpoint: Callable[[], None]
) -> None:
    """Create the indexes left for the end of the build, one transaction each (on SQLite
    each one keeps writers waiting while it sorts its table: seconds at 10M events)."""
    for table_name in list(generation.deferred):
        for index in generation.deferred.pop(table_name):
            with _write_transaction(conn, durable=False):
                claim.renew()
                index.create(conn)
            checkpoint()


def _shadow(engine: Engine, conn: Connection, force: bool) -> tuple[Generation, int]:
    """The generation to build into: the interrupted one, or a new, empty one."""
    names = set(inspect(conn).get_table_names())
    state = conn.execute(select(builds.c.fingerprint, builds.c.tag)).first()
    _commit_reads(conn)
    if not force and state is not None and state.fingerprint == FINGERPRINT and state.tag:
        generation = Generation(state.tag)
        if set(t.name for t in generation.tables.values()) <= names:
            with _reading(conn):
                built = conn.execute(select(generation.schema.c.fingerprint)).scalar()
                positions = list(conn.execute(select(generation.tracking.c.position)).scalars())
            complete = built == FINGERPRINT and len(positions) == len(PROJECTIONS)
            if complete and len(set(positions)) == 1:
                inspector = inspect(conn)
                generation.created(
                    {
                        t.name: {str(ix["name"]) for ix in inspector.get_indexes(t.name)}
                        for t in generation.tables.values()
                    }
                )
                _commit_reads(conn)
                return generation, int(positions[0])
    _drop_shadows(conn, {name for name in names if _TAG.search(name)})
    with schema_transaction(engine) as ddl:
        inspector = inspect(ddl)
        taken = set(inspector.get_table_names())
        for table_name in list(taken):
            taken |= {str(ix["name"]) for ix in inspector.get_indexes(table_name)}
        generation = Generation.fresh(taken)
        generation.metadata.create_all(ddl)
        rows = [{"projection": p.name, "position": 0} for p in PROJECTIONS]
        ddl.execute(insert(generation.tracking), rows)
        ddl.execute(insert(generation.schema), {"fingerprint": FINGERPRINT})
        ddl.execute(insert(generation.tables[clock.name]), {"id": 1, "micros": 0})
        ddl.execute(
            update(builds).values(fingerprint=FINGERPRINT, tag=generation.tag, heartbeat=_micros())
        )
    return generation, 0


def _drop_shadows(conn: Connection, names: set[str]) -> None:
    """Drop the tables of abandoned or retired generations (``mp_...__<tag>``).

    PostgreSQL drops a table by unlinking its files. SQLite frees every page of a dropped
    table or index inside the dropping transaction, which holds the write lock; so each
    index and then the table goes in a transaction of its own, without overwriting the
    freed pages with zeros (``secure_delete``, on in Debian's build, writes each page once
    more: seven times slower). They held read-table rows, all derived from the log that
    stays in the same file.
    """
    live = set(read_tables.tables)
    doomed = sorted(n for n in names if n not in live and n.startswith("mp_") and _TAG.search(n))
    if not doomed:
        return
    if conn.dialect.name != "sqlite":
        with _write_transaction(conn):
            for name in doomed:
                conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{name}"')
        return
    secure = conn.exec_driver_sql("PRAGMA secure_delete").scalar()
    conn.exec_driver_sql("PRAGMA secure_delete=OFF")
    try:
        for name in doomed:
            indexes = conn.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
                "AND sql IS NOT NULL",
                (name,),
            ).scalars()
            for index in list(indexes):
                with _write_transaction(conn, durable=False):
                    conn.exec_driver_sql(f'DROP INDEX IF EXISTS "{index}"')
            with _write_transaction(conn, durable=False):
                conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{name}"')
            _checkpoint(conn)
    finally:
        conn.exec_driver_sql(f"PRAGMA secure_delete={int(secure or 0)}")


def _drop_leftovers(conn: Connection) -> None:
    """After a swap: drop the retired generation (SQLite keeps it until after the commit)."""
    names = {n for n in inspect(conn).get_table_names() if _TAG.search(n)}
    _commit_reads(conn)
    _drop_shadows(conn, names)


# --------------------------------------------------------------------------- swap


def _swap(
    engine: Engine,
    generation: Generation,
    log: EventLog,
    lock_log: Callable[[Any], None],
    claim: _Claim,
) -> tuple[int, int, float]:
    """Under the log's write lock: fold the tail, put the generation in place. Returns the
    events folded here, the position the tables reached and how long writers waited."""
    postgres = engine.dialect.name == "postgresql"
    for attempt in range(1, SWAP_ATTEMPTS + 1):
        try:
            with schema_transaction(engine) as conn:
                if postgres and attempt < SWAP_ATTEMPTS:
                    conn.execute(text(f"SET LOCAL lock_timeout = {SWAP_LOCK_TIMEOUT_MS}"))
                lock_log(conn)
                locked = time.perf_counter()
                state = conn.execute(select(builds.c.tag, builds.c.owner)).first()
                if state is None or state.tag != generation.tag or state.owner != claim.owner:
                    raise LostClaim
                tail, head = _fold_tail(conn, generation, log)
                _put_in_place(conn, generation)
                conn.execute(delete(builds))
            return tail, head, time.perf_counter() - locked
        except OperationalError as error:
            if not postgres or attempt == SWAP_ATTEMPTS or not _lock_timeout(error):
                raise
            logger.info("modelplane: read-table swap waited for a lock; trying again")
    raise AssertionError("unreachable")


def _lock_timeout(error: OperationalError) -> bool:
    return getattr(error.orig, "sqlstate", None) == "55P03"  # lock_not_available


def _fold_tail(conn: Connection, generation: Generation, log: EventLog) -> tuple[int, int]:
    """Fold what was appended since the last page into the shadow tables; set their clock."""
    shadow_tracking = generation.tracking
    positions = set(conn.execute(select(shadow_tracking.c.position)).scalars())
    if len(positions) != 1:
        raise LostClaim
    position = int(positions.pop())
    writer = BulkWriter(conn, generation.renamer, generation.prepare(conn))
    tail = 0
    for page in log.pages(conn, position):
        _fold_page(conn, writer, generation, page, position)
        position = page[-1][0]
        tail += len(page)
    with generation.renamer.applied_to(conn):
        set_clock(conn)  # the newest event's time, read from the shadow event index
    return tail, position


def _put_in_place(conn: Connection, generation: Generation) -> None:
    """Replace the live tables with the generation's (inside the swap's transaction)."""
    live = set(inspect(conn).get_table_names()) & set(read_tables.tables)
    if conn.dialect.name == "sqlite":
        # Renaming is a schema edit; dropping frees every page, so it happens after the
        # commit. The legacy rename does not re-check every view and trigger in the schema
        # after each table (there are none over these tables): a third faster.
        conn.exec_driver_sql("PRAGMA legacy_alter_table=ON")
        retired = secrets.token_hex(4)
        for name in sorted(live):
            conn.exec_driver_sql(f'ALTER TABLE "{name}" RENAME TO "{name}__{retired}"')
    else:
        for name in sorted(live, key=_drop_order):
            conn.exec_driver_sql(f'DROP TABLE "{name}"')
    for name, table in generation.tables.items():
        conn.exec_driver_sql(f'ALTER TABLE "{table.name}" RENAME TO "{name}"')
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA legacy_alter_table=OFF")
    if conn.dialect.name == "postgresql":
        _rename_relations(conn, generation)


def _drop_order(name: str) -> tuple[bool, str]:
    """The tables reads consult last (``tables.READ_LAST``) are dropped last, so a reader
    holding the others while it asks for those never waits on a swap waiting on it."""
    return bool(read_tables.tables[name].info.get(READ_LAST)), name


def _rename_relations(conn: Connection, generation: Generation) -> None:
    """PostgreSQL: give the indexes, constraints and sequences their fresh-create names.

    Renaming a constraint's index renames the constraint too; constraints without an index
    (checks) are renamed on their own.
    """
    marker = f"__{generation.tag}"
    relations = conn.execute(
        text(
            "SELECT c.relname, c.relkind FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND strpos(c.relname, :marker) > 0 "
            "AND c.relkind IN ('i', 'S')"
        ),
        {"marker": marker},
    ).all()
    for name, kind in relations:
        what = "INDEX" if kind == "i" else "SEQUENCE"
        conn.exec_driver_sql(f'ALTER {what} "{name}" RENAME TO "{generation.unshadow(name)}"')
    constraints = conn.execute(
        text(
            "SELECT t.relname, k.conname FROM pg_constraint k "
            "JOIN pg_class t ON t.oid = k.conrelid "
            "JOIN pg_namespace n ON n.oid = t.relnamespace "
            "WHERE n.nspname = current_schema() AND strpos(k.conname, :marker) > 0"
        ),
        {"marker": marker},
    ).all()
    for table_name, name in constraints:
        conn.exec_driver_sql(
            f'ALTER TABLE "{table_name}" RENAME CONSTRAINT "{name}" '
            f'TO "{generation.unshadow(name)}"'
        )


def analyze(engine: Engine) -> None:
    """Refresh the planner's statistics of the read tables after they were refilled.

    PostgreSQL: ``ANALYZE`` (it blocks neither reads nor writes); until autovacuum came by,
    the planner would take the new tables for empty. SQLite keeps none: its planner's
    defaults are what the read queries were written against, and with ``ANALYZE``'s
    statistics the same reads measured slower (listing events 2.2 ms -> 3.7 ms, a version
    by stage 0.18 -> 0.30 ms at 200,000 events).
    """
    if engine.dialect.name != "postgresql":
        return
    with engine.connect() as conn:
        names = sorted(set(inspect(conn).get_table_names()) & set(read_tables.tables))
        if names:
            conn.exec_driver_sql("ANALYZE " + ", ".join(f'"{n}"' for n in names))
        conn.commit()


# -------------------------------------------------------------------- connections


@contextmanager
def _write_transaction(conn: Connection, durable: bool = True) -> Iterator[Connection]:
    """A write transaction on the builder's connection (SQLite: with the write lock taken at
    its start; not fsynced when ``durable`` is off: a lost page is folded again)."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            raw = conn.connection.dbapi_connection
            if raw is not None and raw.in_transaction:  # type: ignore[attr-defined]
                conn.exec_driver_sql("ROLLBACK")
            raise
        conn.exec_driver_sql("COMMIT")
        return
    if conn.in_transaction():
        conn.commit()
    try:
        if not durable:
            conn.execute(text("SET LOCAL synchronous_commit TO OFF"))
        yield conn
    except BaseException:
        conn.rollback()
        raise
    conn.commit()


@contextmanager
def _reading(conn: Connection) -> Iterator[Connection]:
    try:
        yield conn
    finally:
        _commit_reads(conn)


def _commit_reads(conn: Connection) -> None:
    """End the read transaction SQLAlchemy began (PostgreSQL: do not hold a snapshot)."""
    if conn.in_transaction() and conn.dialect.name != "sqlite":
        conn.commit()


@contextmanager
def _bulk_settings(conn: Connection) -> Iterator[Callable[[], None]]:
    """Settings of the builder's connection for the build; yields "checkpoint now".

    SQLite: pages are committed without an fsync each (a page lost to a power cut is lost
    with its tracking row, and folded again), with a larger page cache, and without SQLite's
    automatic checkpoint inside the commit: a :class:`_Checkpointer` thread copies each
    committed page from the WAL into the database while the next one is decoded and folded
    (a checkpoint does not hold the write lock; two fsyncs each, a fifth of a build's time
    when run in line). The WAL stays small, so no writer's commit inherits a checkpoint of
    the build's pages. Put back before the connection is reused.
    """
    if conn.dialect.name != "sqlite":
        yield lambda: None
        return
    cache = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    autocheckpoint = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
    secure = conn.exec_driver_sql("PRAGMA secure_delete").scalar()
    conn.exec_driver_sql("PRAGMA synchronous=NORMAL")
    conn.exec_driver_sql(f"PRAGMA cache_size=-{BUILD_CACHE_KIB}")
    conn.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
    conn.exec_driver_sql("PRAGMA secure_delete=OFF")  # see _drop_shadows
    checkpointer = _Checkpointer(conn.engine)
    try:
        yield checkpointer.request
    finally:
        checkpointer.stop()
        conn.exec_driver_sql(f"PRAGMA secure_delete={int(secure or 0)}")
        conn.exec_driver_sql(f"PRAGMA wal_autocheckpoint={int(autocheckpoint or 1000)}")
        conn.exec_driver_sql(f"PRAGMA cache_size={int(cache or -2000)}")
        conn.exec_driver_sql("PRAGMA synchronous=FULL")


class _Checkpointer:
    """A thread running SQLite's passive checkpoint whenever asked, on a connection of its
    own. The driver lets go of the GIL while SQLite works, so the copying and its fsyncs
    overlap the builder's decoding and folding. A writer's automatic checkpoint that finds
    one running returns at once; one that fails here is harmless (the next one, or any
    writer's, copies the same pages)."""

    def __init__(self, engine: Engine) -> None:
        self._raw = engine.raw_connection()  # SQLAlchemy's SQLite file connections may
        self._wanted = threading.Event()  # be used from another thread
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="mp-checkpoint", daemon=True)
        self._thread.start()

    def request(self) -> None:
        self._wanted.set()

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            if self._stopping:
                return
            try:
                cursor = self._raw.cursor()
                try:
                    cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
                finally:
                    cursor.close()
            except Exception:  # a busy or closed database: the next request tries again
                logger.debug("modelplane: checkpoint failed", exc_info=True)

    def stop(self) -> None:
        self._stopping = True
        self._wanted.set()
        self._thread.join(timeout=LEASE_SECONDS)
        self._raw.close()


def _checkpoint(conn: Connection) -> None:
    """SQLite: copy what was just committed from the WAL into the database (outside a
    build's pages, which the :class:`_Checkpointer` looks after)."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")


@contextmanager
def _builder_connection(engine: Engine) -> Iterator[Connection]:
    """The builder's connection. SQLite: in autocommit mode, so that reading the log takes
    no lock and each page's transaction begins with ``BEGIN IMMEDIATE`` (the write lock)."""
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        yield conn


def _create_build_table(engine: Engine) -> None:
    with engine.connect() as conn:
        if inspect(conn).has_table(builds.name):
            return
    with schema_transaction(engine) as ddl:
        builds.create(ddl, checkfirst=True)


def _live_fingerprint(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table(schema.name):
            return None
        return conn.execute(select(schema.c.fingerprint)).scalar()


def _build_status(engine: Engine, log: EventLog) -> str:
    """How far the build in progress got ("1,234 of 5,678 events folded"), if readable."""
    try:
        with engine.connect() as conn:
            head = log.head(conn)
            tag = conn.execute(select(builds.c.tag)).scalar()
            if not tag:
                return f"{head:,} events to fold"
            generation_tracking = Generation(tag).tracking
            done = conn.execute(select(func.min(generation_tracking.c.position))).scalar()
            return f"{int(done or 0):,} of {head:,} events folded"
    except DBAPIError:
        return "starting"
