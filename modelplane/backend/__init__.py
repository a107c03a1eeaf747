"""Where the SDK, the CLI and pipelines reach the registry: ``current()`` picks the backend.

``interface.py`` declares what a backend does; ``local.py`` does it over a store on this
machine. Importing this package loads neither SQLAlchemy nor the event-sourced application:
``Client()`` calls ``current()`` every time it is made.
"""

from __future__ import annotations

from .interface import ADMIN, READ, ROLES, WRITE, Backend, CreatedToken, PageRequest

__all__ = [
    "ADMIN",
    "READ",
    "ROLES",
    "WRITE",
    "Backend",
    "CreatedToken",
    "PageRequest",
    "current",
]


def current() -> Backend:
    """The backend the environment points at now: the one place that decides it.

    Remote mode, with ``MODELPLANE_SERVER_URL`` and ``MODELPLANE_API_TOKEN`` set or after
    ``modelplane login``: the server's routes, acting as the token's owner.

    Local mode: the store of ``MODELPLANE_STORE_URL`` / ``MODELPLANE_HOME`` (one handle per
    store per process), acting as ``config.actor`` (``MODELPLANE_ACTOR`` checked on every
    command) with every role, as the owner of a local store has.
    """
    from . import login

    remote = login.server()
    if remote is not None:
        from .http import HttpBackend

        return HttpBackend(*remote)
    from .local import LocalBackend

    return LocalBackend.of_environment()
