"""Which server the SDK and CLI talk to: the environment, else ``modelplane login``'s file.

``MODELPLANE_SERVER_URL`` (with ``MODELPLANE_API_TOKEN``) wins over a saved login, so a CI job
can point one command elsewhere. The login file lives in the user's config folder
(``$XDG_CONFIG_HOME/modelplane/login.json``, default ``~/.config``), written with 0600
permissions since it holds a token.
"""

from __future__ import annotations

import os
from pathlib import Path

import orjson

from modelplane.config import ConfigError


def login_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base).expanduser() / "modelplane" / "login.json"


def server() -> tuple[str, str] | None:
    """``(url, token)`` of the server to use, or None for local mode."""
    url = os.environ.get("MODELPLANE_SERVER_URL", "").strip()
    if url:
        token = os.environ.get("MODELPLANE_API_TOKEN", "").strip()
        if not token:
            msg = "MODELPLANE_SERVER_URL is set but MODELPLANE_API_TOKEN is not: set both."
            raise ConfigError(msg)
        return _checked(url, "MODELPLANE_SERVER_URL"), token
    path = login_file()
    try:
        saved = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, orjson.JSONDecodeError) as error:
        raise ConfigError(f"The login file {path} cannot be read: {error}.") from None
    if not isinstance(saved, dict) or not saved.get("url") or not saved.get("token"):
        raise ConfigError(f"The login file {path} is damaged: run modelplane login again.")
    return _checked(str(saved["url"]), f"the login file {path}"), str(saved["token"])


def save(url: str, token: str) -> Path:
    path = login_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temp = path.with_suffix(".tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(orjson.dumps({"url": _checked(url, "the URL"), "token": token}))
    os.chmod(temp, 0o600)
    temp.replace(path)
    return path


def forget() -> bool:
    try:
        login_file().unlink()
    except FileNotFoundError:
        return False
    return True


def _checked(url: str, where: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"{where} must be an http:// or https:// URL, not {url!r}.")
    return url.rstrip("/")
