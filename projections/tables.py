"""The read tables, as SQLAlchemy Core metadata, shared by SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both backends.

    PostgreSQL stores ``timestamptz``. SQLite has no such type: there the value is the ISO 8601
    text of the UTC time with microseconds (``2026-11-26T09:15:37.271010+00:00``), which sorts
    in time order and converts in C both ways (SQLAlchemy's own SQLite DATETIME parses each
    value with a regular expression, the largest cost of reading a page of versions).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(32))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is not UTC:
            value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.isoformat(timespec="microseconds")
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            return datetime.fromisoformat(value)
        return value if value.tzinfo is UTC else value.astimezone(UTC)


class JSONValue(TypeDecorator[Any]):
    """JSON documents: PostgreSQL's ``json``; on SQLite, TEXT converted with orjson.

    SQLite's own JSON column type has numeric affinity, which turns a bare JSON number such
    as a 30-digit integer into a lossy REAL; TEXT keeps exactly what was logged. Python's
    None is SQL NULL on both backends (not the JSON text ``null``), so ``IS NULL`` means the
    same on both.
    """

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Text())
        return dialect.type_descriptor(JSON(none_as_null=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if dialect.name == "sqlite" and value is not None:
            return orjson.loads(value)
        return value


#: Every read table (``create_all`` / ``drop_all`` make and drop the read side).
read_tables = MetaData()

ID = String(36)
NAME = String(255)
STAGE = String(16)


def _text(name: str) -> Column[Any]:
    return Column(name, Text, nullable=True)


models = Table(
    "mp_models",
    read_tables,
    Column("id", ID, primary_key=True),
    Column("name", NAME, nullable=False),
    _text("license"),
    _text("description"),
    _text("audience"),
    _text("use_cases"),
    _text("limitations"),
    _text("trade_offs"),
    _text("ethics"),
    Column("tags", JSONValue, nullable=False),
    Column("created", UTCDateTime, nullable=False),
    Column("updated", UTCDateTime, nullable=False),
    Column("created_by", NAME, nullable=False),
    Column("deleted", Boolean, nullable=False, default=False),
    Column("deleted_at", UTCDateTime, nullable=True),
    Column("registered_position", BigInteger, nullable=False),
    Column("deleted_position", BigInteger, nullable=True),
    # kept by the fold so that paging a model's versions never counts 100,000 rows
    Column("live_versions", Integer, nullable=False),
    # the highest-numbered live version, kept by the fold (``catalog``): showing a model's
    # latest version is one primary-key read, not a scan of its versions
    Column("latest_version_id", ID, nullable=True),
    # live models by name: a lookup by name, and pages of models one seek each (keyset)
    Index("mp_models_live_name", "deleted", "name"),
)

# Every name a model has had, from the position it took it: history and the event log stay
# reachable under old names after a rename.
model_names = Table(
    "mp_model_names",
    read_tables,
    Column("model_id", ID, primary_key=True),
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("name", NAME, nullable=False),
    # "which model had name N at position P": the greatest position <= P under N, one seek
    Index("mp_model_names_name", "name", "position"),
)

# The current tags of each live model, one row per tag, under the model's current name
# (kept by the fold on renames): ``list_models(tag=)`` reads a page of one tag's models in
# name order from one index range. A tag edit adds the whole new list at its position and
# drops the rows of earlier positions, so the rows come out the same however the events
# were batched; a model's deletion drops them.
model_tags = Table(
    "mp_model_tags",
    read_tables,
    Column("model_id", ID, primary_key=True),
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("tag", NAME, primary_key=True),
    Column("name", NAME, nullable=False),
    Index("mp_model_tags_tag", "tag", "name"),
)

versions = Table(
    "mp_model_versions",
    read_tables,
    Column("id", ID, primary_key=True),
    Column("model_id", ID, nullable=False),
    Column("number", Integer, nullable=False),
    Column("name", NAME, nullable=False),
    _text("description"),
    Column("tags", JSONValue, nullable=False),
    Column("stage", STAGE, nullable=False),
    Column("created", UTCDateTime, nullable=False),
    Column("updated", UTCDateTime, nullable=False),
    Column("created_by", NAME, nullable=False),
    Column("deleted", Boolean, nullable=False),
    Column("deleted_at", UTCDateTime, nullable=True),
    Column("created_position", BigInteger, nullable=False),
    Column("deleted_position", BigInteger, nullable=True),
    # where the version came from, as MLflow records it, fixed at creation (the run is
    # another system's, not a row of ``mp_runs``)
    _text("source"),
    _text("source_run_id"),
    _text("source_run_link"),
    Index("mp_versions_number", "model_id", "number", unique=True),
    Index("mp_versions_name", "model_id", "name"),
    # a model's live versions newest first (pages, the latest), past any deleted ones
    Index("mp_versions_live", "model_id", "deleted", "number"),
    # the same in one stage: ``list_model_versions(stage=)`` pages from one seek
    Index("mp_versions_stage", "model_id", "deleted", "stage", "number"),
    # the newest version created by a log position (time travel to ``latest``): numbers are
    # allocated in log order, so the greatest creation position <= P is the highest number
    Index("mp_versions_created", "model_id", "created_position"),
)

# The current tags of each live version (as ``mp_model_tags`` for models), with its model
# and number: ``list_model_versions(tag=)`` pages newest first from one index range.
version_tags = Table(
    "mp_version_tags",
    read_tables,
    Column("version_id", ID, primary_key=True),
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("tag", NAME, primary_key=True),
    Column("model_id", ID, nullable=False),
    Column("number", Integer, nullable=False),
    Index("mp_version_tags_tag", "model_id", "tag", "number"),
)

# Counts a listing's total would otherwise count row by row (``live_models``: one row),
# moved by the folds.
counters = Table(
    "mp_counters",
    read_tables,
    Column("name", String(32), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

# A version's name, description and tags over log positions, for time travel: one row per
# creation or update, holding the fields it set (NULL: unchanged by that event). The value of
# a field at position p is the one of the last row <= p where it is not NULL.
version_states = Table(
    "mp_version_states",
    read_tables,
    Column("version_id", ID, primary_key=True),
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("model_id", ID, nullable=False),
    Column("name", NAME, nullable=True),
    _text("description"),
    Column("tags", JSONValue, nullable=True),
    Index("mp_version_states_name", "model_id", "name"),
)

stage_changes = Table(
    "mp_stage_changes",
    read_tables,
    # a model's deletion releases both exclusive stages at one position
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("model_id", ID, nullable=False),
    Column("version_id", ID, primary_key=True),
    Column("version_name", NAME, nullable=False),
    Column("stage", STAGE, nullable=False),
    Column("previous_stage", STAGE, nullable=False),
    Column("displaced_version_id", ID, nullable=True),
    Column("displaced_version_name", NAME, nullable=True),
    Column("actor", NAME, nullable=False),
    _text("reason"),
    Column("timestamp", UTCDateTime, nullable=False),
    Index("mp_stage_changes_model", "model_id", "position"),
    Index("mp_stage_changes_version", "version_id", "position"),
)

# Who holds each exclusive stage of a model, as a step function of the log position: the
# holder at position p is the row with the greatest position <= p (version_id NULL = nobody).
stage_holders = Table(
    "mp_stage_holders",
    read_tables,
    Column("model_id", ID, primary_key=True),
    Column("stage", STAGE, primary_key=True),
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("version_id", ID, nullable=True),
)

#: ``Table.info`` key of the tables a read consults after a row's own tables (a model's or
#: version's aliases and key-value tags, read once its rows are known). On PostgreSQL a swap
#: of table generations drops the live tables one at a time, each lock held to its commit:
#: these go last (``generations._put_in_place``), so a reader that holds the rows' tables
#: and then asks for these never waits on a swap that waits on it (a deadlock). Reads keep
#: to that order: these tables after the others, never the others after these.
READ_LAST = "read_last"

# The aliases held now, one row per alias of a model. A set adds a row at its position and
# drops the alias's rows of earlier positions, a removal drops them all, so a set, a removal
# and a set again folded in one batch (inserts first) leave the last set's row.
aliases = Table(
    "mp_aliases",
    read_tables,
    Column("model_id", ID, primary_key=True),
    Column("alias", NAME, primary_key=True),
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("version_id", ID, nullable=False),
    Column("version_number", Integer, nullable=False),
    # a page of versions with their aliases: one range per version
    Index("mp_aliases_version", "version_id"),
    info={READ_LAST: True},
)

# Every set, move and removal of an alias: who, when, why, from which version to which
# (version_id NULL: removed). The holder of an alias at position p is the version of its last
# row <= p (time travel).
alias_history = Table(
    "mp_alias_history",
    read_tables,
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("model_id", ID, nullable=False),
    Column("alias", NAME, nullable=False),
    Column("version_id", ID, nullable=True),
    Column("version_number", Integer, nullable=True),
    Column("previous_version_id", ID, nullable=True),
    Column("previous_version_number", Integer, nullable=True),
    Column("actor", NAME, nullable=False),
    _text("reason"),
    Column("timestamp", UTCDateTime, nullable=False),
    Index("mp_alias_history_alias", "model_id", "alias", "position"),
    Index("mp_alias_history_model", "model_id", "position"),
    # the aliases a version held at a position: its rows, then each alias's last row then
    Index("mp_alias_history_version", "version_id", "position"),
    info={READ_LAST: True},
)

# Key-value tags (MLflow's) of models and of versions as they are now, one row per key, kept
# as ``mp_aliases`` is (a set adds its row and drops the key's older ones; a deletion drops
# them). A deleted model or version keeps its rows, as its row keeps its tags. Values may be
# 100,000 characters long: no index holds them (PostgreSQL's btree entries stop near 2.7 kB).
model_key_value_tags = Table(
    "mp_model_kv_tags",
    read_tables,
    Column("model_id", ID, primary_key=True),
    Column("key", NAME, primary_key=True),
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("value", Text, nullable=False),
    Index("mp_model_kv_tags_key", "key", "model_id"),
    info={READ_LAST: True},
)

version_key_value_tags = Table(
    "mp_version_kv_tags",
    read_tables,
    Column("version_id", ID, primary_key=True),
    Column("key", NAME, primary_key=True),
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("model_id", ID, nullable=False),
    Column("value", Text, nullable=False),
    Index("mp_version_kv_tags_key", "key", "model_id"),
    info={READ_LAST: True},
)

# Every set and deletion of a key-value tag of a model or version (value NULL: deleted), for
# time travel: a subject's tags at position p are the last row <= p of each key, if not NULL.
key_value_tag_history = Table(
    "mp_kv_tag_history",
    read_tables,
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("subject_id", ID, nullable=False),
    Column("key", NAME, nullable=False),
    Column("value", Text, nullable=True),
    Index("mp_kv_tag_history_subject", "subject_id", "key", "position"),
    info={READ_LAST: True},
)

# Metadata of model versions, artifact versions and runs: every value ever logged per key
# (the latest is the current one), with who logged it and from which run and step.
metadata_values = Table(
    "mp_metadata",
    read_tables,
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("key", String(255), primary_key=True),
    Column("subject_kind", String(16), nullable=False),
    Column("subject_id", ID, nullable=False),
    Column("model_id", ID, nullable=True),
    Column("run_id", ID, nullable=True),
    Column("step", NAME, nullable=True),
    Column("value", JSONValue, nullable=True),
    Column("actor", NAME, nullable=False),
    Column("timestamp", UTCDateTime, nullable=False),
    Index("mp_metadata_subject_key", "subject_id", "key", "position"),
)

artifacts = Table(
    "mp_artifacts",
    read_tables,
    Column("id", ID, primary_key=True),
    Column("name", NAME, nullable=False, unique=True),
    Column("created", UTCDateTime, nullable=False),
    Column("created_by", NAME, nullable=False),
    Column("latest_number", Integer, nullable=False),
)

artifact_versions = Table(
    "mp_artifact_versions",
    read_tables,
    Column("id", ID, primary_key=True),
    Column("artifact_id", ID, nullable=False),
    Column("name", NAME, nullable=False),
    Column("number", Integer, nullable=False),
    Column("uri", Text, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("materializer", String(255), nullable=False),
    Column("data_type", String(512), nullable=False),
    Column("artifact_type", String(16), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("run_id", ID, nullable=True),
    Column("step", NAME, nullable=True),
    Column("tags", JSONValue, nullable=False),
    Column("warnings", JSONValue, nullable=False),
    Column("created", UTCDateTime, nullable=False),
    Column("created_by", NAME, nullable=False),
    Column("position", BigInteger, nullable=False),
    Index("mp_artifact_versions_number", "artifact_id", "number", unique=True),
    Index("mp_artifact_versions_run", "run_id"),
    # pages newest first, of every artifact or of one name (keyset on the position)
    Index("mp_artifact_versions_position", "position"),
    Index("mp_artifact_versions_name", "name", "position"),
)

# model version <-> artifact version, as data, model or deployment artifact
artifact_links = Table(
    "mp_artifact_links",
    read_tables,
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("model_id", ID, nullable=False),
    Column("model_version_id", ID, nullable=False),
    Column("artifact_id", ID, nullable=False),
    Column("artifact_name", NAME, nullable=False),
    Column("artifact_version_id", ID, nullable=False),
    Column("artifact_version_number", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("run_id", ID, nullable=True),
    Column("step", NAME, nullable=True),
    Column("actor", NAME, nullable=False),
    Column("timestamp", UTCDateTime, nullable=False),
    Index("mp_artifact_links_version", "model_version_id", "artifact_name", "position"),
    Index("mp_artifact_links_artifact", "artifact_version_id"),
)

runs = Table(
    "mp_runs",
    read_tables,
    Column("id", ID, primary_key=True),
    Column("name", NAME, nullable=False),
    Column("pipeline", NAME, nullable=False),
    Column("status", String(16), nullable=False),
    Column("model_id", ID, nullable=True),
    Column("model_version_id", ID, nullable=True),
    Column("model_version_how", String(16), nullable=True),
    Column("stage", STAGE, nullable=True),
    Column("parameters", JSONValue, nullable=False),
    Column("error", Text, nullable=True),
    Column("started", UTCDateTime, nullable=False),
    Column("finished", UTCDateTime, nullable=True),
    # the run's last sign of life (start, a step, the end): a running run silent for too
    # long is shown as stale
    Column("updated", UTCDateTime, nullable=False),
    Column("created_by", NAME, nullable=False),
    Column("position", BigInteger, nullable=False),
    # pages newest first (keyset on the position): of every run, a model's, a version's
    Index("mp_runs_position", "position"),
    Index("mp_runs_model", "model_id", "position"),
    Index("mp_runs_model_version", "model_version_id", "position"),
    Index("mp_runs_started", "started"),
)

# one row per finished step; inputs/outputs map names to artifact version ids
run_steps = Table(
    "mp_run_steps",
    read_tables,
    Column("run_id", ID, primary_key=True),
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("step", NAME, nullable=False),
    Column("status", String(16), nullable=False),
    Column("inputs", JSONValue, nullable=False),
    Column("outputs", JSONValue, nullable=False),
    Column("duration_ms", Float, nullable=False),
    Column("error", Text, nullable=True),
    Column("finished", UTCDateTime, nullable=False),
)

# which runs read which artifact versions (the consuming side of lineage)
artifact_consumers = Table(
    "mp_artifact_consumers",
    read_tables,
    Column("artifact_version_id", ID, primary_key=True),
    Column("run_id", ID, primary_key=True),
    Column("step", NAME, primary_key=True),
    Column("input_name", NAME, primary_key=True),
    Column("position", BigInteger, nullable=False),
    Index("mp_artifact_consumers_run", "run_id"),
)

event_index = Table(
    "mp_event_index",
    read_tables,
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("model_id", ID, nullable=True),
    # the pipeline run an event belongs to or was made in (a model's feed includes its runs)
    Column("run_id", ID, nullable=True),
    # the artifact version an artifact event is about (a model's feed includes its artifacts)
    Column("artifact_version_id", ID, nullable=True),
    Column("type", String(64), nullable=False),
    Column("actor", NAME, nullable=True),
    Column("timestamp", UTCDateTime, nullable=False),
    Index("mp_event_index_model", "model_id", "position"),
    Index("mp_event_index_run", "run_id", "position"),
    Index("mp_event_index_artifact", "artifact_version_id", "position"),
    # the last position at or before a time (``at=<datetime>``): one seek, backwards
    Index("mp_event_index_time", "timestamp", "position"),
)

# API tokens, one row per token ever issued (a name issued again after a revocation has a
# row per token): the server authenticates each request by one primary-key read here, so a
# revocation holds from the next request on every worker. ``digest`` is the hex sha256 of
# the token's secret; the secret itself is stored nowhere.
api_tokens = Table(
    "mp_api_tokens",
    read_tables,
    Column("token_id", ID, primary_key=True),
    Column("name", NAME, nullable=False),
    Column("role", String(16), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("created", UTCDateTime, nullable=False),
    Column("created_by", NAME, nullable=False),
    Column("revoked", UTCDateTime, nullable=True),
    Column("revoked_by", NAME, nullable=True),
    # the log position of the issue: listings newest first
    Column("position", BigInteger, nullable=False),
    Index("mp_api_tokens_name", "name"),
)

# Webhooks, one row per registration, never deleted: a removal stamps the row. The deliverer
# of every server process reads the live ones each poll. The signing secret is not here (a
# read table is dropped and refolded from the log, which never holds it): see
# ``modelplane.webhooks.tables``.
webhooks = Table(
    "mp_webhooks",
    read_tables,
    Column("id", ID, primary_key=True),
    Column("url", Text, nullable=False),
    Column("events", JSONValue, nullable=False),
    Column("model", NAME, nullable=True),
    Column("secret_sha256", String(64), nullable=False),
    Column("created", UTCDateTime, nullable=False),
    Column("created_by", NAME, nullable=False),
    Column("removed", UTCDateTime, nullable=True),
    Column("removed_by", NAME, nullable=True),
    Column("removed_reason", Text, nullable=True),
    # the log position of the registration: deliveries start after it; listings newest first
    Column("position", BigInteger, nullable=False),
)

# The newest event time handed out, in microseconds since the epoch (one row): the write
# that takes the log's lock moves it forward and reads it back in one statement
# (``projections.clock``). Not a projection's table: a rebuild leaves it as it is.
clock = Table(
    "mp_clock",
    read_tables,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("micros", BigInteger, nullable=False),
)

tracking = Table(
    "mp_tracking",
    read_tables,
    Column("projection", String(64), primary_key=True),
    Column("position", BigInteger, nullable=False),
)

# The fingerprint of the table definitions the read tables were built with. The read side is
# derived data: when the code's tables differ (an upgrade), they are dropped, created anew
# and refolded from the log, instead of being migrated.
schema = Table(
    "mp_schema",
    read_tables,
    Column("fingerprint", String(64), primary_key=True),
)


def fingerprint() -> str:
    """A hash of every read table's columns, types, keys and indexes."""
    parts: list[str] = []
    for table in read_tables.sorted_tables:
        parts.append(f"table {table.name}")
        for column in table.columns:
            parts.append(
                f"  {column.name} {column.type!r} pk={column.primary_key} null={column.nullable}"
            )
        for index in sorted(table.indexes, key=lambda i: str(i.name)):
            parts.append(f"  index {index.name} {[c.name for c in index.columns]} {index.unique}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


FINGERPRINT = fingerprint()
