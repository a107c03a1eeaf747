"""The CLI pages like the SDK: ``model list``/``model version list`` take ``--cursor`` (the
``next_cursor`` of ``--json``), ``model history`` takes ``--after``/``--limit``.

Runs the installed ``modelplane`` on both stores (the ``client`` fixture makes the store).
"""

from __future__ import annotations

from modelplane.client import Client
from tests.e2e.test_cli import fails, ok_json


def test_listings_continue_from_a_cursor(client: Client) -> None:
    for name in ("a", "b", "c"):
        client.create_model(name)
    for _ in range(3):
        client.create_model_version("a")
    first = ok_json("model", "list", "--size", "2")
    assert [m["name"] for m in first["items"]] == ["a", "b"] and first["total"] == 3
    rest = ok_json("model", "list", "--size", "2", "--cursor", first["next_cursor"])
    assert [m["name"] for m in rest["items"]] == ["c"] and rest["next_cursor"] is None
    versions = ok_json("model", "version", "list", "a", "--size", "2")
    more = ok_json(
        "model", "version", "list", "a", "--size", "2", "--cursor", versions["next_cursor"]
    )
    assert [v["number"] for v in versions["items"] + more["items"]] == [3, 2, 1]
    fails("model", "list", "--cursor", "nonsense", contains=("Invalid cursor",))
    fails(
        "model",
        "version",
        "list",
        "a",
        "--cursor",
        first["next_cursor"],
        contains=("another listing",),
    )


def test_history_pages_with_after_and_limit(client: Client) -> None:
    client.create_model("iris")
    for number in range(1, 4):
        client.create_model_version("iris")
        client.update_model_version("iris", number, stage="production", force=True)
    everything = ok_json("model", "history", "iris")
    assert len(everything) == 5
    first = ok_json("model", "history", "iris", "--limit", "2")
    rest = ok_json("model", "history", "iris", "--after", str(first[-1]["position"]))
    assert first + rest == everything and len(first) == 2
    fails("model", "history", "iris", "--limit", "0", code=2)
