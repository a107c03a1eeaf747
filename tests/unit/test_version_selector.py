"""``VersionSelector``: the one parse of what picks a model version, now or at a position."""

from __future__ import annotations

from uuid import uuid4

import pytest

from modelplane.domain.errors import ValidationError
from modelplane.enums import ModelStages
from modelplane.projections.queries.selectors import VersionSelector


@pytest.mark.parametrize(
    ("value", "kind", "stage", "number"),
    [
        (None, "latest", "latest", None),
        ("Latest", "latest", "latest", None),
        (ModelStages.LATEST, "latest", "latest", None),
        (ModelStages.PRODUCTION, "stage", "production", None),
        ("STAGING", "stage", "staging", None),
        ("archived", "stage", "archived", None),
        (3, "number", None, 3),
        ("007", "number", None, 7),
        ("1.2.3", "name", None, None),
        ("prod", "name", None, None),
        (True, "name", None, None),  # a bool is not a number
    ],
)
def test_each_kind_is_parsed(
    value: object, kind: str, stage: str | None, number: int | None
) -> None:
    picked = VersionSelector.parse(value)
    assert (picked.kind, picked.stage, picked.number) == (kind, stage, number)
    assert picked.text == str(value)


def test_a_uuid_is_an_id_tried_after_the_name() -> None:
    uid = uuid4()
    for value in (uid, str(uid), uid.hex):
        picked = VersionSelector.parse(value)
        assert (picked.kind, picked.id, picked.text) == ("id", uid, str(value))


def test_only_staging_and_production_pick_one_holder() -> None:
    exclusive = {s.value: VersionSelector.parse(s).exclusive for s in ModelStages}
    assert exclusive == {
        "none": False,
        "staging": True,
        "production": True,
        "archived": False,
        "latest": False,
    }


def test_a_number_too_large_for_a_version_is_refused() -> None:
    with pytest.raises(ValidationError, match="too large"):
        VersionSelector.parse("9" * 25)


def test_an_int_too_long_to_print_is_refused_as_a_version_number() -> None:
    with pytest.raises(ValidationError, match="too large"):
        VersionSelector.parse(10**5000)
