"""Asking before a command deletes something."""

from __future__ import annotations

import sys

import typer

from modelplane.domain.errors import ValidationError

from .render import visible


def confirm(question: str, *, yes: bool, refusal: str) -> bool:
    """Ask on a terminal; without one, refuse with ``refusal`` unless ``-y`` was given.

    The question quotes names, so it is printed with their control characters made visible.
    """
    if yes:
        return True
    if not sys.stdin.isatty():
        raise ValidationError(refusal)
    return typer.confirm(visible(question), default=False)
