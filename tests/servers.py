"""Real modelplane servers for the HTTP tests: ``modelplane server start`` in a subprocess on
a free loopback port, stopped by its process id.

``running_server`` yields once the server answers ``/health``; its admin token is the one
the server made for its empty store (read from the 0600 file it keeps under its home).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

START_TIMEOUT = 60.0


@dataclass(frozen=True)
class RunningServer:
    url: str
    admin_token: str
    home: Path
    pid: int
    store_url: str | None

    def env(self, token: str | None = None) -> dict[str, str]:
        """The variables that point an SDK process at this server."""
        return {
            "MODELPLANE_SERVER_URL": self.url,
            "MODELPLANE_API_TOKEN": token or self.admin_token,
        }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(
    home: Path,
    store_url: str | None = None,
    workers: int = 1,
    extra_env: dict[str, str] | None = None,
) -> Iterator[RunningServer]:
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MODELPLANE_SERVER_URL", "MODELPLANE_API_TOKEN", "MODELPLANE_STORE_URL")
    }
    env["MODELPLANE_HOME"] = str(home)
    env["XDG_CONFIG_HOME"] = str(home / "config")
    env.pop("MODELPLANE_ACTOR", None)
    if store_url:
        env["MODELPLANE_STORE_URL"] = store_url
    env.update(extra_env or {})
    command = [sys.executable, "-m", "modelplane", "server", "start", "--port", str(port)]
    command += ["--workers", str(workers)]
    log = open(home.parent / f"server-{port}.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process, home.parent / f"server-{port}.log")
        token = (home / "server-admin-token").read_text().strip()
        yield RunningServer(url, token, home, process.pid, store_url)
    finally:
        stop(process)
        log.close()


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}: {log.read_text()}")
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server did not answer within {START_TIMEOUT}s: {log.read_text()}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (uvicorn stops its workers), then SIGKILL after 10 s; by pid only."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(10)
