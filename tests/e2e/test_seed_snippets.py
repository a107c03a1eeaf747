"""Every code snippet of the seed document runs, each as its own process on a fresh store.

The seed is ``shared/seed/models.md`` beside the repository (``/work/shared`` next to
``/work/main``; CI puts a copy of ``shared/`` beside its clone). Each ```python block becomes
a script: the block with ``zenml`` replaced by ``modelplane``, plus what the document leaves
to the reader, keyed below by the block's index and checked against a distinctive line of it
(so a changed seed fails loudly rather than running the wrong fill-ins):

* a prelude importing the helpers it calls but never defines, and building the state an
  earlier snippet would have left (each script starts from an empty ``MODELPLANE_HOME``);
* real steps in place of ``# Pipeline implementation...`` (a body that is only a comment is
  a syntax error);
* an epilogue that runs what the snippet defines and asserts what the document says happens.

The helpers, steps and checks themselves are in ``tests/seed_fills.py``. The ```bash block
runs as ``python -m modelplane ...``. Four snippets ZenML 0.98 itself fails run here:
``ArtifactConfig("agent_config")`` (positional name), ``save_artifact(name, value,
is_model_artifact=True)``, ``version="run-{run.id[:8]}"`` and ``run_metadata[...].value``.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SEED = Path(__file__).resolve().parents[3] / "shared" / "seed" / "models.md"
if not SEED.is_file():
    # A user's clone has nothing beside it: the reference document is a development aid, not
    # part of the project, so its snippet tests run only where it exists (the project's own
    # guide, docs/guide.md, is run by tests/e2e/test_guide.py everywhere).
    pytest.skip(
        f"the reference document {SEED} does not exist (no 'shared/' beside the repository)",
        allow_module_level=True,
    )
TIMEOUT_SECONDS = 300
#: Printed by the last line of every script: the epilogue ran to its end.
DONE = "seed snippet: all checks passed"

_FENCE = re.compile(r"^```(\w*)[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_ZENML = re.compile(r"\bzenml\b")
PLACEHOLDER = "    # Pipeline implementation..."
#: Real steps for the seed's empty training pipelines (from ``tests/seed_fills.py``).
TRAINING_BODY = (
    PLACEHOLDER + "\n"
    "    train_data, test_data = load_iris_split()\n"
    "    model = train_model(train_data)\n"
    "    evaluate_iris(model, test_data)"
)
TRAINING_STEPS = "from tests.seed_fills import evaluate_iris, load_iris_split, train_model"


@dataclass(frozen=True)
class Fill:
    """What one snippet needs to run; ``marker`` is a line it must contain (indent ignored)."""

    slug: str
    marker: str
    prelude: str = ""
    epilogue: str = ""
    #: Exact text replacements in the (translated) snippet; each must match.
    replace: tuple[tuple[str, str], ...] = ()
    #: A regular expression the script's standard output must match.
    stdout: str | None = None


FILLS: dict[int, Fill] = {
    0: Fill(
        "create_model",
        marker='    name="customer_service_agent",',
        epilogue=(
            "from tests.seed_fills import check_registered\n"
            "check_registered(\n"
            '    "customer_service_agent",\n'
            '    license="MIT",\n'
            '    description="Multi-agent system for customer service automation",\n'
            '    tags=["agent", "customer-service", "llm", "rag"],\n'
            ")"
        ),
    ),
    1: Fill(
        "implicit_registration",
        marker='        description="Classification model for the Iris dataset",',
        prelude=TRAINING_STEPS,
        replace=((PLACEHOLDER, TRAINING_BODY),),
        epilogue=(
            "from tests.seed_fills import check_implicit_registration\n"
            "check_implicit_registration(training_pipeline)"
        ),
    ),
    2: Fill(
        "explicit_version",
        marker='        version="1.0.5"',
        prelude=TRAINING_STEPS,
        replace=((PLACEHOLDER, TRAINING_BODY),),
        epilogue=(
            "from tests.seed_fills import check_explicit_version\n"
            "check_explicit_version(training_pipeline)"
        ),
    ),
    3: Fill(
        "templated_version",
        marker='        version="run-{run.id[:8]}"',
        prelude=TRAINING_STEPS,
        replace=((PLACEHOLDER, TRAINING_BODY),),
        epilogue=(
            "from tests.seed_fills import check_templated_version\n"
            "check_templated_version(training_pipeline)"
        ),
    ),
    4: Fill(
        "configure_agent",
        marker=') -> Annotated[dict, ArtifactConfig("agent_config")]:',
        prelude="from tests.seed_fills import generate_prompt_from_kb, generate_prompt_variant",
        epilogue=(
            "from tests.seed_fills import check_configure_agent\n"
            "check_configure_agent(configure_agent)"
        ),
    ),
    5: Fill(
        "promotion",
        marker="latest_model.set_stage(stage=ModelStages.STAGING)",
        prelude=(
            "from tests.seed_fills import create_iris_versions\n"
            'create_iris_versions("1.2.3", "1.3.0")  # 1.3.0 is the latest'
        ),
        epilogue="from tests.seed_fills import check_promotions\ncheck_promotions()",
    ),
    6: Fill(
        "model_mediated_inference",
        marker='        model=model.get_model_artifact("trained_model"),',
        prelude=(
            "from tests.seed_fills import load_data, train_two_and_promote_first\n"
            "# iris_classifier versions 1 and 2 trained; 1 (not the latest) in production\n"
            "production_version = train_two_and_promote_first()"
        ),
        epilogue=(
            "from tests.seed_fills import check_inference\n"
            "check_inference(inference_pipeline, production_version)"
        ),
    ),
    7: Fill(
        "log_metadata",
        marker="tool_usage_efficiency = calculate_tool_efficiency(agent_config.tools)",
        prelude=(
            "from tests.seed_fills import (\n"
            "    calculate_accuracy,\n"
            "    calculate_avg_response_time,\n"
            "    calculate_precision,\n"
            "    calculate_recall,\n"
            "    calculate_response_quality,\n"
            "    calculate_satisfaction_score,\n"
            "    calculate_tool_efficiency,\n"
            ")"
        ),
        epilogue=(
            "from tests.seed_fills import check_evaluate_agent, check_evaluate_model\n"
            "check_evaluate_model(evaluate_model)\n"
            "check_evaluate_agent(evaluate_agent)"
        ),
    ),
    8: Fill(
        "fetch_metadata",
        marker='metrics = model.run_metadata["evaluation_metrics"].value',
        prelude=(
            "from tests.seed_fills import train_iris\n"
            '# iris_classifier 1.2.3, trained and evaluated (it logs "evaluation_metrics")\n'
            'train_iris(version="1.2.3")'
        ),
        epilogue=(
            "from tests.seed_fills import check_fetched_metrics\n"
            "check_fetched_metrics(metrics)  # the dict the snippet read and printed"
        ),
        stdout=r"(?m)^Model accuracy: (0\.\d+|1\.0)$",
    ),
    9: Fill(
        "delete_model",
        marker='Client().delete_model("iris_classifier")',
        prelude=(
            "from tests.seed_fills import train_iris\n"
            "# iris_classifier with two trained versions, to be deleted\n"
            "train_iris()\n"
            "train_iris()"
        ),
        epilogue="from tests.seed_fills import check_model_deleted\ncheck_model_deleted()",
    ),
    10: Fill(
        "delete_model_version",
        marker='Client().delete_model_version("model_version_id")',
        prelude=(
            "from tests.seed_fills import first_of_two_trained_versions\n"
            '# The seed\'s placeholder "model_version_id" becomes the id of a real version:\n'
            "# version 1 of two trained iris_classifier versions.\n"
            "model_version_id = first_of_two_trained_versions()"
        ),
        replace=(
            (
                'Client().delete_model_version("model_version_id")',
                "Client().delete_model_version(model_version_id)",
            ),
        ),
        epilogue=(
            "from tests.seed_fills import check_version_deleted\n"
            "check_version_deleted(model_version_id)"
        ),
    ),
}


@dataclass(frozen=True)
class BashFill:
    slug: str
    marker: str
    #: Python run afterwards, in the same store, to check what the commands did.
    check: str


BASH_FILLS: dict[int, BashFill] = {
    0: BashFill(
        "cli_register",
        marker="zenml model register customer_service_agent",
        check=(
            "from tests.seed_fills import check_registered\n"
            "check_registered(\n"
            '    "customer_service_agent",\n'
            '    license="MIT",\n'
            '    description="Multi-agent customer service system",\n'
            "    tags=[],\n"
            ")\n"
        ),
    ),
}


# ------------------------------------------------------------------------------ helpers


def seed_blocks(language: str) -> list[str]:
    """The seed's fenced blocks of one language, in document order."""
    if not SEED.is_file():
        pytest.fail(
            f"The seed document is missing: expected {SEED} (the folder 'shared/' beside the "
            f"repository root {REPO_ROOT}); the seed snippet tests cannot run without it.",
            pytrace=False,
        )
    text = SEED.read_text(encoding="utf-8")
    return [body for lang, body in _FENCE.findall(text) if lang == language]


