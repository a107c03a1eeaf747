"""The CLI's layout: every command where its name says, imported only when used, and the
model-card options made from ``DESCRIPTIVE_FIELDS``."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

import click
import pytest
import typer.main

from modelplane.cli import app, main
from modelplane.client import Client
from modelplane.domain.model_card import DESCRIPTIVE_FIELDS

#: Every command users type, in the order help lists them (None: a command, not a group).
TREE: dict[str, Any] = {
    "events": None,
    "replay": None,
    "model": {
        "register": None,
        "list": None,
        "describe": None,
        "update": None,
        "delete": None,
        "history": None,
        "version": {
            **{
                name: None
                for name in ("list", "describe", "create", "update", "delete", "artifacts", "runs")
            },
            "tag": {"set": None, "delete": None},
        },
        "alias": {"set": None, "delete": None, "list": None, "history": None},
        "tag": {"set": None, "delete": None},
    },
    "run": {"list": None, "describe": None, "mark-failed": None},
    "artifact": {"list": None, "describe": None},
    "token": {"create": None, "list": None, "revoke": None},
    "webhook": {"add": None, "list": None, "remove": None, "deliveries": None},
    "server": {"start": None},
    "login": None,
    "logout": None,
}


def _tree(group: click.Group, ctx: click.Context) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        if isinstance(command, click.Group):
            tree[name] = _tree(command, click.Context(command, parent=ctx, info_name=name))
        else:
            tree[name] = None
    return tree


def _leaves(tree: dict[str, Any], path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, sub in tree.items():
        found += [(*path, name)] if sub is None else _leaves(sub, (*path, name))
    return found


def _command(path: tuple[str, ...]) -> click.Command:
    command = typer.main.get_command(app)
    ctx = click.Context(command, info_name="modelplane")
    for name in path:
        assert isinstance(command, click.Group)
        found = command.get_command(ctx, name)
        assert found is not None, path
        command, ctx = found, click.Context(found, parent=ctx, info_name=name)
    return command


def test_every_command_is_listed_in_order() -> None:
    root = typer.main.get_command(app)
    assert isinstance(root, click.Group)
    assert _tree(root, click.Context(root, info_name="modelplane")) == TREE


@pytest.mark.parametrize("path", _leaves(TREE), ids=" ".join)
def test_a_command_lives_in_the_module_its_name_gives(path: tuple[str, ...]) -> None:
    """``model version update`` in ``commands/model/version/__init__.py``, ``model version tag
    set`` in ``commands/model/version/tag.py``, ``events`` in ``events.py``."""
    callback = _command(path).callback
    assert callback is not None
    module = ".".join(("modelplane.cli.commands", *(path[:-1] or path)))
    assert callback.__module__ == module


def _modules_after(*args: str) -> set[str]:
    """The modules a fresh interpreter has imported after ``modelplane ARGS``."""
    script = (
        "import json, sys\n"
        "from modelplane.cli import main\n"
        "try:\n"
        f"    main({list(args)!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


def test_a_command_imports_only_its_own_group() -> None:
    """Start-up: help for ``model list`` imports neither the other groups nor the SDK."""
    loaded = _modules_after("model", "list", "--help")
    assert "modelplane.cli.commands.model" in loaded
    others = {"model.version", "model.alias", "model.tag", "run", "artifact", "events"}
    others |= {"replay", "token", "server", "login"}
    assert not {f"modelplane.cli.commands.{name}" for name in others} & loaded
    assert "modelplane.client" not in loaded
    assert "sqlalchemy" not in loaded


@pytest.mark.parametrize(
    "group",
    [
        (),
        ("model",),
        ("model", "version"),
        ("model", "version", "tag"),
        ("model", "alias"),
        ("model", "tag"),
        ("run",),
        ("artifact",),
        ("token",),
        ("server",),
    ],
)
def test_help_lists_every_subcommand_in_order(
    group: tuple[str, ...], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit) as done:
        main([*group, "--help"])
    assert done.value.code in (0, None)
    listed = re.findall(r"^│ (\S+) ", capsys.readouterr().out.split("Commands")[1], re.M)
    subtree = TREE
    for name in group:
        subtree = subtree[name]
    assert listed == list(subtree)


@pytest.mark.parametrize("command", ["register", "update"])
def test_model_card_options_are_the_descriptive_fields(command: str) -> None:
    options = {name for param in _command(("model", command)).params for name in param.opts}
    for field in DESCRIPTIVE_FIELDS:
        assert f"--{field.replace('_', '-')}" in options


def test_model_card_options_reach_every_field(store: str) -> None:
    def run(*args: str) -> None:
        try:
            main(list(args))
        except SystemExit as done:
            assert done.code in (0, None), args

    given = {field: f"{field} text" for field in DESCRIPTIVE_FIELDS}
    card = [arg for f, v in given.items() for arg in (f"--{f.replace('_', '-')}", v)]
    run("model", "register", "m", *card, "-t", "a", "--json")
    model = Client().get_model("m")
    assert {field: getattr(model, field) for field in DESCRIPTIVE_FIELDS} == given
    assert model.tags == ["a"]

    run("model", "update", "m", "--trade-offs", "new", "--add-tag", "b", "--json")
    model = Client().get_model("m")
    assert model.trade_offs == "new" and model.ethics == "ethics text"
    assert model.tags == ["a", "b"]
