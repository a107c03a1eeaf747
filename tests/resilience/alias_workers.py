"""Worker processes for ``test_alias_race``: each moves one alias to its own version."""

from __future__ import annotations

import os
import traceback
from typing import Any

from tests.workers import _setup


def move_alias(
    env: dict[str, str], model: str, version: str, times: int, barrier: Any, results: Any
) -> None:
    """Point ``champion`` at ``version`` ``times`` times once every worker is ready; report
    the positions of the moves that appended (a move onto its own holder appends nothing)."""
    try:
        client = _setup(env)
        client.get_model_version(model, version)  # warm the read path too
        barrier.wait(timeout=300)
        for _ in range(times):
            client.set_model_version_alias(model, version, "champion", reason=f"by {version}")
        results.put((version, "ok", os.getpid()))
    except BaseException:
        results.put((version, "crash", traceback.format_exc()))