def has_line(block: str, line: str) -> bool:
    """Whether ``block`` has ``line`` (surrounding whitespace ignored)."""
    return line.strip() in {candidate.strip() for candidate in block.splitlines()}


def build_script(index: int, block: str, fill: Fill) -> str:
    """The runnable script for python block ``index``: prelude, translated block, epilogue."""
    if not has_line(block, fill.marker):
        pytest.fail(
            f"Python block {index} of the seed no longer contains the line {fill.marker!r} "
            f"that identifies it as '{fill.slug}'; the seed changed, update FILLS.\n"
            f"--- block {index} ---\n{block}",
            pytrace=False,
        )
    code = _ZENML.sub("modelplane", block)
    for old, new in fill.replace:
        if code.count(old) != 1:
            pytest.fail(
                f"Python block {index} ('{fill.slug}') should contain {old!r} exactly once.",
                pytrace=False,
            )
        code = code.replace(old, new)
    return "\n".join(
        [
            f"# Seed snippet {index} ({fill.slug}), from {SEED.name}, zenml -> modelplane.",
            "# --- prelude (tests/e2e/test_seed_snippets.py) ---",
            fill.prelude,
            "# --- the seed's snippet ---",
            code,
            "# --- epilogue (tests/e2e/test_seed_snippets.py) ---",
            fill.epilogue,
            f"print({DONE!r})",
            "",
        ]
    )


