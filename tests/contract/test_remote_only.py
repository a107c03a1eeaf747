"""What only a server adds to the contract: tokens decide who may do what, from the next call."""

from __future__ import annotations

import subprocess
import sys

import pytest

from modelplane.backend.errors import AuthenticationError
from modelplane.client import Client
from modelplane.exceptions import PermissionDeniedError
from tests.contract.conftest import Target, token


@pytest.fixture
def server_target(sdk: Target) -> Target:
    if not sdk.remote:
        pytest.skip("tokens are checked by a server")
    return sdk


def test_roles_and_revocation(
    server_target: Target, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = server_target.server
    assert server is not None
    Client().create_model(unique)
    reader = token(server, f"{unique}-reader", "read")
    monkeypatch.setenv("MODELPLANE_API_TOKEN", reader)
    client = Client()
    assert client.get_model(unique).name == unique
    with pytest.raises(PermissionDeniedError, match="write"):
        client.create_model_version(unique)
    with pytest.raises(PermissionDeniedError):
        client.backend.create_token("x", "admin")
    monkeypatch.setenv("MODELPLANE_API_TOKEN", server.admin_token)
    Client().backend.revoke_token(f"{unique}-reader")
    monkeypatch.setenv("MODELPLANE_API_TOKEN", reader)
    with pytest.raises(AuthenticationError):
        Client().get_model(unique)


def test_cli_against_the_server(server_target: Target, unique: str) -> None:
    """Every CLI command goes through the same backend: the env points it at the server."""

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "modelplane", *args], capture_output=True, text=True, timeout=60
        )

    assert cli("model", "register", unique, "--tag", "t").returncode == 0
    assert cli("model", "version", "create", unique).returncode == 0
    promoted = cli("model", "version", "update", unique, "1", "--stage", "staging")
    assert promoted.returncode == 0, promoted.stderr
    listed = cli("model", "version", "list", unique, "--json")
    assert '"staging"' in listed.stdout
    history = cli("model", "history", unique, "--json")
    assert server_target.actor in history.stdout
    missing = cli("model", "describe", unique + "-nope")
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    created = cli("token", "create", "--name", f"{unique}-ci", "--role", "write")
    assert created.returncode == 0 and created.stdout.strip().splitlines()[-1].startswith("mp_")
