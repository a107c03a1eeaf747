"""Every snippet of the user guide (``docs/guide.md``) runs, each chain on a fresh store.

A guide whose examples do not run teaches the wrong thing, so the guide is part of the suite:

* Each ```python block is a script run by this interpreter (``sys.executable``) as its own
  process, with an empty ``MODELPLANE_HOME``, ``MODELPLANE_ACTOR`` set, the repository root
  first on ``PYTHONPATH`` (so the checkout under test is what imports, even where an editable
  install points elsewhere) and a fresh, empty working directory (so a snippet may write
  relative paths such as ``--into past.db`` without touching the repository).
* Each ```bash block holds ``modelplane ...`` commands only (comments and blank lines aside):
  every line is shlex-split and run as ``python -m modelplane ...``, with stdin closed (so the
  CLI never waits on a prompt), and must exit 0 without a traceback.
* A block preceded by the line ``<!-- guide: continues -->`` (invisible when the guide is
  rendered) continues the block before it, in the same ``##`` section: it runs on the same
  store, after it. Consecutive python blocks of such a chain share one process (so names
  defined earlier are in scope); a python block after a bash block starts a new process on
  the same store. A chain is one test, named after the heading above its first block.

Snippets state what happens with plain ``assert`` lines; the test adds only that each script
ran to its end and that no value fell back to pickle (an ``ArtifactWarning``).

Every chain runs on SQLite. Each process costs about a second (imports, and pandas and
scikit-learn for the pipeline examples), and running every chain on PostgreSQL as well would
double the file's time past a minute, so the PostgreSQL variant (a fresh schema each time, via
``reset_postgres``) runs for the chains in ``POSTGRES_CHAINS``: those that touch the store
most, where the two backends' SQL differs (stage holders, time travel, the event index,
replay, nested metadata, deletes, stage resolution in pipelines). The others repeat, through
the CLI or one command at a time, what these already do on PostgreSQL, and
``tests/e2e/test_cli.py`` and ``tests/integration/test_sdk.py`` run the same calls on both backends.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import reset_postgres

REPO_ROOT = Path(__file__).resolve().parents[2]
GUIDE = REPO_ROOT / "docs" / "guide.md"
TIMEOUT_SECONDS = 120
CONTINUES = "<!-- guide: continues -->"
#: Printed by the last line of every script: the snippet ran to its end.
DONE = "guide snippet: done"

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE_OPEN = re.compile(r"^```(\w*)\s*$")
_DIRECTIVE = re.compile(r"^<!--\s*guide:.*-->\s*$")


@dataclass(frozen=True)
class Block:
    """One fenced block of the guide: its language, text, line and the heading above it."""

    language: str
    text: str
    line: int
    heading: str
    section: str
    continues: bool


@dataclass
class Chain:
    """Blocks that run in order on one store: a first block and those that continue it."""

    slug: str
    blocks: list[Block] = field(default_factory=list)


def slugify(heading: str) -> str:
    """``Promote through stages`` -> ``promote-through-stages`` (GitHub's anchor, roughly)."""
    text = re.sub(r"[`*_]", "", heading).lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-") or "guide"


def parse_guide(text: str) -> list[Block]:
    """The runnable blocks (python, bash) of the guide, in order; malformed markup fails."""
    blocks: list[Block] = []
    lines = text.splitlines()
    heading, section = "", ""
    previous = ""  # the last non-blank line outside a block
    i = 0
    while i < len(lines):
        line = lines[i]
        opened = _FENCE_OPEN.match(line)
        if opened is None:
            found = _HEADING.match(line)
            if found:
                heading = found.group(2)
                if len(found.group(1)) <= 2:
                    section = heading
            if _DIRECTIVE.match(line.strip()) and line.strip() != CONTINUES:
                msg = f"{GUIDE.name}:{i + 1}: unknown directive {line.strip()!r}; use {CONTINUES}"
                raise ValueError(msg)
            if line.strip():
                previous = line.strip()
            i += 1
            continue
        start = i
        i += 1
        body: list[str] = []
        while i < len(lines) and lines[i].rstrip() != "```":
            body.append(lines[i])
            i += 1
        if i == len(lines):
            raise ValueError(f"{GUIDE.name}:{start + 1}: a fenced block is never closed")
        i += 1
        language = opened.group(1)
        if language in ("python", "bash"):
            code = "\n".join(body) + "\n"
            continues = previous == CONTINUES
            blocks.append(Block(language, code, start + 1, heading, section, continues))
        elif previous == CONTINUES:
            raise ValueError(f"{GUIDE.name}:{start + 1}: only python and bash blocks continue")
        previous = ""
    return blocks


def chains_of(blocks: list[Block]) -> list[Chain]:
    """Group blocks into chains; a continuing block must follow a block of its ``##`` section.

    A chain is named after the heading above its first block (``-2``, ``-3`` for repeats).
    """
    chains: list[Chain] = []
    for block in blocks:
        if not block.continues:
            chains.append(Chain(slugify(block.heading), [block]))
        elif chains and chains[-1].blocks[-1].section == block.section:
            chains[-1].blocks.append(block)
        else:
            msg = (
                f"{GUIDE.name}:{block.line}: a block marked {CONTINUES} must follow another "
                f"block of the same section ('{block.section}')"
            )
            raise ValueError(msg)
    seen: dict[str, int] = {}
    for chain in chains:
        count = seen[chain.slug] = seen.get(chain.slug, 0) + 1
        if count > 1:
            chain.slug = f"{chain.slug}-{count}"
    return chains


CHAINS = chains_of(parse_guide(GUIDE.read_text(encoding="utf-8")))
#: The chains also run on PostgreSQL (see the module docstring); each must exist in the guide.
POSTGRES_CHAINS = frozenset(
    {
        "promote-through-stages",
        "model-mediated-exchange-between-pipelines",
        "metadata",
        "delete-versions-and-models",
        "what-modelplane-adds",
    }
)
CASES = [
    pytest.param(chain, backend, id=f"{chain.slug}-{backend}")
    for chain in CHAINS
    for backend in ("sqlite", "postgres")
    if backend == "sqlite" or chain.slug in POSTGRES_CHAINS
]


def commands_of(block: Block) -> list[list[str]]:
    """The argument lists of a bash block's ``modelplane`` commands (``\\`` continues a line)."""
    joined = re.sub(r"\\\n", " ", block.text)
    commands = []
    for offset, line in enumerate(joined.splitlines()):
        words = shlex.split(line, comments=True)
        if not words:
            continue
        if words[0] != "modelplane":
            msg = (
                f"{GUIDE.name}:{block.line + 1 + offset}: a bash block of the guide runs "
                f"modelplane commands only, not {line.strip()!r} (use a ```text block)"
            )
            raise AssertionError(msg)
        commands.append(words)
    return commands


# ------------------------------------------------------------------------------ running


def fresh_env(tmp_path: Path, store_url: str | None) -> dict[str, str]:
    """An empty store (SQLite under ``home``, or the PostgreSQL URL) and the repo importable."""
    env = dict(os.environ)
    env.pop("MODELPLANE_STORE_URL", None)
    if store_url is not None:
        env["MODELPLANE_STORE_URL"] = store_url
    env["MODELPLANE_HOME"] = str(tmp_path / "home")
    env["MODELPLANE_ACTOR"] = "guide-reader"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    env["COLUMNS"] = "120"
    return env


def run(command: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
    )


def explain(what: str, done: subprocess.CompletedProcess[str]) -> str:
    return (
        f"{what} exited with {done.returncode}\n"
        f"--- stderr ---\n{done.stderr}\n--- stdout ---\n{done.stdout}"
    )


def run_python(blocks: list[Block], script: Path, env: dict[str, str], cwd: Path) -> None:
    """Consecutive python blocks of a chain, as one script; it must run to its end."""
    parts = [f"# {GUIDE.name}, from line {blocks[0].line} ({blocks[0].heading})"]
    for block in blocks:
        parts += [f"# --- {GUIDE.name}:{block.line} ---", block.text]
    parts.append(f"print({DONE!r})\n")
    script.write_text("\n".join(parts), encoding="utf-8")
    done = run([sys.executable, str(script)], env, cwd)
    assert done.returncode == 0, explain(f"The guide's python from line {blocks[0].line}", done)
    assert done.stdout.rstrip().endswith(DONE), done.stdout
    # every value found a materializer of its own (no pickle fallback)
    assert "ArtifactWarning" not in done.stderr, done.stderr


def run_bash(block: Block, env: dict[str, str], cwd: Path) -> None:
    commands = commands_of(block)
    assert commands, f"{GUIDE.name}:{block.line}: a bash block without modelplane commands"
    for words in commands:
        done = run([sys.executable, "-m", "modelplane", *words[1:]], env, cwd)
        line = shlex.join(words)
        assert done.returncode == 0, explain(f"`{line}` ({GUIDE.name}:{block.line})", done)
        assert "Traceback" not in done.stderr, done.stderr


def run_chain(chain: Chain, tmp_path: Path, store_url: str | None) -> None:
    env = fresh_env(tmp_path, store_url)
    cwd = tmp_path / "work"
    cwd.mkdir()
    pending: list[Block] = []
    scripts = 0

    def flush() -> None:
        nonlocal scripts
        if pending:
            scripts += 1
            script = tmp_path / f"guide_{chain.slug.replace('-', '_')}_{scripts}.py"
            run_python(pending, script, env, cwd)
            pending.clear()

    for block in chain.blocks:
        if block.language == "python":
            pending.append(block)
        else:
            flush()
            run_bash(block, env, cwd)
    flush()


# -------------------------------------------------------------------------------- tests


def test_the_guide_has_runnable_snippets() -> None:
    """The guide exists and covers what it promises (a guard against an emptied guide)."""
    assert len(CHAINS) >= 10, [c.slug for c in CHAINS]
    blocks = [b for c in CHAINS for b in c.blocks]
    assert any(b.language == "bash" for b in blocks)
    for chain in CHAINS:
        for block in chain.blocks:
            if block.language == "bash":
                commands_of(block)  # only modelplane commands
    missing = POSTGRES_CHAINS - {chain.slug for chain in CHAINS}
    assert not missing, f"POSTGRES_CHAINS names chains the guide no longer has: {missing}"


def test_continuation_rules_are_enforced() -> None:
    """A continuing block with nothing to continue in its section is a guide error."""
    text = "## One\n\n```python\nx = 1\n```\n\n## Two\n\n<!-- guide: continues -->\n```python\n"
    text += "print(x)\n```\n"
    blocks = parse_guide(text)
    assert [b.continues for b in blocks] == [False, True]
    assert [b.section for b in blocks] == ["One", "Two"]
    with pytest.raises(ValueError, match="same section"):
        chains_of(blocks)
    with pytest.raises(ValueError, match="unknown directive"):
        parse_guide("<!-- guide: continue -->\n```python\nx = 1\n```\n")


@pytest.mark.parametrize(("chain", "backend"), CASES)
def test_guide_snippet_runs(
    chain: Chain, backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    store_url = None
    if backend == "postgres":
        store_url = request.getfixturevalue("pg_database")
        reset_postgres(store_url)
    run_chain(chain, tmp_path, store_url)