def fresh_env(home: Path) -> dict[str, str]:
    """The environment of a script: an empty SQLite store in ``home``, the repo importable."""
    env = dict(os.environ)
    env.pop("MODELPLANE_STORE_URL", None)
    env["MODELPLANE_HOME"] = str(home)
    env["MODELPLANE_ACTOR"] = "seed-snippets"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    return env


def run(command: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, env=env, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT_SECONDS
    )


def assert_succeeded(what: str, done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, (
        f"{what} exited with {done.returncode}\n"
        f"--- stderr ---\n{done.stderr}\n--- stdout ---\n{done.stdout}"
    )


# -------------------------------------------------------------------------------- tests


def test_every_seed_block_is_handled() -> None:
    """A snippet added to (or removed from) the seed must be added here too."""
    python = seed_blocks("python")
    assert len(python) == len(FILLS), (
        f"The seed has {len(python)} python blocks, FILLS handles {len(FILLS)}."
    )
    assert sorted(FILLS) == list(range(len(python)))
    for index, fill in FILLS.items():
        assert has_line(python[index], fill.marker), (index, fill.slug)
    bash = seed_blocks("bash")
    assert len(bash) == len(BASH_FILLS), f"The seed has {len(bash)} bash blocks."
    for index, bash_fill in BASH_FILLS.items():
        assert bash_fill.marker in bash[index], (index, bash_fill.slug)


@pytest.mark.parametrize(
    "index", sorted(FILLS), ids=[f"{i:02d}-{FILLS[i].slug}" for i in sorted(FILLS)]
)
def test_python_snippet_runs(index: int, tmp_path: Path) -> None:
    blocks = seed_blocks("python")
    assert index < len(blocks), f"The seed has no python block {index} any more."
    fill = FILLS[index]
    script = tmp_path / f"seed_snippet_{index:02d}_{fill.slug}.py"
    script.write_text(build_script(index, blocks[index], fill), encoding="utf-8")
    done = run([sys.executable, str(script)], fresh_env(tmp_path / "home"), tmp_path)
    assert_succeeded(f"Seed snippet {index} ({fill.slug}, {script})", done)
    assert done.stdout.rstrip().endswith(DONE), done.stdout
    # every output found a proper materializer (no pickle fallback warning)
    assert "ArtifactWarning" not in done.stderr, done.stderr
    if fill.stdout is not None:
        assert re.search(fill.stdout, done.stdout), (fill.stdout, done.stdout)


@pytest.mark.parametrize(
    "index", sorted(BASH_FILLS), ids=[f"{i:02d}-{BASH_FILLS[i].slug}" for i in BASH_FILLS]
)
def test_bash_snippet_runs(index: int, tmp_path: Path) -> None:
    """Each ``zenml ...`` line runs as ``python -m modelplane ...``; then the check."""
    blocks = seed_blocks("bash")
    assert index < len(blocks), f"The seed has no bash block {index} any more."
    fill = BASH_FILLS[index]
    assert fill.marker in blocks[index]
    env = fresh_env(tmp_path / "home")
    commands = [
        line for line in blocks[index].splitlines() if line.strip() and not line.startswith("#")
    ]
    assert commands
    for line in commands:
        words = shlex.split(line)
        assert words[0] == "zenml", line
        done = run([sys.executable, "-m", "modelplane", *words[1:]], env, tmp_path)
        assert_succeeded(f"`{line}` as python -m modelplane", done)
    check = tmp_path / f"seed_bash_{index:02d}_check.py"
    check.write_text(fill.check, encoding="utf-8")
    assert_succeeded(
        f"The check of bash block {index}", run([sys.executable, str(check)], env, tmp_path)
    )
