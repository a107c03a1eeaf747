"""The rules ``ModelVersion`` and ``Artifact`` keep on their own, without a store."""

from __future__ import annotations

from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelplane.domain.artifact import Artifact
from modelplane.domain.errors import EntityDeletedError, NotFoundError, ValidationError
from modelplane.domain.model_version import ModelVersion
from tests.unit.stored_value import Stored


def a_version(**overrides: object) -> ModelVersion:
    fields: dict[str, object] = {
        "model_id": str(uuid4()),
        "number": 1,
        "name": "1",
        "description": None,
        "tags": ["a"],
        "actor": "me",
    }
    version = ModelVersion(**{**fields, **overrides})
    version.collect_events()
    return version


def an_artifact(versions: int = 1) -> tuple[Artifact, list[str]]:
    item = Artifact(name="weights", actor="me")
    ids = [str(item.record_version(Stored(), actor="me")[0]) for _ in range(versions)]
    item.collect_events()
    return item, ids


def test_artifact_versions_are_numbered_in_order() -> None:
    item = Artifact(name="weights", actor="me")
    recorded = [item.record_version(Stored(), tags=["t"], step="train", actor="me")]
    recorded.append(item.record_version(Stored(warnings=["lossy"]), actor="me"))
    assert [number for _, number in recorded] == [1, 2]
    events = item.collect_events()
    assert [type(e).__name__ for e in events] == [
        "Registered",
        "VersionRecorded",
        "VersionRecorded",
    ]
    assert events[1].version_id == str(recorded[0][0])  # type: ignore[attr-defined]
    assert (events[1].step, events[1].tags) == ("train", ["t"])  # type: ignore[attr-defined]
    assert events[2].warnings == ["lossy"]  # type: ignore[attr-defined]
    assert item.version_number(recorded[1][0], 2) == 2
    assert recorded[1][0] == item.version_id_for(2) and item.numbers == {}


def test_an_artifact_knows_its_versions_without_a_map_of_their_ids() -> None:
    """Ids are derived from the number: a version id is checked against the number given,
    and only versions recorded with random ids (before) are kept in a map."""
    item, ids = an_artifact(3)
    assert item.numbers == {}
    for wrong in ((ids[0], 2), (ids[2], 4), (ids[1], 0), (str(uuid4()), 1)):
        with pytest.raises(NotFoundError):
            item.version_number(*wrong)
    other, (theirs,) = an_artifact()
    assert (other.id, theirs) == (item.id, ids[0])  # one name: one artifact, the same ids
    stranger = Artifact(name="other", actor="me")
    stranger.record_version(Stored(), actor="me")
    with pytest.raises(NotFoundError):
        item.version_number(stranger.version_id_for(1), 1)


def test_a_version_recorded_with_a_random_id_is_still_known() -> None:
    item, _ = an_artifact(1)
    legacy = str(uuid4())
    item._record_version(  # as a VersionRecorded event written before ids were derived
        name="weights", version_id=legacy, number=2, uri="u", content_hash="h",
        materializer="m", data_type="d", artifact_type="DataArtifact", size_bytes=1,
        run_id=None, step=None, tags=[], warnings=[], actor="me",
    )  # fmt: skip
    assert item.numbers == {legacy: 2} and item.version_number(legacy, 2) == 2
    with pytest.raises(NotFoundError):
        item.version_number(legacy, 1)


def test_artifact_metadata_is_refused_for_a_version_of_another_artifact() -> None:
    item, (mine,) = an_artifact()
    stranger = uuid4()
    with pytest.raises(NotFoundError) as raised:
        item.log_metadata(stranger, {"k": 1}, number=1, actor="me")
    assert str(raised.value) == f"Artifact 'weights' has no version 1 with id '{stranger}'."
    item.log_metadata(mine, {"k": 1}, number=1, actor="me")
    assert [type(e).__name__ for e in item.collect_events()] == ["MetadataLogged"]


def test_a_link_is_appended_once_and_again_for_a_new_kind() -> None:
    version = a_version()
    item, (artifact_version,) = an_artifact()
    assert version.link_artifact(item, artifact_version, number=1, kind="model", actor="me")
    assert not version.link_artifact(item, artifact_version, number=1, kind="model", actor="me")
    assert version.link_artifact(item, artifact_version, number=1, kind="deployment", actor="me")
    linked = version.collect_events()
    assert [e.kind for e in linked] == ["model", "deployment"]  # type: ignore[attr-defined]
    assert linked[0].artifact_version_number == 1  # type: ignore[attr-defined]
    assert linked[0].artifact_name == "weights"  # type: ignore[attr-defined]


@given(links=st.lists(st.tuples(st.integers(0, 2), st.sampled_from(["data", "model"]))))
def test_linking_is_idempotent_whatever_the_order(links: list[tuple[int, str]]) -> None:
    """Each link is appended exactly when it differs from the one in place for that version."""
    version = a_version()
    item, ids = an_artifact(3)
    current: dict[str, str] = {}
    for index, kind in links:
        appended = version.link_artifact(item, ids[index], number=index + 1, kind=kind, actor="me")
        assert appended == (current.get(ids[index]) != kind)
        current[ids[index]] = kind
    assert len(version.collect_events()) == sum(1 for _ in _changes(links))
    assert version.links == current


def _changes(links: list[tuple[int, str]]) -> list[tuple[int, str]]:
    seen: dict[int, str] = {}
    changes = []
    for index, kind in links:
        if seen.get(index) != kind:
            changes.append((index, kind))
        seen[index] = kind
    return changes


def test_a_link_needs_a_known_artifact_version_and_kind() -> None:
    version = a_version()
    item, (artifact_version,) = an_artifact()
    with pytest.raises(NotFoundError, match="has no version 1 with id"):
        version.link_artifact(item, uuid4(), number=1, kind="data", actor="me")
    with pytest.raises(ValidationError, match="'weights' is not a link kind"):
        version.link_artifact(item, artifact_version, number=1, kind="weights", actor="me")
    assert version.collect_events() == []


def test_a_deleted_version_refuses_metadata_links_edits_and_a_second_delete() -> None:
    version = a_version(name="rc")
    item, (artifact_version,) = an_artifact()
    version.delete(actor="me")
    version.collect_events()
    refused = [
        lambda: version.log_metadata({"k": 1}, actor="me"),
        lambda: version.link_artifact(item, artifact_version, number=1, kind="data", actor="me"),
        lambda: version.update(description="x", actor="me"),
        lambda: version.delete(actor="me"),
    ]
    for command in refused:
        with pytest.raises(EntityDeletedError, match=r"Version 'rc' .* was deleted"):
            command()
    assert version.collect_events() == []


def test_an_update_appends_only_what_changes() -> None:
    version = a_version(description="old")
    assert not version.update(description="old", add_tags=["a"], actor="me")
    assert version.update(description="new", add_tags=["b"], remove_tags=["a"], actor="me")
    (updated,) = version.collect_events()
    assert updated.changes == {"description": "new", "tags": ["b"]}  # type: ignore[attr-defined]
    assert (version.description, version.tags) == ("new", ["b"])


def test_metadata_names_the_run_and_step_that_logged_it() -> None:
    version = a_version()
    run_id = uuid4()
    version.log_metadata({"acc": 0.9}, run_id=run_id, step="eval", actor="me")
    (logged,) = version.collect_events()
    assert (logged.run_id, logged.step, logged.model_id) == (  # type: ignore[attr-defined]
        str(run_id),
        "eval",
        version.model_id,
    )
