"""A model's or version's labels beside its row: its aliases and key-value tags.

Every model and version the SDK answers carries them, so they are read in one prebuilt
statement for a whole page of rows (a ``UNION ALL`` of the alias rows and the tag rows, by
id): one round trip, and no statement built per call. Versions can be read as of a log
position too, from the alias and tag histories. These tables are read after the rows' own,
never before them (``tables.READ_LAST``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Connection,
    Integer,
    Text,
    bindparam,
    cast,
    literal_column,
    null,
    select,
    union_all,
)

from ..tables import (
    alias_history,
    aliases,
    key_value_tag_history,
    model_key_value_tags,
    version_key_value_tags,
)

A, AH, KH = aliases.c, alias_history.c, key_value_tag_history.c
MK, VK = model_key_value_tags.c, version_key_value_tags.c

#: The most ids one ``IN`` list carries (a page may hold 10,000 versions).
CHUNK = 500

_ALIAS: ColumnElement[int] = literal_column("0", Integer)
_TAG: ColumnElement[int] = literal_column("1", Integer)
_ids: BindParameter[str] = bindparam("ids", expanding=True)
_P = bindparam("position", type_=AH.position.type)
_no_number = cast(null(), Integer)
_no_value = cast(null(), Text)

_later_alias = alias_history.alias("later_alias")
_later_tag = key_value_tag_history.alias("later_tag")

_models_now = union_all(
    select(A.model_id, _ALIAS, A.alias, A.version_number, _no_value).where(A.model_id.in_(_ids)),
    select(MK.model_id, _TAG, MK.key, _no_number, MK.value).where(MK.model_id.in_(_ids)),
)
_versions_now = union_all(
    select(A.version_id, _ALIAS, A.alias, _no_value).where(A.version_id.in_(_ids)),
    select(VK.version_id, _TAG, VK.key, VK.value).where(VK.version_id.in_(_ids)),
)
# At a position: each alias's last change up to it, if it left the alias on the version;
# each key's last change up to it, if it was not a deletion.
_versions_then = union_all(
    select(AH.version_id, _ALIAS, AH.alias, _no_value).where(
        AH.version_id.in_(_ids),
        AH.position <= _P,
        ~select(_later_alias.c.position)
        .where(
            _later_alias.c.model_id == AH.model_id,
            _later_alias.c.alias == AH.alias,
            _later_alias.c.position > AH.position,
            _later_alias.c.position <= _P,
        )
        .exists(),
    ),
    select(KH.subject_id, _TAG, KH.key, KH.value).where(
        KH.subject_id.in_(_ids),
        KH.position <= _P,
        KH.value.is_not(None),
        ~select(_later_tag.c.position)
        .where(
            _later_tag.c.subject_id == KH.subject_id,
            _later_tag.c.key == KH.key,
            _later_tag.c.position > KH.position,
            _later_tag.c.position <= _P,
        )
        .exists(),
    ),
)


@dataclass
class VersionLabels:
    #: the aliases that name the version, sorted
    aliases: list[str] = field(default_factory=list)
    key_value_tags: dict[str, str] = field(default_factory=dict)


@dataclass
class ModelLabels:
    #: alias -> the number of the version it names, by alias
    aliases: dict[str, int] = field(default_factory=dict)
    key_value_tags: dict[str, str] = field(default_factory=dict)


def version_labels(
    conn: Connection, version_ids: Sequence[str], position: int | None = None
) -> dict[str, VersionLabels]:
    """Version id -> its aliases and key-value tags, now or at a log position (versions
    without any are left out)."""
    found: dict[str, VersionLabels] = {}
    for chunk in chunks(version_ids):
        if position is None:
            rows = conn.execute(_versions_now, {"ids": chunk})
        else:
            rows = conn.execute(_versions_then, {"ids": chunk, "position": position})
        for subject, kind, name, value in rows:
            labels = found.setdefault(str(subject), VersionLabels())
            if int(kind) == 0:
                labels.aliases.append(str(name))
            else:
                labels.key_value_tags[str(name)] = str(value)
    for labels in found.values():
        labels.aliases.sort()
        labels.key_value_tags = dict(sorted(labels.key_value_tags.items()))
    return found


def model_labels(conn: Connection, model_ids: Sequence[str]) -> dict[str, ModelLabels]:
    """Model id -> its aliases (with their versions' numbers) and key-value tags now
    (models without any are left out)."""
    found: dict[str, ModelLabels] = {}
    for chunk in chunks(model_ids):
        for subject, kind, name, number, value in conn.execute(_models_now, {"ids": chunk}):
            labels = found.setdefault(str(subject), ModelLabels())
            if int(kind) == 0:
                labels.aliases[str(name)] = int(number)
            else:
                labels.key_value_tags[str(name)] = str(value)
    for labels in found.values():
        labels.aliases = dict(sorted(labels.aliases.items()))
        labels.key_value_tags = dict(sorted(labels.key_value_tags.items()))
    return found


def chunks(ids: Sequence[str]) -> list[list[str]]:
    """The distinct ids in lists of at most ``CHUNK``, each one ``IN`` list."""
    unique = list(dict.fromkeys(ids))
    return [unique[i : i + CHUNK] for i in range(0, len(unique), CHUNK)]
