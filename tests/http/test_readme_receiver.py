"""The README's webhook receiver, run as written, against a real server's deliveries.

The receiver block is cut out of README.md and started as its own process; the webhook is
registered and a version promoted through the CLI commands the README shows. The receiver
must print the promotion (its signature checked), and refuse a forged or tampered delivery.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.http.conftest import call, started
from tests.servers import RunningServer, free_port

README = Path(__file__).resolve().parents[2] / "README.md"
WAIT_SECONDS = 60.0
FAST = {"MODELPLANE_WEBHOOK_BACKOFF_SECONDS": "0.2", "MODELPLANE_WEBHOOK_POLL_SECONDS": "0.1"}


def receiver_source() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    (found,) = [b for b in blocks if b.startswith("# webhook_receiver.py")]
    return found


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with started(tmp_path_factory, extra_env=FAST) as running:
        yield running


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    """The README's receiver on a free port: its URL, its secret and the file it prints to."""
    script = tmp_path / "webhook_receiver.py"
    script.write_text(receiver_source(), encoding="utf-8")
    port, secret = free_port(), secrets.token_urlsafe(32)
    printed = tmp_path / "printed.txt"
    env = {**os.environ, "WEBHOOK_SECRET": secret, "PORT": str(port)}
    with printed.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, str(script)], env=env, stdout=out, stderr=subprocess.DEVNULL
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            try:
                httpx.get(url, timeout=1.0)  # any answer: it is listening
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the receiver did not start"
                time.sleep(0.05)
        yield url, secret, printed
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)


def cli(server: RunningServer, *args: str) -> str:
    env = {**os.environ, **server.env()}
    done = subprocess.run(
        [sys.executable, "-m", "modelplane", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_readme_receiver_prints_a_signed_promotion_and_refuses_forgeries(
    server: RunningServer, receiver: tuple[str, str, Path]
) -> None:
    url, secret, printed = receiver
    cli(server, "webhook", "add", url, "--event", "Model.StageChanged", "--secret", secret)
    assert call(server, "POST", "/models", server.admin_token, json={"name": "iris"}).is_success
    cli(server, "model", "version", "create", "iris")
    cli(server, "model", "version", "update", "iris", "1", "--stage", "staging")

    deadline = time.monotonic() + WAIT_SECONDS
    while "Model.StageChanged staging" not in printed.read_text():
        assert time.monotonic() < deadline, f"nothing printed: {printed.read_text()!r}"
        time.sleep(0.1)
    (line,) = printed.read_text().splitlines()
    assert re.fullmatch(r"[0-9a-f-]{36} Model\.StageChanged staging", line), line

    body = b'{"type": "Model.StageChanged", "payload": {"stage": "production"}}'
    stamp = str(int(time.time()))
    forged = "sha256=" + hmac.new(b"not-the-secret", stamp.encode() + b"." + body,
                                  hashlib.sha256).hexdigest()  # fmt: skip
    genuine = "sha256=" + hmac.new(secret.encode(), stamp.encode() + b"." + body,
                                   hashlib.sha256).hexdigest()  # fmt: skip
    for signature, sent in ((forged, body), (genuine, body + b" "), (genuine, body)):
        headers = {
            "Modelplane-Timestamp": stamp,
            "Modelplane-Signature": signature,
            "Modelplane-Delivery": "forged",
        }
        answer = httpx.post(url, content=sent, headers=headers, timeout=10.0)
        assert answer.status_code == (204 if sent is body and signature is genuine else 401)
    assert printed.read_text().count("\n") == 2  # the promotion, and the one genuine post
