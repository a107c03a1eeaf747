"""The README's walk-through and every chain of the guide, run against a real server.

``tests/e2e/test_guide.py`` proves the examples on a local store; the README promises that
with ``MODELPLANE_SERVER_URL`` and ``MODELPLANE_API_TOKEN`` set (or after ``modelplane
login``) the same code calls the server. So each example runs here as that test runs it (its
parsing and runners are reused: a script per run of python blocks, ``python -m modelplane``
per command) with three differences that keep it honest:

* the client's ``MODELPLANE_HOME`` is not the server's and no ``MODELPLANE_STORE_URL`` is set,
  so a call that silently went local would find an empty store (and its assertions fail),
  and leave a ``modelplane.db`` under that home, which is checked for;
* ``MODELPLANE_ACTOR`` is still set (to ``guide-reader``), and every event the example
  appended must carry the token's name instead: the server decides who acts;
* those events are read back from the server's log (``GET /events``), so the writes are
  known to have reached it.

The README's walk-through starts as a new user would, from what the README tells them: the
server makes an admin token and keeps it in ``$MODELPLANE_HOME/server-admin-token``; a
write token is made with ``modelplane token create`` (on the server's store on SQLite, through
the server with the admin token on PostgreSQL); the SQLite run then uses ``modelplane login``,
the PostgreSQL one the two variables. The guide's chains each get a fresh SQLite server (they
assume an empty registry) and a token made with ``POST /tokens``, which is quicker than a CLI
process: a server start is about a second and a half, and the file takes about 70 s of CPU
(under three minutes on two busy cores), so PostgreSQL runs the README only.

What a write token may not do is not run as one: ``ADMIN_CHAINS`` run with an admin token,
``ADMIN_LINES`` are taken out of the README's script and checked to be refused for the write
token and to work for an admin. ``EXCLUDED_CHAINS`` lists what cannot run remotely by design.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import create_database, drop_database
from tests.e2e.test_guide import (
    CHAINS,
    DONE,
    REPO_ROOT,
    Block,
    Chain,
    explain,
    fresh_env,
    parse_guide,
    run,
    run_bash,
    run_python,
)
from tests.servers import RunningServer, running_server

README = REPO_ROOT / "README.md"

#: chains that cannot run against a server by design, with the reason (none so far)
EXCLUDED_CHAINS: dict[str, str] = {}
#: chains that need the admin role, with the reason; they run with an admin token ``ops``
ADMIN_CHAINS = {
    "what-modelplane-adds": "its Replay examples rebuild the read tables "
    "(client.rebuild_projections(), modelplane replay), which needs the admin role",
}
#: chains that append nothing, so the log has no event of theirs to check
NO_WRITES = {"before-you-start": "imports only"}
#: lines of the README's python blocks that need the admin role, with the reason
ADMIN_LINES = {
    "client.rebuild_projections()": "rebuilding the read tables needs the admin role "
    "(README, Roles); checked with `modelplane replay` instead",
}
WRITER, OPERATOR = "alice", "ops"
REMOTE_CHAINS = [c for c in CHAINS if c.slug not in EXCLUDED_CHAINS]


# ------------------------------------------------------------------------------ helpers


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def events_after(server: RunningServer, position: int) -> list[dict[str, Any]]:
    """The server's log after ``position``, read page by page as its admin."""
    events: list[dict[str, Any]] = []
    while True:
        answer = httpx.get(
            f"{server.url}/api/v1/events",
            params={"after": position, "limit": 10_000},
            headers=bearer(server.admin_token),
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        page = answer.json()
        events += page
        if len(page) < 10_000:
            return events
        position = page[-1]["position"]


def head(server: RunningServer) -> int:
    events = events_after(server, 0)
    return int(events[-1]["position"]) if events else 0


def post_token(server: RunningServer, name: str, role: str) -> str:
    answer = httpx.post(
        f"{server.url}/api/v1/tokens",
        json={"name": name, "role": role},
        headers=bearer(server.admin_token),
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["token"])


def client_env(tmp_path: Path, server: RunningServer | None, token: str | None) -> dict[str, str]:
    """test_guide's environment (its own empty home, ``MODELPLANE_ACTOR`` set), pointed at
    ``server`` with ``token``, or at nothing (a saved login decides) when ``server`` is None."""
    env = fresh_env(tmp_path, None)
    env.pop("MODELPLANE_SERVER_URL", None)
    env.pop("MODELPLANE_API_TOKEN", None)
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")  # no login of the developer's
    if server is not None:
        assert token is not None
        env.update(server.env(token))
    return env


def cli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = run([sys.executable, "-m", "modelplane", *args], env, cwd)
    assert "Traceback" not in done.stderr, explain(f"modelplane {' '.join(args)}", done)
    return done


def ok(env: dict[str, str], cwd: Path, *args: str) -> str:
    """What the command printed (stdout, then stderr: notes go there); it must exit 0."""
    done = cli(env, cwd, *args)
    assert done.returncode == 0, explain(f"modelplane {' '.join(args)}", done)
    return done.stdout + done.stderr


def assert_went_to_server(
    server: RunningServer, client_home: Path, after: int, actor: str, wrote: bool = True
) -> list[dict[str, Any]]:
    """Every event appended after ``after`` is the token's (not ``MODELPLANE_ACTOR``'s), and
    nothing was written to a store on the client's side; those events are returned."""
    events = events_after(server, after)
    assert any(e["actor"] == actor for e in events) == wrote, [e["type"] for e in events]
    # events of a kind that records no actor (a name claimed, a step finished) carry None
    others = {
        (e["type"], e["actor"])
        for e in events
        if e["actor"] != actor and not (e["actor"] is None and "actor" not in e["payload"])
    }
    assert not others, f"events not recorded as {actor!r}: {sorted(others, key=str)}"
    local = sorted(str(p) for p in client_home.rglob("modelplane.db*"))  # none if no home
    assert not local, f"a local store appeared on the client: {local}"
    return events


def run_chain(chain: Chain, env: dict[str, str], tmp_path: Path) -> None:
    """test_guide's ``run_chain``, with the environment given."""
    cwd = tmp_path / "work"
    cwd.mkdir()
    pending: list[Block] = []
    for block in chain.blocks:
        if block.language == "python":
            pending.append(block)
            continue
        if pending:
            run_python(pending, tmp_path / f"guide_{block.line}.py", env, cwd)
            pending = []
        run_bash(block, env, cwd)
    if pending:
        run_python(pending, tmp_path / "guide_last.py", env, cwd)


#: the README's webhook receiver serves forever: tests/http/test_readme_receiver.py runs it
RECEIVER = "# webhook_receiver.py"
#: the README's MLflow block needs MODELPLANE_SERVER_URL set (a login is not enough) and
#: MLflow's client: tests/mlflow/test_readme_mlflow.py runs it
MLFLOW = "# mlflow_clients.py"


def readme_script() -> str:
    """The README's python blocks as one script, without ``ADMIN_LINES`` (each found once)."""
    blocks = [
        b
        for b in parse_guide(README.read_text(encoding="utf-8"))
        if b.language == "python" and not b.text.startswith((RECEIVER, MLFLOW))
    ]
    assert len(blocks) == 2, [b.line for b in blocks]
    text = "\n".join(b.text for b in blocks)
    for line in ADMIN_LINES:
        pattern = re.compile(rf"^{re.escape(line)}[ \t]*(#.*)?$", re.M)
        assert len(pattern.findall(text)) == 1, f"README: {line!r} is not one line of its own"
        text = pattern.sub("pass  # admin only: see ADMIN_LINES", text)
    return text + f"\nprint({DONE!r})\n"


# ---------------------------------------------------------------------------- the README


@contextmanager
def readme_server(tmp_path: Path, kind: str) -> Iterator[RunningServer]:
    home = tmp_path / "server" / "home"
    home.mkdir(parents=True)
    if kind == "sqlite":
        with running_server(home) as server:
            yield server
        return
    name, url = create_database()
    try:
        with running_server(home, url) as server:
            yield server
    finally:
        drop_database(name)


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_readme_walkthrough_remotely(kind: str, tmp_path: Path) -> None:
    with readme_server(tmp_path, kind) as server:
        cwd = tmp_path / "work"
        cwd.mkdir()
        # the README: the admin token is kept in $MODELPLANE_HOME/server-admin-token
        admin = (server.home / "server-admin-token").read_text().strip()
        if kind == "sqlite":
            # on the server's machine, on its store: local mode, the server's home
            operator = {**client_env(tmp_path, None, None), "MODELPLANE_HOME": str(server.home)}
        else:  # anywhere, through the server, as its admin
            operator = client_env(tmp_path, server, admin)
        made = cli(operator, cwd, "token", "create", "--name", WRITER, "--role", "write")
        assert made.returncode == 0, explain("modelplane token create", made)
        secret = made.stdout.strip().splitlines()[-1]  # the README: the last line
        assert secret.startswith("mp_"), made.stdout
        start = head(server)

        if kind == "sqlite":  # `modelplane login`, then no variable at all
            user = client_env(tmp_path, None, None)
            assert WRITER in ok(user, cwd, "login", server.url, "--token", secret)
            saved = tmp_path / "config" / "modelplane" / "login.json"
            assert saved.stat().st_mode & 0o777 == 0o600  # it holds the token
        else:
            user = client_env(tmp_path, server, secret)
        script = tmp_path / "readme_walkthrough.py"
        script.write_text(readme_script(), encoding="utf-8")
        done = run([sys.executable, str(script)], user, cwd)
        assert done.returncode == 0, explain("The README's walk-through", done)
        assert "ArtifactWarning" not in done.stderr, done.stderr
        lines = done.stdout.splitlines()
        assert lines[-1] == DONE, done.stdout
        # what the local run prints (tests/resilience/test_restart.py), with the token as actor
        assert f"none -> production {WRITER} accuracy 0.97 vs 0.94" in done.stdout
        assert lines[-5] == "{'accuracy': 1.0}"
        assert lines[-4] == "['trained_model'] ['iris_data', 'predictions']"
        assert lines[-2] == "stage ['predict']"

        events = assert_went_to_server(server, Path(user["MODELPLANE_HOME"]), start, WRITER)
        types = {e["type"] for e in events}
        assert {"Model.Registered", "Model.StageChanged", "PipelineRun.Finished"} <= types
        registered = {e["payload"]["name"] for e in events if e["type"] == "Model.Registered"}
        assert registered == {"iris_classifier", "iris_lr"}
        if kind == "sqlite":  # the artifact bytes were uploaded to the server's home
            assert any((server.home / "artifacts").rglob("*")), "no artifact reached the server"

        # ADMIN_LINES: refused for the write token (typed, nothing appended), fine for admin
        if kind == "sqlite":  # roles do not depend on the store
            before = head(server)
            refused = cli(user, cwd, "replay")
            assert refused.returncode == 1 and "admin" in refused.stderr, refused.stderr
            assert head(server) == before
        as_admin = client_env(tmp_path, server, admin)  # the variables win over a login
        rebuilt = cli(as_admin, cwd, "replay")
        assert rebuilt.returncode == 0 and "Replayed" in rebuilt.stderr, explain("replay", rebuilt)

        if kind == "sqlite":  # the rest of the README's server block
            listed = ok(user, cwd, "model", "list")
            assert "iris_classifier" in listed and "iris_lr" in listed
            assert cli(user, cwd, "token", "list").returncode == 1  # an admin's command
            assert WRITER in ok(as_admin, cwd, "token", "list")
            ok(as_admin, cwd, "token", "revoke", WRITER)
            gone = cli(user, cwd, "model", "list")
            assert gone.returncode == 1 and "revoked" in gone.stderr.lower(), gone.stderr
            ok(user, cwd, "logout")
            assert not saved.exists()


# ----------------------------------------------------------------------------- the guide


def test_the_exception_lists_name_guide_chains() -> None:
    """Each list names chains the guide has, and what runs remotely is the whole guide
    minus ``EXCLUDED_CHAINS`` (a guard against a list that outlives its chain)."""
    slugs = {chain.slug for chain in CHAINS}
    for listed in (EXCLUDED_CHAINS, ADMIN_CHAINS, NO_WRITES):
        assert set(listed) <= slugs, set(listed) - slugs
    assert len(REMOTE_CHAINS) == len(CHAINS) - len(EXCLUDED_CHAINS)


@pytest.mark.parametrize("chain", REMOTE_CHAINS, ids=[c.slug for c in REMOTE_CHAINS])
def test_guide_chain_runs_remotely(chain: Chain, tmp_path: Path) -> None:
    home = tmp_path / "server" / "home"
    home.mkdir(parents=True)
    with running_server(home) as server:
        admin = chain.slug in ADMIN_CHAINS
        actor = OPERATOR if admin else WRITER
        secret = post_token(server, actor, "admin" if admin else "write")
        start = head(server)
        env = client_env(tmp_path, server, secret)
        run_chain(chain, env, tmp_path)
        wrote = chain.slug not in NO_WRITES
        assert_went_to_server(server, Path(env["MODELPLANE_HOME"]), start, actor, wrote)
