"""One-line summaries of logged events, for ``modelplane events``.

The raw payload of an event is written for replay, not for people: ids instead of names, a
dict of changed fields, bookkeeping such as ``class_version``. A summary says what happened
in the words of the CLI (``version '3' none -> production (displaced '2')``), naming the
model, version, run or artifact involved. Names the event itself does not carry are read
from the read tables (cached per listing); a name that cannot be found is left out rather
than failing the listing.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any
from uuid import UUID

from modelplane.domain.errors import RegistryError
from modelplane.responses import LoggedEvent

from . import render

if TYPE_CHECKING:
    from modelplane.backend.interface import Backend

#: Payload fields that are bookkeeping of the event store, never shown.
INTERNAL_FIELDS = ("class_version", "originator_topic")
#: Bookkeeping of the write side, each repeating an event next to it: the name indexes
#: (beside a registration, a deletion, a version added, renamed or deleted) and a version's
#: own copy of its stage (beside ``Model.StageChanged``).
BOOKKEEPING_PREFIXES = ("ModelName.", "VersionName.", "ModelVersion.StageSet")
#: Events of one transaction are this close in the log (a forced promotion with a rename is
#: the largest: the version's edit and stage, the model's rename and two moves, the displaced
#: version's stage, and the old and new name entries).
_SAME_TRANSACTION = 10


def public_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload without the event store's bookkeeping fields."""
    return {k: v for k, v in payload.items() if k not in INTERNAL_FIELDS}


def is_bookkeeping(event: LoggedEvent) -> bool:
    return event.type.startswith(BOOKKEEPING_PREFIXES)


class Describer:
    """Summaries and actors of the events of one listing, with the lookups they need cached."""

    def __init__(self, backend: Backend, *, show_model: bool) -> None:
        self.backend = backend
        self.show_model = show_model
        self._model_names: dict[str, list[tuple[int, str]]] = {}
        self._versions: dict[str, str | None] = {}
        self._runs: dict[str, tuple[str, str] | None] = {}
        self._artifacts: dict[str, str | None] = {}

    # ------------------------------------------------------------------ actors

    def actor(self, event: LoggedEvent, batch: Sequence[LoggedEvent]) -> str:
        """Who did it: the event's actor, else its run's, else its transaction's, else ``-``.

        Name index events and step events carry no actor of their own.
        """
        if event.actor:
            return event.actor
        if event.type.startswith("PipelineRun."):
            run = self._run(str(event.originator_id))
            if run is not None:
                return run[1]
        neighbours = [
            other
            for other in batch
            if other.actor
            and other.timestamp == event.timestamp
            and abs(other.position - event.position) <= _SAME_TRANSACTION
        ]
        if neighbours:
            return min(neighbours, key=lambda o: abs(o.position - event.position)).actor or "-"
        return "-"

    # --------------------------------------------------------------- summaries

    def summary(self, event: LoggedEvent) -> str:
        """One line saying what the event did; unknown types show their payload."""
        describe = _SUMMARIES.get(event.type)
        payload = event.payload
        if describe is None:
            return render.payload(public_payload(payload))
        try:
            text = describe(self, event, payload)
        except (KeyError, TypeError, ValueError, AttributeError):
            return render.payload(public_payload(payload))
        if self.show_model and event.model_id is not None and event.type not in _SELF_NAMING:
            name = self._model_name(str(event.model_id), event.position)
            if name is not None:
                text = f"{name}: {text}"
        return text

    # ----------------------------------------------------------------- lookups

    def _model_name(self, model_id: str, position: int) -> str | None:
        """The model's name at ``position`` (names change with renames)."""
        if model_id not in self._model_names:
            self._model_names[model_id] = self.backend.model_name_history(UUID(model_id))
        names = self._model_names[model_id]
        index = bisect.bisect_right(names, (position, "\U0010ffff"))
        if index:
            return names[index - 1][1]
        return names[0][1] if names else None

    def _version(self, version_id: str) -> str | None:
        """A version's number, as text (numbers never change, names may)."""
        if version_id not in self._versions:
            try:
                version = self.backend.get_model_version_by_id(version_id, deleted_ok=True)
                self._versions[version_id] = str(version.number)
            except RegistryError:
                self._versions[version_id] = None
        return self._versions[version_id]

    def _run(self, run_id: str) -> tuple[str, str] | None:
        """A run's name and the actor who started it (step events carry no actor)."""
        if run_id not in self._runs:
            try:
                run = self.backend.get_pipeline_run(UUID(run_id))
                self._runs[run_id] = (run.name, run.user)
            except RegistryError:
                self._runs[run_id] = None
        return self._runs[run_id]

    def _artifact(self, artifact_id: str) -> str | None:
        if artifact_id not in self._artifacts:
            self._artifacts[artifact_id] = self.backend.artifact_name(artifact_id)
        return self._artifacts[artifact_id]

    def version_label(self, event: LoggedEvent, version_id: str | None = None) -> str:
        """``version 3`` for the event's own version, or the version ``version_id``."""
        number = self._version(version_id or str(event.originator_id))
        return "version" if number is None else f"version {number}"

    @staticmethod
    def run_label(event: LoggedEvent) -> str:
        """``run 1a2b3c4d``: run names are long (pipeline and start time); an id prefix is
        short, and ``modelplane run describe`` takes it."""
        return f"run {_short(event.originator_id)}"


