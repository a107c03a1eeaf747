"""Command groups that import a subcommand's module only when it is used.

typer turns every command of a group into a click command (reading each signature) before
it runs any of them, and the imports come first: about 2 ms per command. A lazy group knows
its subcommands by name, ``name`` living in the module ``<package>.<name>`` as a typer app
called ``app``, and converts only the one a command line names. Help still lists every
subcommand, in the order given, by loading them all.
"""

from __future__ import annotations

import importlib

import click
import typer
from typer.core import TyperGroup


def lazy_group(package: str, *names: str) -> type[TyperGroup]:
    """A group class (for ``typer.Typer(cls=...)``) adding ``names`` from ``package``.

    They are listed after the group's own commands, as typer lists subgroups after commands.
    """

    class LazyGroup(TyperGroup):
        lazy: tuple[str, ...] = names

        def list_commands(self, ctx: click.Context) -> list[str]:
            own = [name for name in self.commands if name not in self.lazy]
            return [*own, *self.lazy]

        def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
            if cmd_name in self.lazy and cmd_name not in self.commands:
                module = importlib.import_module(f"{package}.{cmd_name}")
                self.add_command(typer.main.get_command(module.app), cmd_name)
            return super().get_command(ctx, cmd_name)

        def resolve_command(
            self, ctx: click.Context, args: list[str]
        ) -> tuple[str | None, click.Command | None, list[str]]:
            # click suggests close names ("Did you mean 'list'?") from the commands it
            # holds: an unknown name loads the rest first
            if self.get_command(ctx, click.utils.make_str(args[0])) is None:
                for name in self.lazy:
                    self.get_command(ctx, name)
            return super().resolve_command(ctx, args)

    return LazyGroup
