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


# ------------------------------------------------------------- which worker
# Workers are found as the server's children holding its listening socket, and the worker
# serving a connection as the child holding the server's end of it (/proc/net/tcp and
# /proc/<pid>/fd): never by process name.


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(child) for child in (task / "children").read_text().split()}
    return found


def _sockets(pid: int) -> set[str]:
    """The inodes of the sockets ``pid`` holds open."""
    held: set[str] = set()
    fds = Path(f"/proc/{pid}/fd")
    try:
        entries = list(fds.iterdir())
    except FileNotFoundError:  # it has just exited
        return held
    for fd in entries:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            held.add(target.removeprefix("socket:[").removesuffix("]"))
    return held


def _tcp_inode(local_port: int, remote_port: int | None) -> str | None:
    """The inode of the IPv4 socket bound to ``local_port``: connected to ``remote_port``,
    or listening (``None``)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
        if int(local.split(":")[1], 16) != local_port:
            continue
        if remote_port is None and state == "0A":  # TCP_LISTEN
            return inode
        if remote_port is not None and int(remote.split(":")[1], 16) == remote_port:
            return inode
    return None


def _port(server: RunningServer) -> int:
    return int(server.url.rsplit(":", 1)[1])


def worker_pids(server: RunningServer) -> set[int]:
    """The server's children that hold its listening socket: its uvicorn workers."""
    listening = _tcp_inode(_port(server), None)
    assert listening is not None, "the server is not listening"
    return {pid for pid in _children(server.pid) if listening in _sockets(pid)}


def worker_of(server: RunningServer, from_port: int) -> int | None:
    """The worker holding the server's end of the connection from local port ``from_port``
    (``client_port`` of a response on it)."""
    inode = _tcp_inode(_port(server), from_port)
    if inode is None:
        return None
    holders = [pid for pid in _children(server.pid) if inode in _sockets(pid)]
    return holders[0] if len(holders) == 1 else None


def client_port(response: httpx.Response) -> int:
    """The local port of the connection ``response`` came on."""
    address = response.extensions["network_stream"].get_extra_info("client_addr")
    return int(address[1])