# ------------------------------------------------------------------ per event type


def _keys(metadata: dict[str, Any]) -> str:
    return ", ".join(sorted(metadata)) or "(none)"


def _reason(reason: str | None) -> str:
    return f", reason: {reason}" if reason else ""


def _where(payload: dict[str, Any]) -> str:
    """`` (step 'train')`` for events logged inside a step."""
    return f" (step '{payload['step']}')" if payload.get("step") else ""


def _tags(tags: list[str]) -> str:
    return f", tags: {', '.join(tags)}" if tags else ""


def _changes(changes: dict[str, Any]) -> str:
    parts = []
    if "name" in changes:
        parts.append(f"renamed to '{changes['name']}'")
    if "tags" in changes:
        parts.append(f"tags now: {', '.join(changes['tags']) or '(none)'}")
    others = sorted(k for k in changes if k not in ("name", "tags"))
    if others:
        parts.append(f"{', '.join(others)} changed")
    return "; ".join(parts) or "nothing changed"


def _version_name(name: str, number: int) -> str:
    return f"version {number}" if name == str(number) else f"version '{name}' ({number})"


def _short(value: object) -> str:
    return str(value)[:8]


#: The reason the registry gives a holder it archives to make room for a forced promotion.
_DISPLACED_REASON = re.compile(r"displaced from \w+ by version '(?P<by>.*?)'(?:: (?P<why>.*))?\Z")


def _stage_changed(d: Describer, e: LoggedEvent, p: dict[str, Any]) -> str:
    text = f"version '{p['version_name']}' {p['previous_stage']} -> {p['stage']}"
    if p.get("displaced_version_name"):
        text += f" (displaced '{p['displaced_version_name']}')"
    reason = p.get("reason")
    displaced = _DISPLACED_REASON.match(reason or "")
    if displaced:  # the other half of a forced promotion: say it in as few words
        text += f" (displaced by '{displaced['by']}')"
        reason = displaced["why"]
    return text + _reason(reason)


def _version_deleted(d: Describer, e: LoggedEvent, p: dict[str, Any]) -> str:
    was = f" (was in {p['stage']})" if p.get("stage") not in (None, "none") else ""
    return f"version '{p['version_name']}' deleted{was}{_reason(p.get('reason'))}"


def _model_deleted(d: Describer, e: LoggedEvent, p: dict[str, Any]) -> str:
    held = ", ".join(f"{h['stage']}: '{h['version_name']}'" for h in p.get("holders") or [])
    return f"model deleted{f' ({held})' if held else ''}{_reason(p.get('reason'))}"


def _artifact_linked(d: Describer, e: LoggedEvent, p: dict[str, Any]) -> str:
    return (
        f"artifact '{p['artifact_name']}' version {p['artifact_version_number']} linked to "
        f"{d.version_label(e)} as {p['kind']}"
    )


def _artifact_metadata(d: Describer, e: LoggedEvent, p: dict[str, Any]) -> str:
    name = d._artifact(str(e.originator_id))
    which = "artifact" if name is None else f"artifact '{name}'"
    return f"{which} metadata: {_keys(p['metadata'])}{_where(p)}"


def _step_finished(d: Describer, e: LoggedEvent, p: dict[str, Any]) -> str:
    error = f": {p['error']}" if p.get("error") else ""
    return f"{d.run_label(e)} step '{p['step']}' {p['status']}{error}"


def _run_finished(d: Describer, e: LoggedEvent, p: dict[str, Any]) -> str:
    error = f": {p['error']}" if p.get("error") else ""
    return f"{d.run_label(e)} {p['status']}{error}"


def _alias_set(d: Describer, e: LoggedEvent, p: dict[str, Any]) -> str:
    text = f"alias '{p['alias']}' -> version {p['version_number']}"
    if p.get("previous_version_number") is not None:
        text += f" (moved from version {p['previous_version_number']})"
    return text + _reason(p.get("reason"))


