"""The SDK client behind every command, imported when a command runs, not for ``--help``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from modelplane.client import Client


def client() -> Client:
    from modelplane.client import Client

    return Client()
