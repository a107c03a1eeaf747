"""``modelplane model alias ...``, ``model tag ...`` and ``model version tag ...``; aliases,
key-value tags and a version's source in ``describe``; alias events in ``modelplane events``.

The commands run in this process through the real entry point (``cli`` of
``test_cli_hostile``: one ``Error:`` line on stderr for a refusal, never a traceback), and one
walk runs as the installed console script, as users type it. Both stores.
"""

from __future__ import annotations

import json
from typing import Any

from modelplane.client import Client
from tests.e2e.test_cli import ok as ok_process
from tests.e2e.test_cli_hostile import cli, ok, refused

__all__ = ["cli"]  # the fixture, shared with ``test_cli_hostile``


def _model_with_versions(count: int = 2) -> Client:
    client = Client()
    client.create_model("iris")
    for _ in range(count):
        client.create_model_version("iris")
    return client


def test_alias_set_list_history_and_delete(cli: Any) -> None:
    client = _model_with_versions()
    set_ = ok(cli, "model", "alias", "set", "iris", "1", "champion", "--reason", "first")
    assert "names version '1'" in set_.err
    ok(cli, "model", "alias", "set", "iris", "2", "champion", "--reason", "better")
    listed = json.loads(ok(cli, "model", "alias", "list", "iris", "--json").out)
    assert {alias: v["number"] for alias, v in listed.items()} == {"champion": 2}

    history = json.loads(ok(cli, "model", "alias", "history", "iris", "--json").out)
    assert [(h["previous_version_number"], h["version_number"], h["reason"]) for h in history] == [
        (None, 1, "first"),
        (1, 2, "better"),
    ]
    first = history[0]["position"]
    then = json.loads(ok(cli, "model", "alias", "list", "iris", "--at", str(first), "--json").out)
    assert then["champion"]["number"] == 1 and then["champion"]["as_of"] == first

    table = ok(cli, "model", "alias", "history", "iris", "--alias", "champion").out
    assert "better" in table and "champion" in table

    ok(cli, "model", "alias", "delete", "iris", "champion", "--reason", "retired")
    assert client.list_model_aliases("iris") == {}
    err = refused(cli, "model", "alias", "delete", "iris", "champion")
    assert "no alias 'champion'" in err


def test_alias_refusals_are_one_line(cli: Any) -> None:
    _model_with_versions(1)
    for alias in ("latest", "v1", "a" * 256, "[bold]x[/]", "a/b"):
        err = refused(cli, "model", "alias", "set", "iris", "1", alias)
        assert err.startswith("Error: ")
    refused(cli, "model", "alias", "set", "iris", "7", "champion")
    refused(cli, "model", "alias", "set", "nope", "1", "champion")
    refused(cli, "model", "alias", "list", "iris", "--at", "yesterday")


def test_key_value_tags_of_models_and_versions(cli: Any) -> None:
    client = _model_with_versions(1)
    ok(cli, "model", "tag", "set", "iris", "team", "[red]ml[/red]")
    ok(cli, "model", "tag", "set", "iris", "empty", "")
    ok(cli, "model", "version", "tag", "set", "iris", "1", "dir/key", "\x1b[31mred")
    described = ok(cli, "model", "describe", "iris").out
    assert "tag: team" in described and "[red]ml[/red]" in described  # literal, not markup
    version = ok(cli, "model", "version", "describe", "iris", "1").out
    assert "tag: dir/key" in version and "\\x1b[31mred" in version  # escaped, not obeyed
    assert "\x1b" not in version
    assert client.get_model("iris").key_value_tags == {"empty": "", "team": "[red]ml[/red]"}

    ok(cli, "model", "tag", "delete", "iris", "team")
    ok(cli, "model", "version", "tag", "delete", "iris", "1", "dir/key")
    assert client.get_model_version("iris", 1).key_value_tags == {}
    assert "no tag with key 'team'" in refused(cli, "model", "tag", "delete", "iris", "team")
    refused(cli, "model", "tag", "set", "iris", "/etc/passwd", "x")
    refused(cli, "model", "version", "tag", "set", "iris", "1", "k", "x" * 100_001)


def test_version_create_keeps_source_and_run(cli: Any) -> None:
    Client().create_model("iris")
    created = json.loads(
        ok(
            cli,
            "model",
            "version",
            "create",
            "iris",
            "--source",
            "s3://bucket/iris",
            "--run-id",
            "abc123",
            "--run-link",
            "https://mlflow/#/runs/abc123",
            "--json",
        ).out
    )
    assert (created["source"], created["run_id"], created["run_link"]) == (
        "s3://bucket/iris",
        "abc123",
        "https://mlflow/#/runs/abc123",
    )
    shown = ok(cli, "model", "version", "describe", "iris", "1").out
    assert "s3://bucket/iris" in shown and "abc123" in shown


def test_alias_events_have_readable_summaries(cli: Any) -> None:
    client = _model_with_versions()
    client.set_model_version_alias("iris", 1, "champion")
    client.set_model_version_alias("iris", 2, "champion", reason="better")
    client.set_model_version_tag("iris", 2, "note", "x" * 500)
    client.delete_model_version(client.get_model_version("iris", 2).id, reason="bad")
    lines = ok(cli, "events").out
    assert "alias 'champion' -> version 1" in lines
    assert "alias 'champion' -> version 2 (moved from version 1), reason: better" in lines
    assert "alias 'champion' removed from version 2, reason: version '2' deleted: bad" in lines
    assert "version 2 tag 'note' = '" + "x" * 60 + "...'" in lines
    assert "x" * 61 not in lines


def test_the_installed_script_walks_an_alias(store: str) -> None:
    _model_with_versions()
    ok_process("model", "alias", "set", "iris", "2", "champion")
    listed = json.loads(ok_process("model", "alias", "list", "iris", "--json").stdout)
    assert listed["champion"]["number"] == 2
    described = ok_process("model", "describe", "iris").stdout
    assert "champion: 2" in described