def _alias_removed(d: Describer, e: LoggedEvent, p: dict[str, Any]) -> str:
    text = f"alias '{p['alias']}' removed from version {p['version_number']}"
    return text + _reason(p.get("reason"))


#: A key-value tag's value is shown up to this many characters (values may hold 100,000).
_SHOWN_VALUE = 60


def _value(value: str) -> str:
    shown = value if len(value) <= _SHOWN_VALUE else value[:_SHOWN_VALUE] + "..."
    return repr(shown)


Summary = Callable[[Describer, LoggedEvent, dict[str, Any]], str]

_SUMMARIES: dict[str, Summary] = {
    "Model.Registered": lambda d, e, p: f"model '{p['name']}' registered{_tags(p['tags'])}",
    "Model.Updated": lambda d, e, p: f"model {_changes(p['changes'])}",
    "Model.Deleted": _model_deleted,
    "Model.VersionAdded": lambda d, e, p: f"{_version_name(p['name'], p['number'])} added",
    "Model.VersionRenamed": lambda d, e, p: (
        f"version '{p['old_name']}' renamed to '{p['new_name']}'"
    ),
    "Model.VersionDeleted": _version_deleted,
    "Model.StageChanged": _stage_changed,
    "Model.AliasSet": _alias_set,
    "Model.AliasRemoved": _alias_removed,
    "Model.KeyValueTagSet": lambda d, e, p: f"model tag '{p['key']}' = {_value(p['value'])}",
    "Model.KeyValueTagDeleted": lambda d, e, p: f"model tag '{p['key']}' deleted",
    "ModelName.Created": lambda d, e, p: f"name '{p['name']}' entered in the name index",
    "ModelName.Claimed": lambda d, e, p: f"name taken by model {_short(p['model_id'])}",
    "ModelName.Released": lambda d, e, p: f"name freed by model {_short(p['model_id'])}",
    "VersionName.Created": lambda d, e, p: f"version name '{p['name']}' entered in the index",
    "VersionName.Claimed": lambda d, e, p: (
        f"version name taken by {d.version_label(e, p['version_id'])}"
    ),
    "VersionName.Released": lambda d, e, p: (
        f"version name freed by {d.version_label(e, p['version_id'])}"
    ),
    "ModelVersion.StageSet": lambda d, e, p: f"{d.version_label(e)} now in {p['stage']}",
    "ModelVersion.Created": lambda d, e, p: (
        f"{_version_name(p['name'], p['number'])} created{_tags(p['tags'])}"
    ),
    "ModelVersion.Updated": lambda d, e, p: f"{d.version_label(e)} {_changes(p['changes'])}",
    "ModelVersion.MetadataLogged": lambda d, e, p: (
        f"{d.version_label(e)} metadata: {_keys(p['metadata'])}{_where(p)}"
    ),
    "ModelVersion.ArtifactLinked": _artifact_linked,
    "ModelVersion.Deleted": lambda d, e, p: f"{d.version_label(e)} deleted",
    "ModelVersion.KeyValueTagSet": lambda d, e, p: (
        f"{d.version_label(e)} tag '{p['key']}' = {_value(p['value'])}"
    ),
    "ModelVersion.KeyValueTagDeleted": lambda d, e, p: (
        f"{d.version_label(e)} tag '{p['key']}' deleted"
    ),
    "Artifact.Registered": lambda d, e, p: f"artifact '{p['name']}' registered",
    "Artifact.VersionRecorded": lambda d, e, p: (
        f"artifact '{p['name']}' version {p['number']} saved{_where(p)}"
    ),
    "Artifact.MetadataLogged": _artifact_metadata,
    "PipelineRun.Started": lambda d, e, p: (
        f"{d.run_label(e)} of pipeline '{p['pipeline']}' started"
    ),
    "PipelineRun.StepFinished": _step_finished,
    "PipelineRun.MetadataLogged": lambda d, e, p: (
        f"{d.run_label(e)} metadata: {_keys(p['metadata'])}{_where(p)}"
    ),
    "PipelineRun.Finished": _run_finished,
    "ApiToken.Issued": lambda d, e, p: f"token '{p['name']}' issued (role {p['role']})",
    "ApiToken.Revoked": lambda d, e, p: f"token '{p['name']}' revoked{_reason(p.get('reason'))}",
}

#: Summaries that already name their model (or have none to name).
_SELF_NAMING = frozenset(
    {"Model.Registered", "ModelName.Created", "ModelName.Claimed", "ModelName.Released"}
)
